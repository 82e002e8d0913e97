package notify

import (
	"errors"
	"strings"
	"testing"

	"github.com/gantryops/gantry/stack"
)

func TestForgeFromConfig(t *testing.T) {
	env := Env{Getenv: func(k string) string { return map[string]string{"GH_TOKEN": "ghp_x", "GL_TOKEN": "glpat-y"}[k] }}
	rows := []struct {
		p              stack.NotificationProvider
		api, host, err string
	}{
		{stack.NotificationProvider{Name: "gh", Type: "github", Secret: stack.SecretRef{Env: "GH_TOKEN"}}, "https://api.github.com", "github.com", ""},
		{stack.NotificationProvider{Name: "ghe", Type: "github", Secret: stack.SecretRef{Env: "GH_TOKEN"}, APIURL: "https://ghe.example.com/api/v3"}, "https://ghe.example.com/api/v3", "ghe.example.com", ""},
		{stack.NotificationProvider{Name: "gl", Type: "gitlab", Secret: stack.SecretRef{Env: "GL_TOKEN"}}, "https://gitlab.com/api/v4", "gitlab.com", ""},
		{stack.NotificationProvider{Name: "gl", Type: "gitlab", Secret: stack.SecretRef{Env: "NOPE"}}, "", "", "secret: environment variable NOPE is empty"},
		{stack.NotificationProvider{Name: "gl", Type: "gitlab", Secret: stack.SecretRef{Env: "GL_TOKEN"}, APIURL: "ftp://x"}, "", "", "is not an http(s) URL"},
	}
	for _, row := range rows {
		ps, _, err := FromConfig(&stack.Notifications{Providers: []stack.NotificationProvider{row.p}}, "/", env)
		if row.err != "" {
			if err == nil || !strings.Contains(err.Error(), row.err) {
				t.Errorf("%+v: %v, want %q", row.p, err, row.err)
			}
			continue
		}
		s, ok := ps[0].(*Status)
		if err != nil || !ok || s.API != row.api || s.Host != row.host || s.Kind != row.p.Type || s.Token == "" {
			t.Errorf("%+v: %+v, %v", row.p, ps, err)
		}
	}
}

func TestFromConfig(t *testing.T) {
	env := Env{
		Getenv: func(k string) string {
			return map[string]string{"OPS_URL": "https://hooks.example.com/T0/s3cret-path", "OPS_KEY": " hmac-key\n", "BAD_URL": "ftp://x"}[k]
		},
		ReadFile: func(p string) ([]byte, error) {
			if p == "/etc/gantry/ops-url" {
				return []byte("https://hooks.example.com/from-file\n"), nil
			}
			return nil, errors.New("no such file")
		},
	}
	provider := func(url, secret stack.SecretRef) *stack.Notifications {
		return &stack.Notifications{Providers: []stack.NotificationProvider{{Name: "ops", Type: "webhook", URL: url, Secret: secret}},
			Routes: []stack.NotificationRoute{{Kinds: []string{"apply.*"}, Providers: []string{"ops"}}}}
	}
	rows := []struct {
		name string
		n    *stack.Notifications
		url  string
		err  string
	}{
		{name: "env", n: provider(stack.SecretRef{Env: "OPS_URL"}, stack.SecretRef{Env: "OPS_KEY"}), url: "https://hooks.example.com/T0/s3cret-path"},
		{name: "file, relative to gantry.yaml", n: provider(stack.SecretRef{File: "ops-url"}, stack.SecretRef{}), url: "https://hooks.example.com/from-file"},
		{name: "env empty", n: provider(stack.SecretRef{Env: "NOPE"}, stack.SecretRef{}), err: "notifications.providers[0].url: environment variable NOPE is empty"},
		{name: "file missing", n: provider(stack.SecretRef{File: "gone"}, stack.SecretRef{}), err: "notifications.providers[0].url: file gone: no such file"},
		{name: "not a URL, its value not quoted", n: provider(stack.SecretRef{Env: "BAD_URL"}, stack.SecretRef{}), err: "what environment variable BAD_URL holds is not an http(s) URL"},
		{name: "secret empty", n: provider(stack.SecretRef{Env: "OPS_URL"}, stack.SecretRef{Env: "NOPE"}), err: "notifications.providers[0].secret: environment variable NOPE is empty"},
	}
	for _, row := range rows {
		ps, routes, err := FromConfig(row.n, "/etc/gantry", env)
		if row.err != "" {
			if err == nil || !strings.Contains(err.Error(), row.err) || strings.Contains(err.Error(), "ftp://x") {
				t.Errorf("%s: %v, want %q (no value quoted)", row.name, err, row.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", row.name, err)
		}
		w := ps[0].(*Webhook)
		if w.URL != row.url || w.Name() != "ops" || len(routes) != 1 || routes[0].Providers[0] != "ops" {
			t.Errorf("%s: %+v %+v", row.name, w, routes)
		}
		if row.name == "env" && string(w.Secret) != "hmac-key" {
			t.Errorf("secret %q, want it trimmed", w.Secret)
		}
	}
}
