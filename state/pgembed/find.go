package pgembed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNoPostgres is returned (wrapped) when no Postgres binaries can be found.
var ErrNoPostgres = errors.New("no Postgres server binaries found")

// FindPostgres returns the directory holding initdb, pg_ctl and postgres:
// $GANTRY_POSTGRES_BIN, else the directory of initdb on PATH, else the newest
// /usr/lib/postgresql/*/bin.
func FindPostgres() (string, error) {
	candidates := []string{}
	if d := os.Getenv("GANTRY_POSTGRES_BIN"); d != "" {
		candidates = append(candidates, d)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versions, func(a, b string) int { return compareVersionDirs(b, a) })
	candidates = append(candidates, versions...)
	for _, d := range candidates {
		if hasPostgres(d) {
			return d, nil
		}
	}
	return "", noPostgres("on PATH or in /usr/lib/postgresql/*/bin")
}

func noPostgres(where string) error {
	return fmt.Errorf("%w (initdb, pg_ctl and postgres) %s: install your distribution's Postgres server package (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; macOS: brew install postgresql), or point gantry at an existing database with --database-url / GANTRY_DATABASE_URL", ErrNoPostgres, where)
}

func hasPostgres(dir string) bool {
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// compareVersionDirs orders /usr/lib/postgresql/<major>/bin by major version.
func compareVersionDirs(a, b string) int {
	va, vb := filepath.Base(filepath.Dir(a)), filepath.Base(filepath.Dir(b))
	if len(va) != len(vb) {
		return len(va) - len(vb)
	}
	return strings.Compare(va, vb)
}
