package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	"k8s.io/client-go/util/flowcontrol"
)

// APF states, as learnt from responses.
const (
	apfUnknown int32 = iota
	apfYes
	apfNo
)

// adaptiveLimiter does not limit while the server enforces API Priority and
// Fairness (or has not answered yet), and becomes a token bucket once a
// response shows it does not. It replaces a probe request at start-up.
type adaptiveLimiter struct {
	ctr    *counter
	bucket flowcontrol.RateLimiter
}

func newAdaptiveLimiter(ctr *counter, qps float32, burst int) *adaptiveLimiter {
	return &adaptiveLimiter{ctr: ctr, bucket: flowcontrol.NewTokenBucketRateLimiter(qps, burst)}
}

func (l *adaptiveLimiter) limited() bool { return l.ctr.apf.Load() == apfNo }

func (l *adaptiveLimiter) TryAccept() bool { return !l.limited() || l.bucket.TryAccept() }

func (l *adaptiveLimiter) Accept() {
	if l.limited() {
		l.bucket.Accept()
	}
}

func (l *adaptiveLimiter) Stop() { l.bucket.Stop() }

func (l *adaptiveLimiter) QPS() float32 {
	if l.limited() {
		return l.bucket.QPS()
	}
	return -1
}

func (l *adaptiveLimiter) Wait(ctx context.Context) error {
	if !l.limited() {
		return nil
	}
	return l.bucket.Wait(ctx)
}

// describeTransport adds what to check to errors that mean the API server
// could not be reached.
func describeTransport(host string, err error) error {
	var netErr net.Error
	var urlErr *url.Error
	if errors.As(err, &netErr) || errors.As(err, &urlErr) {
		return fmt.Errorf("%w: cannot reach the API server at %s: check --kubeconfig / --context and that it is up", err, host)
	}
	return err
}
