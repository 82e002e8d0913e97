package helmrepo

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxDockerConfig bounds a Docker config file.
const maxDockerConfig = 1 << 20

// dockerAuth is the credentials of one registry host in a Docker config
// file: "auth" (base64 of user:password), or username and password.
type dockerAuth struct {
	Auth     string `json:"auth"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// DockerConfigPath is the Docker config file the environment names:
// $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func DockerConfigPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker", "config.json")
}

// readDockerConfig reads the static credentials of a Docker config file
// (`docker login`'s, `helm registry login`'s, `oras login`'s), by registry
// host (host[:port]). A missing file is no credentials. Credential helpers
// (credsStore, credHelpers) are never run: gantry runs no program a file
// names.
func readDockerConfig(path string) (map[string]dockerAuth, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) || path == "" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDockerConfig+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxDockerConfig {
		return nil, fmt.Errorf("%s is over %d bytes", path, maxDockerConfig)
	}
	return parseDockerConfig(data)
}

// parseDockerConfig decodes a Docker config file's auths by host: keys
// written as URLs (https://index.docker.io/v1/) count by their host.
func parseDockerConfig(data []byte) (map[string]dockerAuth, error) {
	var cfg struct {
		Auths map[string]dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("not a Docker config file: %v", err)
	}
	out := map[string]dockerAuth{}
	for key, a := range cfg.Auths {
		host := strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
		host, _, _ = strings.Cut(host, "/")
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			user, pass, ok := strings.Cut(string(raw), ":")
			if err != nil || !ok {
				return nil, fmt.Errorf("auths[%q].auth is not base64 of user:password", key)
			}
			a.Username, a.Password = user, pass
		}
		if a.Username != "" || a.Password != "" {
			out[strings.ToLower(host)] = dockerAuth{Username: a.Username, Password: a.Password}
		}
	}
	return out, nil
}

// ociHost is the registry host[:port] of an oci:// URL ("" for others).
func ociHost(repoURL string) string {
	rest, ok := strings.CutPrefix(repoURL, "oci://")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	return strings.ToLower(host)
}
