package review

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestValidSignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"ref":"refs/heads/main"}`)
	for _, tc := range []struct {
		name, secret, header string
		want                 bool
	}{
		{"good", "s3cret", sign("s3cret", body), true},
		{"other secret", "s3cret", sign("other", body), false},
		{"no secret configured", "", sign("", body), false},
		{"sha1 header", "s3cret", "sha1=abc", false},
		{"not hex", "s3cret", "sha256=zz", false},
		{"missing", "s3cret", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidSignature(tc.secret, tc.header, body); got != tc.want {
				t.Errorf("ValidSignature = %v, want %v", got, tc.want)
			}
		})
	}
	if ValidSignature("s3cret", sign("s3cret", body), append(body, ' ')) {
		t.Error("a changed body passed")
	}
}

func TestParsePush(t *testing.T) {
	t.Parallel()
	p, err := ParsePush([]byte(`{"ref":"refs/heads/main","after":"abc","repository":{"full_name":"acme/app",
		"clone_url":"https://github.com/acme/app.git","ssh_url":"git@github.com:acme/app.git","html_url":"https://github.com/acme/app"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Push{Ref: "refs/heads/main", After: "abc", FullName: "acme/app",
		RepoURLs: []string{"https://github.com/acme/app.git", "git@github.com:acme/app.git", "https://github.com/acme/app"}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	for _, bad := range []string{``, `[]`, `{"ref":"refs/heads/main"}`, `{"repository":{"clone_url":"x"}}`, `{"ref": 3}`} {
		if _, err := ParsePush([]byte(bad)); err == nil {
			t.Errorf("ParsePush(%q) succeeded", bad)
		}
	}
}

func FuzzParsePush(f *testing.F) {
	f.Add([]byte(`{"ref":"refs/heads/main","repository":{"clone_url":"https://h/a.git"}}`))
	f.Add([]byte(`{"ref":null,"repository":[]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePush(body)
		if err == nil && (p.Ref == "" || len(p.RepoURLs) == 0) {
			t.Errorf("accepted a push without ref or URLs: %+v", p)
		}
	})
}
