package review

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ValidSignature checks GitHub's "sha256=HEX" HMAC of body with secret.
func ValidSignature(secret, header string, body []byte) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if secret == "" || !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Push is what gantry reads of a GitHub push event.
type Push struct {
	// Ref is the pushed ref (refs/heads/main); After the new commit.
	Ref, After string
	// FullName is owner/name.
	FullName string
	// RepoURLs are the repository's clone, SSH, Git and web URLs.
	RepoURLs []string
}

// ParsePush reads a GitHub push event payload. It never panics; a payload
// without a ref or repository URL is an error.
func ParsePush(body []byte) (*Push, error) {
	var ev struct {
		Ref        string `json:"ref"`
		After      string `json:"after"`
		Repository struct {
			FullName string `json:"full_name"`
			CloneURL string `json:"clone_url"`
			SSHURL   string `json:"ssh_url"`
			GitURL   string `json:"git_url"`
			HTMLURL  string `json:"html_url"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("push event: not JSON: %v", err)
	}
	p := &Push{Ref: ev.Ref, After: ev.After, FullName: ev.Repository.FullName}
	for _, u := range []string{ev.Repository.CloneURL, ev.Repository.SSHURL, ev.Repository.GitURL, ev.Repository.HTMLURL} {
		if u != "" {
			p.RepoURLs = append(p.RepoURLs, u)
		}
	}
	if p.Ref == "" || len(p.RepoURLs) == 0 {
		return nil, errors.New("push event: ref or repository URLs missing (is this a GitHub push payload?)")
	}
	return p, nil
}
