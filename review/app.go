package review

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/google/go-github/v82/github"
)

// AppAuth authenticates as an installation of a GitHub App: a JWT signed
// with the App's private key buys a short-lived installation token.
type AppAuth struct {
	// AppID and InstallationID name the App and its installation on the
	// repository's owner.
	AppID, InstallationID int64
	// Key is the App's private key.
	Key *rsa.PrivateKey
	// Now is the clock the JWT is dated by; nil: time.Now.
	Now func() time.Time
}

// ParseAppKey reads a GitHub App private key (PEM, PKCS#1 as GitHub issues
// them, or PKCS#8).
func ParseAppKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("GitHub App private key: not PEM: give the .pem file GitHub issued")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("GitHub App private key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("GitHub App private key: not an RSA key")
	}
	return rk, nil
}

// JWT returns the App's JSON Web Token (RS256), valid for 9 minutes and
// dated a minute back against clock skew, as GitHub documents.
func (a *AppAuth) JWT() (string, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	t := now().Unix()
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, err := json.Marshal(map[string]any{"iat": t - 60, "exp": t + 540, "iss": fmt.Sprint(a.AppID)})
	if err != nil {
		return "", err
	}
	signed := header + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, a.Key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign the GitHub App JWT: %w", err)
	}
	return signed + "." + enc.EncodeToString(sig), nil
}

// installationToken exchanges the App's JWT for an installation token,
// and asks GitHub (GET /app) for the App's slug: the installation's
// comments are written by its bot user, SLUG[bot].
func (a *AppAuth) installationToken(ctx context.Context, api *url.URL, hc *http.Client) (string, Identity, error) {
	jwt, err := a.JWT()
	if err != nil {
		return "", Identity{}, err
	}
	c := github.NewClient(hc).WithAuthToken(jwt)
	c.BaseURL = api
	app, _, err := c.Apps.Get(ctx, "")
	if err != nil {
		return "", Identity{}, fmt.Errorf("GitHub App %d: GET /app: %w: check --app-id and the App's private key", a.AppID, err)
	}
	if app.GetSlug() == "" || app.GetID() != a.AppID {
		return "", Identity{}, fmt.Errorf("GitHub App %d: GET /app answered App %d %q", a.AppID, app.GetID(), app.GetSlug())
	}
	tok, _, err := c.Apps.CreateInstallationToken(ctx, a.InstallationID, nil)
	if err != nil {
		return "", Identity{}, fmt.Errorf("GitHub App %d: installation token for installation %d: %w", a.AppID, a.InstallationID, err)
	}
	if tok.GetToken() == "" {
		return "", Identity{}, fmt.Errorf("GitHub App %d: installation %d returned no token", a.AppID, a.InstallationID)
	}
	return tok.GetToken(), botIdentity(app.GetSlug(), a.AppID), nil
}
