package main

import (
	"strings"
	"testing"
)

// fakeDatabase is what withoutDatabase asks of a store.
type fakeDatabase struct{ where, host, user, database string }

func (f fakeDatabase) Where() string { return f.where }
func (f fakeDatabase) Coordinates() (string, string, string) {
	return f.host, f.user, f.database
}

// TestWithoutDatabase: a failure comment on a pull request (public) names
// neither the review database's host or socket directory, nor its user or
// name as drivers and servers quote them; other words stay.
func TestWithoutDatabase(t *testing.T) {
	t.Parallel()
	db := fakeDatabase{where: "postgres://reviewer@db.internal:5432/gantry_prod", host: "db.internal", user: "reviewer", database: "gantry_prod"}
	embedded := fakeDatabase{where: "embedded Postgres in /var/lib/gantry/postgres", host: "/var/lib/gantry/postgres/run", user: "gantry", database: "gantry"}
	for _, tc := range []struct {
		name string
		db   fakeDatabase
		msg  string
		gone []string
		kept []string
	}{
		{"pgx connect error", db, "plan shop: connect to postgres://reviewer@db.internal:5432/gantry_prod: failed to connect to `user=reviewer database=gantry_prod`: db.internal:5432 (db.internal): dial error",
			[]string{"db.internal", "reviewer", "gantry_prod"}, []string{"plan shop: connect to (the database)", "dial error"}},
		{"server messages", db, `FATAL: password authentication failed for user "reviewer"; database "gantry_prod" does not exist; role "reviewer" does not exist`,
			[]string{"reviewer", "gantry_prod"}, []string{"password authentication failed for user"}},
		{"embedded, its user also a common word", embedded, "no stack \"shop\" in embedded Postgres in /var/lib/gantry/postgres: /var/lib/gantry/postgres/run/.s.PGSQL.5432: user=gantry dbname=gantry; the gantry.dev/stack label",
			[]string{"/var/lib/gantry", "user=gantry", "dbname=gantry"}, []string{"the gantry.dev/stack label", "no stack \"shop\" in (the database)"}},
		{"content errors untouched", db, "render deploy at 0123abcd: deploy/cm.yaml:3: metadata.labels.version must be a string",
			nil, []string{"render deploy at 0123abcd: deploy/cm.yaml:3: metadata.labels.version must be a string"}},
	} {
		got := withoutDatabase(tc.msg, tc.db)
		for _, g := range tc.gone {
			if strings.Contains(got, g) {
				t.Errorf("%s: %q still holds %q", tc.name, got, g)
			}
		}
		for _, k := range tc.kept {
			if !strings.Contains(got, k) {
				t.Errorf("%s: %q lost %q", tc.name, got, k)
			}
		}
	}
}
