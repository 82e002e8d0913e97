package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gantryops/gantry/event"
	"github.com/gantryops/gantry/state"
)

func delivery(detail string) state.Delivery {
	return state.Delivery{ID: "d-1", Provider: "chat",
		Event: state.AuditEvent{ID: "e-1", Stack: "shop", Actor: "gantry-run", Kind: event.PlanPending, PlanID: "0c3e9a1b-1111",
			Details: map[string]any{"reason": detail}},
		Plan: state.PlanContext{Repo: "https://git.example.com/shop.git", Commit: "7b7adc7dfca1384fad0965b00e92c77ef9515097", Add: 1, Destroy: 2,
			Destructive: []string{"deletes Namespace shop"}}}
}

// TestSlackBody: Block Kit within Slack's limits however long the detail,
// cut at a rune, never mid-structure; mrkdwn escaped; the link a button.
func TestSlackBody(t *testing.T) {
	for _, detail := range []string{"destructive: deletes Namespace shop", strings.Repeat("é<&>", 5000)} {
		c := &Chat{Kind: "slack", URL: "https://hooks.slack.com/services/T0/B0/s3cret", PublicURL: "https://gantry.example.com"}
		body, err := c.Body(delivery(detail))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Text   string `json:"text"`
			Blocks []struct {
				Type string `json:"type"`
				Text *struct {
					Type, Text string
				} `json:"text"`
				Elements []struct{ Text string } `json:"elements"`
			} `json:"blocks"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if len(got.Blocks) != 4 || got.Blocks[0].Type != "header" || !strings.Contains(got.Blocks[1].Text.Text, "*Changes:* +1 ~0 -2") ||
			!strings.Contains(got.Blocks[3].Elements[0].Text, "https://gantry.example.com/plans/0c3e9a1b-1111") {
			t.Errorf("blocks: %s", body)
		}
		for _, b := range got.Blocks {
			if b.Text != nil && utf8.RuneCountInString(b.Text.Text) > slackSectionRunes || !utf8.ValidString(string(body)) {
				t.Errorf("a block over Slack's limit, or invalid UTF-8")
			}
		}
		if utf8.RuneCountInString(got.Text) > slackTextRunes || strings.Contains(string(body), "s3cret") {
			t.Error("the fallback text is over its limit, or the body holds the webhook's URL")
		}
		if strings.Contains(detail, "<") && strings.Contains(got.Blocks[1].Text.Text, "<&>") {
			t.Error("mrkdwn not escaped")
		}
	}
}

// TestTeamsBody: one Adaptive Card, the facts a FactSet, the detail cut
// to keep the message under Teams' 28 KB.
func TestTeamsBody(t *testing.T) {
	c := &Chat{Kind: "teams", URL: "https://example.webhook.office.com/s3cret", PublicURL: "https://gantry.example.com"}
	body, err := c.Body(delivery(strings.Repeat("x", 50000)))
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 28<<10 || strings.Contains(string(body), "s3cret") {
		t.Fatalf("%d bytes (limit 28 KB), or the URL in the body", len(body))
	}
	var got struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type, Version string
				Body          []map[string]any
				Actions       []map[string]any
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	a := got.Attachments[0]
	if got.Type != "message" || a.ContentType != "application/vnd.microsoft.card.adaptive" || a.Content.Type != "AdaptiveCard" ||
		a.Content.Body[1]["type"] != "FactSet" || a.Content.Actions[0]["url"] != "https://gantry.example.com/plans/0c3e9a1b-1111" {
		t.Errorf("card: %s", body[:400])
	}
}
