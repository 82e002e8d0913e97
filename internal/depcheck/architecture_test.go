package depcheck

import (
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/gantryops/gantry"

// tableRow is a row of the package table in docs/architecture.md: the
// package, and the last column (its imports of ours).
var tableRow = regexp.MustCompile("(?m)^\\| `([^`]+)` \\|.*\\| ([^|]*) \\|$")

// TestArchitectureTable: every package of the module has a row in
// docs/architecture.md, and the row's last column lists exactly the
// module's packages it imports (test files aside), so that the map of the
// house stays true of the code as packages move.
func TestArchitectureTable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, m := range tableRow.FindAllStringSubmatch(string(doc), -1) {
		rows[m[1]] = ours(strings.Split(m[2], ","))
	}
	for _, dir := range packageDirs(t, "../..") {
		rel, _ := filepath.Rel("../..", dir)
		rel = filepath.ToSlash(rel)
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			continue // tests only, or no Go files
		}
		listed, ok := rows[rel]
		switch {
		case !ok:
			t.Errorf("docs/architecture.md has no row for package %s", rel)
			continue
		case len(listed) == 1 && strings.HasPrefix(listed[0], "(tests only)"):
			continue
		}
		var imports []string
		for _, imp := range pkg.Imports {
			if after, ok := strings.CutPrefix(imp, module+"/"); ok {
				imports = append(imports, after)
			}
		}
		slices.Sort(imports)
		if !slices.Equal(listed, imports) {
			t.Errorf("docs/architecture.md lists for %s the imports %v; it imports %v", rel, listed, imports)
		}
	}
}

// ours reads the imports column: names separated by commas, "—" for none.
func ours(cells []string) []string {
	var out []string
	for _, c := range cells {
		if c = strings.TrimSpace(c); c != "" && c != "—" {
			out = append(out, c)
		}
	}
	if len(out) > 0 && strings.HasPrefix(out[0], "(tests only)") {
		return []string{"(tests only)"}
	}
	slices.Sort(out)
	return out
}

// packageDirs lists the directories of the module holding Go files,
// outside testdata and the separate tools/testcluster module.
func packageDirs(t *testing.T, root string) []string {
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", ".git", "bin", "node_modules":
				return filepath.SkipDir
			}
			if path == filepath.Join(root, "tools", "testcluster") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !slices.Contains(out, filepath.Dir(path)) {
			out = append(out, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
