// Package server is the HTTP server of `gantry run`: health, readiness,
// metrics, the GitHub webhook and the JSON API, bounded in time, headers,
// bodies and connections.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/plan"
	"github.com/gantryops/gantry/plan/render"
	"github.com/gantryops/gantry/review"
	"github.com/gantryops/gantry/runner"
	"github.com/gantryops/gantry/state"
)

// Plans is what the API needs of the engine: the plans at the gate, a
// recorded plan, and a person's decision. *engine.Engine is one.
type Plans interface {
	Gates(ctx context.Context, stack string, status gate.Status, limit int) ([]*state.Gate, error)
	RecordedPlan(ctx context.Context, ref string) (*plan.Plan, error)
	Decide(ctx context.Context, d state.Decision) (*state.Gate, error)
}

// api serves the handler's routes.
type api struct {
	r     *runner.Runner
	plans Plans
	log   hclog.Logger
}

// Handler serves /healthz, /readyz, /metrics, POST /hooks/github and the
// JSON API under /api/v1/.
//
// Serve it through Server, which bounds how long a client may take; the
// handler itself bounds how many bodies are read at once.
func Handler(r *runner.Runner, plans Plans, opts Options) http.Handler {
	opts = opts.withDefaults()
	a := &api{r: r, plans: plans, log: r.Logger()}
	// Webhook deliveries (anyone may send one) and API calls (behind the
	// token) read their bodies from separate pools: a flood of unsigned
	// deliveries cannot keep an approval out.
	retry := max(time.Second, min(opts.ReadTimeout, 5*time.Second))
	hooks, calls := newBodyReader(opts.MaxConcurrentBodies, retry), newBodyReader(opts.MaxConcurrentBodies, retry)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.Metrics().Registry, promhttp.HandlerOpts{}))
	mux.Handle("POST /hooks/github", a.webhook(opts, hooks))

	apiMux := http.NewServeMux()
	apiMux.HandleFunc("GET /api/v1/stacks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"stacks": r.Status()})
	})
	apiMux.HandleFunc("POST /api/v1/stacks/{name}/reconcile", func(w http.ResponseWriter, req *http.Request) {
		if !r.Trigger(req.PathValue("name")) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no stack %q in this engine", req.PathValue("name"))})
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "triggered"})
	})
	apiMux.HandleFunc("GET /api/v1/plans", a.listPlans)
	apiMux.HandleFunc("GET /api/v1/plans/{id}", a.getPlan)
	apiMux.HandleFunc("POST /api/v1/plans/{id}/approve", a.decide(true, calls))
	apiMux.HandleFunc("POST /api/v1/plans/{id}/reject", a.decide(false, calls))
	mux.Handle("/api/", bearer(opts.Token, apiMux))
	return recovering(a.log, mux)
}

// readyz answers 200 when Ready, else 503 with a reason anyone may read:
// the detail, which can name the database's host, user and name, goes to
// the log only.
func (a *api) readyz(w http.ResponseWriter, req *http.Request) {
	err := a.r.Ready(req.Context())
	if err == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	var notYet *runner.NotReconciledError
	if errors.As(err, &notYet) {
		a.log.Debug("not ready", "reason", err)
	} else {
		a.log.Warn("not ready", "error", err)
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": publicReason(err)})
}

// publicReason is what an unauthenticated client is told of err: the
// database's trouble without its detail, a stack not reconciled yet by
// name (stack names are shown by /metrics anyway), anything else only that
// the log has it.
func publicReason(err error) string {
	var notYet *runner.NotReconciledError
	switch {
	case errors.Is(err, runner.ErrDatabaseDown):
		return runner.ErrDatabaseDown.Error() + " (the log of gantry run has the detail)"
	case errors.As(err, &notYet):
		return notYet.Error()
	}
	return "not ready (the log of gantry run has the detail)"
}

// bearer lets through requests with the token; the comparison takes the
// same time whatever the token given.
func bearer(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		given, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if token == "" || !ok || subtle.ConstantTimeCompare([]byte(given), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gantry"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized: send Authorization: Bearer TOKEN (GANTRY_API_TOKEN of gantry run)"})
			return
		}
		next.ServeHTTP(w, req)
	})
}

// GatePlan is a plan at the gate as the API shows it.
type GatePlan struct {
	PlanID         string      `json:"plan_id"`
	Stack          string      `json:"stack"`
	Status         gate.Status `json:"status"`
	Reason         string      `json:"reason"`
	Commit         string      `json:"commit"`
	Digest         string      `json:"digest"`
	Destructive    bool        `json:"destructive"`
	PendedAt       string      `json:"pended_at"`
	DecidedBy      string      `json:"decided_by,omitempty"`
	DecidedAt      string      `json:"decided_at,omitempty"`
	DecisionReason string      `json:"decision_reason,omitempty"`
}

// GatePlanOf converts a gate row for output.
func GatePlanOf(g *state.Gate) GatePlan {
	out := GatePlan{PlanID: g.PlanID, Stack: g.Stack, Status: g.Status, Reason: g.Reason, Commit: g.Commit, Digest: g.Digest,
		Destructive: g.Destructive, PendedAt: g.PendedAt.UTC().Format(timeFormat), DecidedBy: g.DecidedBy, DecisionReason: g.DecisionReason}
	if !g.DecidedAt.IsZero() {
		out.DecidedAt = g.DecidedAt.UTC().Format(timeFormat)
	}
	return out
}

const timeFormat = "2006-01-02T15:04:05Z"

// maxAPIBytes caps the body of an API call ({"actor": ..., "reason": ...}).
const maxAPIBytes = 64 << 10

func (a *api) listPlans(w http.ResponseWriter, req *http.Request) {
	status := gate.Status(req.URL.Query().Get("status"))
	gates, err := a.plans.Gates(req.Context(), req.URL.Query().Get("stack"), status, 0)
	if err != nil {
		// The detail can name the database: it goes to the log.
		a.log.Error("list plans", "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "list plans: " + runner.ErrDatabaseDown.Error() + " (the log of gantry run has the detail)"})
		return
	}
	out := make([]GatePlan, len(gates))
	for i, g := range gates {
		out[i] = GatePlanOf(g)
	}
	writeJSON(w, http.StatusOK, map[string]any{"plans": out})
}

func (a *api) getPlan(w http.ResponseWriter, req *http.Request) {
	p, err := a.plans.RecordedPlan(req.Context(), req.PathValue("id"))
	if err != nil {
		a.planError(w, "show plan", req.PathValue("id"), err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = render.JSON(w, p)
}

// decide approves or rejects a pending plan. The body may carry
// {"actor": "...", "reason": "..."}; the actor is recorded as api:ACTOR.
func (a *api) decide(approve bool, bodies *bodyReader) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		var body struct{ Actor, Reason string }
		if req.ContentLength != 0 {
			raw, err := bodies.read(w, req, maxAPIBytes)
			if err != nil {
				bodies.writeRefusal(w, refuseBody(err, maxAPIBytes))
				return
			}
			if err := json.Unmarshal(raw, &body); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error() + `: send {"actor": "...", "reason": "..."} or nothing`})
				return
			}
		}
		actor := "api"
		if body.Actor != "" {
			actor = "api:" + body.Actor
		}
		g, err := a.plans.Decide(req.Context(), state.Decision{PlanID: req.PathValue("id"), Approve: approve, Actor: actor, Reason: body.Reason})
		if err != nil {
			a.planError(w, "decide on plan", req.PathValue("id"), err)
			return
		}
		if approve {
			a.r.TriggerApproved(g)
		}
		writeJSON(w, http.StatusOK, GatePlanOf(g))
	}
}

// planError answers a failed call on plan id. What the client can act on
// is said in words that name nothing but the plan: not recorded (404), not
// pending (409), not a reference to one plan (400). Anything else (the
// database failing, mostly) is a 500 whose detail goes to the log only,
// since the store's errors name the database's host, user and name.
func (a *api) planError(w http.ResponseWriter, what, id string, err error) {
	switch {
	case errors.Is(err, state.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no plan %q is recorded (plans without changes are not)", id)})
	case errors.Is(err, state.ErrNotPending), errors.Is(err, state.ErrBadReference):
		writeJSON(w, statusOf(err), map[string]string{"error": err.Error()})
	default:
		a.log.Error(what, "plan", id, "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": what + ": " + runner.ErrDatabaseDown.Error() + " (the log of gantry run has the detail)"})
	}
}

// statusOf is the HTTP status of a client's mistake planError shows.
func statusOf(err error) int {
	if errors.Is(err, state.ErrNotPending) {
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// webhook serves GitHub push events: verified, size-capped, and turned into
// triggers of the stacks on the pushed repository.
func (a *api) webhook(opts Options, bodies *bodyReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := bodies.read(w, req, opts.MaxWebhookBytes)
		if err != nil {
			refusal := refuseBody(err, opts.MaxWebhookBytes)
			a.r.Metrics().Webhook(refusal.Result)
			bodies.writeRefusal(w, refusal)
			return
		}
		if !review.ValidSignature(opts.WebhookSecret, req.Header.Get("X-Hub-Signature-256"), body) {
			a.r.Metrics().Webhook("unauthorized")
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "X-Hub-Signature-256 does not match the body: check the webhook secret (GANTRY_WEBHOOK_SECRET)"})
			return
		}
		switch event := req.Header.Get("X-GitHub-Event"); event {
		case "ping":
			a.r.Metrics().Webhook("ignored")
			writeJSON(w, http.StatusOK, map[string]string{"status": "pong"})
			return
		case "push":
		default:
			a.r.Metrics().Webhook("ignored")
			writeJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "reason": fmt.Sprintf("event %q is not a push", event)})
			return
		}
		push, err := review.ParsePush(body)
		if err != nil {
			a.r.Metrics().Webhook("bad-request")
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		triggered := a.r.TriggerRepo(push.RepoURLs, push.Ref)
		a.log.Info("webhook push", "repository", push.FullName, "ref", push.Ref, "after", push.After, "triggered", strings.Join(triggered, ","))
		a.r.Metrics().Webhook("triggered")
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "accepted", "triggered": orEmpty(triggered)})
	})
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
