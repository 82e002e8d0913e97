package pgembed

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// osUser is the unprivileged user Postgres runs as when gantry runs as root.
type osUser struct {
	name     string
	uid, gid uint32
}

func lookupUser(name string) (*osUser, error) {
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("embedded postgres: gantry runs as root, Postgres refuses to, and there is no user %q to run it as: create one (useradd --system %s) or point gantry at a database with --database-url: %w", name, name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &osUser{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
}

// own gives dir to the user after checking the user can reach it: every
// ancestor must let the user search it. Only dir itself is changed; gantry
// never alters permissions of directories it did not create for itself.
func (u *osUser) own(dir string) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		if !u.canSearch(p) {
			return fmt.Errorf("embedded postgres: %s must be reachable by user %s (uid %d), which runs Postgres, but %s does not let it in: choose another directory with GANTRY_POSTGRES_DIR, or allow it with `chmod o+x %s`, or use --database-url",
				dir, u.name, u.uid, p, p)
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	if err := os.Chown(dir, int(u.uid), int(u.gid)); err != nil {
		return fmt.Errorf("embedded postgres: give %s to user %s: %w", dir, u.name, err)
	}
	return nil
}

func (u *osUser) canSearch(dir string) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	mode := fi.Mode().Perm()
	switch {
	case st.Uid == u.uid:
		return mode&0o100 != 0
	case st.Gid == u.gid:
		return mode&0o010 != 0
	}
	return mode&0o001 != 0
}
