package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gantryops/gantry/internal/repourl"
	"github.com/gantryops/gantry/state"
)

// message is what a chat message says of a delivery, whatever the chat:
// a title, the facts, the reason or error, the link.
type message struct {
	Title  string
	Facts  [][2]string
	Detail string
	Link   string
}

// messageOf builds the message of d.
func messageOf(d state.Delivery, public string) message {
	e, p := d.Event, d.Plan
	title, ok := phrases[e.Kind]
	if !ok {
		title = string(e.Kind)
	}
	m := message{Title: e.Stack + ": " + title, Link: link(public, e)}
	m.Facts = append(m.Facts, [2]string{"Stack", e.Stack}, [2]string{"Event", string(e.Kind)})
	if e.PlanID != "" {
		m.Facts = append(m.Facts, [2]string{"Plan", e.PlanID})
	}
	if p.Commit != "" {
		m.Facts = append(m.Facts, [2]string{"Source", repourl.Redact(p.Repo) + " at " + short12(p.Commit)})
		if changeKinds[e.Kind] {
			m.Facts = append(m.Facts, [2]string{"Changes", fmt.Sprintf("+%d ~%d -%d", p.Add, p.Change, p.Destroy)})
		}
	}
	if e.Actor != "" {
		m.Facts = append(m.Facts, [2]string{"By", e.Actor})
	}
	for _, key := range []string{"reason", "error"} {
		if v, ok := e.Details[key].(string); ok && v != "" {
			m.Detail = v
			break
		}
	}
	if len(p.Destructive) > 0 && e.Kind == "plan.pending" && !strings.Contains(m.Detail, p.Destructive[0]) {
		m.Detail = strings.TrimSpace(m.Detail + "\nDestructive: " + strings.Join(p.Destructive, "; "))
	}
	return m
}

// cut shortens s to at most n runes, ending with "…" when it was longer:
// strings are cut, never the JSON around them.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Slack's limits (Block Kit): a header's text, a section's text, the
// fallback text.
const (
	slackHeaderRunes  = 150
	slackSectionRunes = 3000
	slackTextRunes    = 3000
)

// slackBody is the incoming webhook's JSON: a header, the facts, the
// detail and the link as Block Kit sections, and the summary as the
// fallback text.
func slackBody(m message, summary string) ([]byte, error) {
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type block struct {
		Type     string `json:"type"`
		Text     *text  `json:"text,omitempty"`
		Elements []text `json:"elements,omitempty"`
	}
	var facts []string
	for _, f := range m.Facts {
		facts = append(facts, "*"+f[0]+":* "+slackEscape(f[1]))
	}
	blocks := []block{
		{Type: "header", Text: &text{"plain_text", cut(m.Title, slackHeaderRunes)}},
		{Type: "section", Text: &text{"mrkdwn", cut(strings.Join(facts, "\n"), slackSectionRunes)}},
	}
	if m.Detail != "" {
		blocks = append(blocks, block{Type: "section", Text: &text{"mrkdwn", cut("```"+slackEscape(strings.ReplaceAll(m.Detail, "```", "'''"))+"```", slackSectionRunes)}})
	}
	if m.Link != "" {
		blocks = append(blocks, block{Type: "context", Elements: []text{{"mrkdwn", "<" + m.Link + "|Open the plan>"}}})
	}
	return json.Marshal(struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{cut(slackEscape(summary), slackTextRunes), blocks})
}

// slackEscape escapes what Slack's mrkdwn reads as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Teams' limit: a message of at most 28 KB; the detail is cut to leave room.
const teamsDetailRunes = 8000

// teamsBody is the incoming webhook's JSON: a message with one Adaptive
// Card (version 1.4): the title, the facts as a FactSet, the detail, and
// an action opening the plan.
func teamsBody(m message) ([]byte, error) {
	type fact struct {
		Title string `json:"title"`
		Value string `json:"value"`
	}
	var facts []fact
	for _, f := range m.Facts {
		facts = append(facts, fact{f[0], cut(f[1], 500)})
	}
	body := []map[string]any{
		{"type": "TextBlock", "text": cut(m.Title, 200), "weight": "Bolder", "size": "Medium", "wrap": true},
		{"type": "FactSet", "facts": facts},
	}
	if m.Detail != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": cut(m.Detail, teamsDetailRunes), "wrap": true, "fontType": "Monospace"})
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard", "version": "1.4", "body": body,
	}
	if m.Link != "" {
		card["actions"] = []map[string]any{{"type": "Action.OpenUrl", "title": "Open the plan", "url": m.Link}}
	}
	return json.Marshal(map[string]any{
		"type": "message",
		"attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"content":     card,
		}},
	})
}

// Chat posts deliveries to a Slack or Microsoft Teams incoming webhook
// (its URL is its secret: it is never logged or quoted in errors).
type Chat struct {
	ProviderName string
	// Kind is "slack" or "teams".
	Kind      string
	URL       string
	PublicURL string
	Client    *http.Client
}

// Name is the provider's name in gantry.yaml.
func (c *Chat) Name() string { return c.ProviderName }

// Body is the JSON the chat gets for d.
func (c *Chat) Body(d state.Delivery) ([]byte, error) {
	m := messageOf(d, c.PublicURL)
	if c.Kind == "teams" {
		return teamsBody(m)
	}
	return slackBody(m, Summary(d.Event, d.Plan))
}

// Send makes one attempt of d.
func (c *Chat) Send(ctx context.Context, d state.Delivery) Attempt {
	body, err := c.Body(d)
	if err != nil {
		return Attempt{Err: err}
	}
	return post(ctx, c.Client, c.URL, body, nil)
}
