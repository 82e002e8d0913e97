package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gantryops/gantry/internal/repourl"
	"github.com/gantryops/gantry/state"
)

// PayloadVersion names the generic webhook's JSON schema
// (docs/notifications.md).
const PayloadVersion = "gantry.dev/notification/v1"

// Headers of the generic webhook.
const (
	HeaderDelivery  = "X-Gantry-Delivery"
	HeaderEvent     = "X-Gantry-Event"
	HeaderSignature = "X-Gantry-Signature-256"
)

// Payload is the generic webhook's body.
type Payload struct {
	Version    string `json:"version"`
	DeliveryID string `json:"delivery_id"`
	Summary    string `json:"summary"`
	Link       string `json:"link,omitempty"`
	Event      Event  `json:"event"`
	// Plan is the event's plan, when it has one.
	Plan *Plan `json:"plan,omitempty"`
}

// Plan is what the webhook says of an event's plan.
type Plan struct {
	Repo        string   `json:"repo"`
	Commit      string   `json:"commit"`
	SourceKind  string   `json:"source_kind,omitempty"`
	Add         int      `json:"add"`
	Change      int      `json:"change"`
	Destroy     int      `json:"destroy"`
	Destructive []string `json:"destructive,omitempty"`
}

func planOf(p state.PlanContext) *Plan {
	if p.Commit == "" && p.Repo == "" {
		return nil
	}
	return &Plan{Repo: repourl.Redact(p.Repo), Commit: p.Commit, SourceKind: p.SourceKind, Add: p.Add, Change: p.Change, Destroy: p.Destroy, Destructive: p.Destructive}
}

// Event is an event as the webhook sends it.
type Event struct {
	ID      string         `json:"id"`
	Kind    string         `json:"kind"`
	At      time.Time      `json:"at"`
	Stack   string         `json:"stack"`
	Actor   string         `json:"actor"`
	PlanID  string         `json:"plan_id,omitempty"`
	ApplyID string         `json:"apply_id,omitempty"`
	Data    map[string]any `json:"data"`
}

// Webhook posts each delivery as a Payload, signed with HMAC-SHA256 of the
// body under Secret (X-Gantry-Signature-256: sha256=HEX), with the
// delivery ID (X-Gantry-Delivery) every attempt of it repeats.
type Webhook struct {
	ProviderName string
	URL          string
	Secret       []byte
	// PublicURL is gantry run's address as people reach it ("": no links).
	PublicURL string
	Client    *http.Client
}

// Name is the provider's name in gantry.yaml.
func (w *Webhook) Name() string { return w.ProviderName }

// Body is the JSON the webhook sends for d.
func (w *Webhook) Body(d state.Delivery) ([]byte, error) {
	p := Payload{Version: PayloadVersion, DeliveryID: d.ID, Summary: Summary(d.Event, d.Plan), Link: link(w.PublicURL, d.Event), Plan: planOf(d.Plan),
		Event: Event{ID: d.Event.ID, Kind: string(d.Event.Kind), At: d.Event.At.UTC(), Stack: d.Event.Stack, Actor: d.Event.Actor,
			PlanID: d.Event.PlanID, ApplyID: d.Event.ApplyID, Data: d.Event.Details}}
	if p.Event.Data == nil {
		p.Event.Data = map[string]any{}
	}
	return json.Marshal(p)
}

// Sign is the signature header's value for body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Send makes one attempt of d.
func (w *Webhook) Send(ctx context.Context, d state.Delivery) Attempt {
	body, err := w.Body(d)
	if err != nil {
		return Attempt{Err: err}
	}
	h := http.Header{"User-Agent": {"gantry"}, HeaderDelivery: {d.ID}, HeaderEvent: {string(d.Event.Kind)}}
	if len(w.Secret) > 0 {
		h.Set(HeaderSignature, Sign(w.Secret, body))
	}
	return post(ctx, w.Client, w.URL, body, h)
}

// post sends body (JSON) to target with header, and reads what an attempt
// needs of the answer: the status and Retry-After (the body is drained,
// at most 64 KiB, and dropped). Errors never quote the URL: a provider's
// URL is a secret of its own.
func post(ctx context.Context, c *http.Client, target string, body []byte, header http.Header) Attempt {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Attempt{Err: errors.New("the provider's URL: not a URL")}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if c == nil {
		c = NewClient()
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = "(the provider's URL)" // any URL: a redirect's too carries the secret path
			return Attempt{Err: ue}
		}
		return Attempt{Err: errors.New("the request to the provider failed")}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return Attempt{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
}

// NewClient is the HTTP client of every provider: a 10-second timeout,
// and no redirect followed (a redirect would carry the token or the
// secret URL to wherever it points, and turn the POST into a GET that
// "succeeds" without delivering): a 3xx is a failed attempt.
func NewClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// link is the address of the event's plan in gantry run's UI, when it
// knows its public URL and the event has a plan.
func link(public string, e state.AuditEvent) string {
	if public == "" || e.PlanID == "" {
		return ""
	}
	return strings.TrimSuffix(public, "/") + "/plans/" + e.PlanID
}
