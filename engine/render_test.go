package engine

import "testing"

func TestAllowedRepository(t *testing.T) {
	allowed := []string{"https://charts.example.com/stable/", "oci://registry.example.com/charts"}
	for _, row := range []struct {
		repo string
		want bool
	}{
		{"https://charts.example.com/stable", true},
		{"https://charts.example.com/stable/", true},
		{"oci://registry.example.com/charts", true},
		{"https://charts.example.com/stable/../incubator", false},
		{"https://charts.example.com", false},
		{"http://charts.example.com/stable", false},
		{"oci://registry.example.com/charts/sub", false},
		{"@stable", false},
		{"file://../common", false},
		{"", false},
	} {
		if got := allowedRepository(row.repo, allowed); got != row.want {
			t.Errorf("%q: %v, want %v", row.repo, got, row.want)
		}
	}
}
