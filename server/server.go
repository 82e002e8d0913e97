package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gantryops/gantry/internal/defaults"
	"github.com/gantryops/gantry/runner"
)

// Options configures the HTTP server of `gantry run`. A zero field
// takes its value from DefaultOptions: the server never runs without
// a timeout or a cap.
type Options struct {
	// Token protects the JSON API (Authorization: Bearer TOKEN, compared in
	// constant time). Empty: the API answers 401 to everything.
	Token string
	// WebhookSecret verifies GitHub's X-Hub-Signature-256. Empty: the
	// webhook answers 401 to everything (an unverified trigger is refused).
	WebhookSecret string
	// MaxWebhookBytes caps a webhook body; larger ones get 413.
	MaxWebhookBytes int64
	// ReadHeaderTimeout bounds reading a request's headers; a client slower
	// than that has its connection closed.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, headers and body: a body
	// still arriving then is cut off (408).
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its response. gantry's longest responses (a recorded plan as JSON,
	// the metrics) are written in well under a second on a working network.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection idle that long.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers (larger: 431).
	MaxHeaderBytes int
	// MaxConcurrentBodies caps the request bodies (webhook deliveries, API
	// calls with a body) read at once; a request arriving while that many
	// are being read gets 503 with Retry-After instead of waiting.
	MaxConcurrentBodies int
	// MaxConnections caps the connections open at once (LimitListener):
	// one more is closed as soon as it is accepted.
	MaxConnections int
}

// DefaultOptions caps webhook bodies at 1 MiB (a push payload is a
// few kilobytes; GitHub's own cap is 25 MB) and 16 read at once; headers
// at 64 KiB, read within 10 s; a whole request within 30 s (GitHub gives
// a delivery 10 s); a response within 60 s; idle connections 2 minutes.
func DefaultOptions() Options {
	return Options{MaxWebhookBytes: 1 << 20, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, MaxConcurrentBodies: 16,
		MaxConnections: 512}
}

// withDefaults fills the zero fields of o from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	o.MaxWebhookBytes = defaults.Positive(o.MaxWebhookBytes, d.MaxWebhookBytes)
	o.ReadHeaderTimeout = defaults.Positive(o.ReadHeaderTimeout, d.ReadHeaderTimeout)
	o.ReadTimeout = defaults.Positive(o.ReadTimeout, d.ReadTimeout)
	o.WriteTimeout = defaults.Positive(o.WriteTimeout, d.WriteTimeout)
	o.IdleTimeout = defaults.Positive(o.IdleTimeout, d.IdleTimeout)
	o.MaxHeaderBytes = defaults.Positive(o.MaxHeaderBytes, d.MaxHeaderBytes)
	o.MaxConcurrentBodies = defaults.Positive(o.MaxConcurrentBodies, d.MaxConcurrentBodies)
	o.MaxConnections = defaults.Positive(o.MaxConnections, d.MaxConnections)
	return o
}

// New returns the HTTP server of `gantry run`: Handler(r, plans, opts) behind
// opts' timeouts and header cap. Serve it on LimitListener(ln,
// opts.MaxConnections); Shutdown ends it.
func New(r *runner.Runner, plans Plans, opts Options) *http.Server {
	opts = opts.withDefaults()
	return &http.Server{
		Handler:           Handler(r, plans, opts),
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          r.Logger().Named("http").StandardLogger(nil),
	}
}

// errBusy: as many bodies as allowed are being read already.
var errBusy = errors.New("too many requests with a body at once")

// bodyReader reads request bodies, at most a fixed number at once.
type bodyReader struct {
	slots chan struct{}
	// retryAfter is what a refused client is told to wait.
	retryAfter time.Duration
}

func newBodyReader(max int, retryAfter time.Duration) *bodyReader {
	return &bodyReader{slots: make(chan struct{}, max), retryAfter: retryAfter}
}

// read returns the whole body of req, at most limit bytes. A body declared
// larger (Content-Length) is refused before it takes a slot. It does not
// wait for a slot: with every slot taken it returns errBusy at once.
func (b *bodyReader) read(w http.ResponseWriter, req *http.Request, limit int64) ([]byte, error) {
	if req.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	select {
	case b.slots <- struct{}{}:
	default:
		return nil, errBusy
	}
	defer func() { <-b.slots }()
	return io.ReadAll(http.MaxBytesReader(w, req.Body, limit))
}

// bodyRefusal is the answer to a body that could not be read, and the
// webhook metric's result for it.
type bodyRefusal struct {
	Code   int
	Result string
	Error  string
}

// refuseBody says how to answer a body read that failed with err.
func refuseBody(err error, limit int64) bodyRefusal {
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.Is(err, errBusy):
		return bodyRefusal{http.StatusServiceUnavailable, "busy", "too many requests with a body at once: retry later"}
	case errors.As(err, &tooLarge):
		return bodyRefusal{http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("body larger than %d bytes", limit)}
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return bodyRefusal{http.StatusRequestTimeout, "timeout", "the body did not arrive within the server's read timeout"}
	}
	return bodyRefusal{http.StatusBadRequest, "bad-request", "read body: " + err.Error()}
}

// writeRefusal answers a body that could not be read; the connection is
// closed, since the rest of the body may still be on its way.
func (b *bodyReader) writeRefusal(w http.ResponseWriter, ref bodyRefusal) {
	if ref.Code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(int(b.retryAfter.Round(time.Second)/time.Second)))
	}
	w.Header().Set("Connection", "close")
	writeJSON(w, ref.Code, map[string]string{"error": ref.Error})
}

// LimitListener returns ln accepting at most max connections open at once:
// one more is closed as soon as it is accepted, so that a client holding
// connections open (each within the server's timeouts) cannot exhaust the
// process's file descriptors, and the next client is told at once rather
// than left waiting in the kernel's backlog.
func LimitListener(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		max = DefaultOptions().MaxConnections
	}
	return &limitListener{Listener: ln, slots: make(chan struct{}, max)}
}

type limitListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			_ = c.Close()
		}
	}
}

// limitedConn gives its slot back when closed, once.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
