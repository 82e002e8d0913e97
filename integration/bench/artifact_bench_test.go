package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gantryops/gantry/internal/helmtest"
)

// BenchmarkArtifactPlan plans an OCI artifact stack with nothing to do:
// the corpus's podinfo kustomization pushed as `flux push artifact` pushes
// it to a registry on loopback, applied once; then `gantry plan` by tag
// and by digest (best of 3 each) against kubectl diff of the same objects,
// in the same run. It reports each plan's time, its API requests, and the
// requests it sent the registry: by digest, stored, none; by tag, the
// registry's ping and one HEAD for the tag's digest per process (in
// `gantry run`, which pings once, one per reconcile).
func BenchmarkArtifactPlan(b *testing.B) {
	ns := env.Namespace(b)
	reg := helmtest.NewRegistry(b)
	files := map[string]string{}
	dir := filepath.Join("..", "..", "testdata", "corpus", "podinfo", "kustomize")
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		files[e.Name()] = string(data)
	}
	digest := reg.PushFlux(b, "manifests/podinfo", "6.14.1", files)
	url := "oci://" + reg.Host() + "/manifests/podinfo"
	dsn := env.DB.NewDatabase(b)
	work := b.TempDir()
	gantry, cacheDir := env.Gantry(b), b.TempDir()
	genv := append(os.Environ(), "KUBECONFIG="+env.Cluster.Kubeconfig, "GANTRY_DATABASE_URL="+dsn, "XDG_CACHE_HOME="+b.TempDir())
	common := []string{"--stack", "podinfo", "--namespace", ns, "--cache-dir", cacheDir}
	_, stderr, _, _, code := run(b, work, genv, gantry, append([]string{"apply", "--auto-approve", "--wait=false", "--artifact", url + ":6.14.1"}, common...)...)
	if code != 0 {
		b.Fatalf("gantry apply: %s", stderr)
	}
	plan := func(name, ref string) (measurement, int64) {
		b.Helper()
		var best measurement
		var requests int64
		for i := range 4 {
			reg.Requests.Store(0)
			_, stderr, wall, rss, code := run(b, work, genv, gantry, append([]string{"plan", "--detailed-exitcode", "--out", "plan.json", "-o", "json", "--artifact", ref}, common...)...)
			if code != 0 {
				b.Fatalf("gantry plan %s: exit %d (2: changes): %s", ref, code, stderr)
			}
			m := gantryMeasurement(b, name, 0, stderr, wall, rss)
			if i == 0 { // the first fills the memo, as any plan after an apply
				continue
			}
			if best.tool == "" || m.wall < best.wall {
				best, requests = m, reg.Requests.Load()
			}
		}
		return best, requests
	}
	byTag, tagRequests := plan("gantry plan, by tag", url+":6.14.1")
	byDigest, digestRequests := plan("gantry plan, by digest", url+"@"+digest)
	if digestRequests != 0 || tagRequests > 2 {
		b.Errorf("requests to the registry: %d by digest (want 0), %d by tag (want at most 2: the ping and the tag)", digestRequests, tagRequests)
	}
	p := readPlan(b, filepath.Join(work, "plan.json"))
	kdir := filepath.Join(work, "kubectl")
	writeManifests(b, kdir, p)
	kenv := append(os.Environ(), "KUBECONFIG="+env.Cluster.Kubeconfig)
	_, kerr, kwall, krss, kcode := run(b, work, kenv, "kubectl", "diff", "--server-side", "--field-manager=gantry", "-v=6", "--cache-dir", cacheDir, "-f", kdir)
	if kcode > 1 {
		b.Fatalf("kubectl diff: exit %d: %s", kcode, lastLines(kerr, 5))
	}
	rows := []measurement{byTag, byDigest, {tool: "kubectl diff --server-side", wall: kwall, requests: len(kubectlVerbs.FindAllString(kerr, -1)), rssKiB: krss}}
	printTable(b, fmt.Sprintf("podinfo kustomization (%d objects) as a Flux artifact, nothing to do; registry requests: %d by tag, %d by digest:", len(p.Desired), tagRequests, digestRequests), "gantry plan, by tag", rows)
	b.ReportMetric(float64(byDigest.wall.Milliseconds()), "nochange-ms")
	b.ReportMetric(float64(byDigest.requests), "nochange-requests")
	b.ReportMetric(float64(tagRequests), "registry-requests-by-tag")
	b.ReportMetric(float64(digestRequests), "registry-requests-by-digest")
	b.ReportMetric(float64(kwall)/float64(byDigest.wall), "speedup-vs-kubectl")
}
