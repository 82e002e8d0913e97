package source

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Auth holds the credentials a Fetcher offers to remotes. HTTPS remotes get
// Token, or Username and Password, as HTTP basic auth; SSH remotes get the key
// in SSHKeyFile and check the server against KnownHostsFile. Plain http://
// remotes get no credentials unless FetchOptions.InsecureHTTPCredentials
// names them, and git:// remotes never do (see httpCredentials). Values are
// never logged or included in errors.
type Auth struct {
	// Username for HTTPS basic auth; with only Token set, "x-access-token" is
	// sent, which GitHub, GitLab, Gitea and Bitbucket all accept with a token.
	Username string
	// Password for HTTPS basic auth.
	Password string
	// Token is a personal or app access token for HTTPS; it wins over Password.
	Token string
	// SSHKeyFile is a private key in PEM or OpenSSH format. Empty: the SSH agent.
	SSHKeyFile string
	// SSHKeyPassphrase decrypts SSHKeyFile when it is encrypted.
	SSHKeyPassphrase string
	// KnownHostsFile lists the SSH host keys to trust. Empty: SSH_KNOWN_HOSTS,
	// then ~/.ssh/known_hosts. Host keys are always verified.
	KnownHostsFile string
}

// AuthFromEnv reads credentials from GANTRY_GIT_TOKEN, GANTRY_GIT_USERNAME,
// GANTRY_GIT_PASSWORD, GANTRY_GIT_SSH_KEY, GANTRY_GIT_SSH_KEY_PASSPHRASE and
// GANTRY_GIT_KNOWN_HOSTS. Environment variables keep secrets out of shell
// history and process listings, which flags would not.
func AuthFromEnv() Auth {
	return Auth{
		Username:         os.Getenv("GANTRY_GIT_USERNAME"),
		Password:         os.Getenv("GANTRY_GIT_PASSWORD"),
		Token:            os.Getenv("GANTRY_GIT_TOKEN"),
		SSHKeyFile:       os.Getenv("GANTRY_GIT_SSH_KEY"),
		SSHKeyPassphrase: os.Getenv("GANTRY_GIT_SSH_KEY_PASSPHRASE"),
		KnownHostsFile:   os.Getenv("GANTRY_GIT_KNOWN_HOSTS"),
	}
}

// merge returns a with the empty HTTPS fields filled from b.
func (a Auth) merge(b Auth) Auth {
	if a.Username == "" {
		a.Username = b.Username
	}
	if a.Password == "" {
		a.Password = b.Password
	}
	return a
}

// hasHTTP reports whether a holds credentials for HTTP remotes.
func (a Auth) hasHTTP() bool { return a.Token != "" || a.Username != "" || a.Password != "" }

// withoutHTTP returns a without its HTTP credentials.
func (a Auth) withoutHTTP() Auth {
	a.Token, a.Username, a.Password = "", "", ""
	return a
}

// httpCredentials decides whether HTTP credentials may be offered to a
// remote whose URL has scheme: always over https; over plain http only when
// allowed for that remote explicitly (anyone on the path reads them, and
// can answer in the server's name); never over git:// (the git protocol has
// no authentication) or to any other scheme.
func httpCredentials(scheme string, allowInsecureHTTP bool) bool {
	switch scheme {
	case "https":
		return true
	case "http":
		return allowInsecureHTTP
	}
	return false
}

// remoteScheme is the scheme of a normalised remote URL: "ssh" for an
// scp-like address.
func remoteScheme(remoteURL string) string {
	if isSCPLike(remoteURL) {
		return "ssh"
	}
	if u, err := url.Parse(remoteURL); err == nil {
		return strings.ToLower(u.Scheme)
	}
	return ""
}

// method returns the go-git auth method for remoteURL, or nil for none.
// The caller has withheld HTTP credentials from remotes that must not get
// them (httpCredentials).
func (a Auth) method(remoteURL string) (transport.AuthMethod, error) {
	switch remoteScheme(remoteURL) {
	case "file", "git":
		return nil, nil
	case "ssh":
		return a.sshMethod(remoteURL)
	}
	switch {
	case a.Token != "":
		user := a.Username
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: a.Token}, nil
	case a.Username != "" || a.Password != "":
		return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
	}
	return nil, nil
}

func (a Auth) sshMethod(remoteURL string) (transport.AuthMethod, error) {
	user := "git"
	if u, err := url.Parse(remoteURL); err == nil && u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	} else if i := strings.Index(remoteURL, "@"); isSCPLike(remoteURL) && i > 0 {
		user = remoteURL[:i]
	}
	var files []string
	if a.KnownHostsFile != "" {
		files = []string{a.KnownHostsFile}
	}
	db, err := gitssh.NewKnownHostsDb(files...)
	if err != nil {
		return nil, fmt.Errorf("SSH known_hosts: %w: set GANTRY_GIT_KNOWN_HOSTS to a known_hosts file holding the server's key", err)
	}
	if a.SSHKeyFile == "" {
		m, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, fmt.Errorf("SSH: no key file given and no SSH agent: set GANTRY_GIT_SSH_KEY: %w", err)
		}
		m.HostKeyCallback = db.HostKeyCallback()
		return m, nil
	}
	m, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, a.SSHKeyPassphrase)
	if err != nil {
		return nil, fmt.Errorf("SSH key %s: %w", a.SSHKeyFile, err)
	}
	m.HostKeyCallback = db.HostKeyCallback()
	return m, nil
}

// credentials returns the credentials to offer remoteURL (the configured
// ones with those from its URL), without HTTP credentials where they must
// not go (httpCredentials); withheld says some were held back.
func (f *Fetcher) credentials(remoteURL string, urlAuth Auth) (creds Auth, withheld bool) {
	creds = f.opts.Auth.merge(urlAuth)
	scheme := remoteScheme(remoteURL)
	if scheme == "ssh" || scheme == "file" || !creds.hasHTTP() || httpCredentials(scheme, f.insecureHTTP[remoteURL]) {
		return creds, false
	}
	f.log.Debug("credentials withheld from a remote without TLS", "remote", redact(remoteURL), "scheme", scheme)
	return creds.withoutHTTP(), true
}
