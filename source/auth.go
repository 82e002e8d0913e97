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
// in SSHKeyFile and check the server against KnownHostsFile. Values are never
// logged or included in errors.
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

// method returns the go-git auth method for remoteURL, or nil for none.
func (a Auth) method(remoteURL string) (transport.AuthMethod, error) {
	if strings.HasPrefix(remoteURL, "file://") {
		return nil, nil
	}
	if isSCPLike(remoteURL) || strings.HasPrefix(remoteURL, "ssh://") {
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
