package source

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"

	"github.com/go-git/go-git/v5/plumbing"
)

// sandboxEnv, set in the environment of a process of any binary linking
// this package, makes that process a render sandbox (see init).
const sandboxEnv = "GANTRY_INTERNAL_RENDER_SANDBOX"

// init serves one render and exits when this process was started as a
// render sandbox. It is the one init() with an effect in gantry, and it has
// to be one: kustomize decides by the syntax of an entry that it names a
// Git repository or an http(s) file and then runs `git` or sends a request,
// and it offers no way to give it a loader without that capability. So
// Commit.Render runs kustomize in a child process that cannot fetch: the
// binary itself (/proc/self/exe), re-executed with sandboxEnv set, an empty
// environment (no PATH: kustomize finds no git), http.DefaultTransport
// refusing every request and, on Linux, new user and network namespaces
// (no network device but a loopback that is down). An init function,
// rather than a flag of main, lets every binary that links this package be
// its own sandbox, test binaries included, before anything else of the
// program runs.
func init() {
	if os.Getenv(sandboxEnv) != "1" {
		return
	}
	os.Exit(serveSandbox(os.Stdin, os.Stdout))
}

// sandboxRequest is what the parent sends the sandbox on stdin.
type sandboxRequest struct {
	Repo      string        // the bare repository of the Git cache
	Tree      string        // the commit's root tree
	Path      string        // the path to render, repository-relative
	Options   RenderOptions // the bounds
	SkipCheck bool          // tests only
	SkipYAML  bool          // tests only
	Probe     bool          // tests only: answer what the sandbox sees of its host
}

// sandboxResponse is what the sandbox answers on stdout: this as one line
// of JSON, then Objects objects, each as its length in decimal, a newline
// and its JSON as kustomize wrote it (framed, so that neither side scans
// megabytes of JSON more than once).
type sandboxResponse struct {
	Objects   int
	BytesRead int64
	Error     string
}

// maxSandboxRequest bounds what the sandbox reads from its parent.
const maxSandboxRequest = 1 << 20

// serveSandbox reads one request, renders it, and writes the response. It
// returns the exit code: 0 whenever a response was written.
func serveSandbox(in io.Reader, out io.Writer) int {
	http.DefaultTransport = refuseTransport{}
	var req sandboxRequest
	if err := json.NewDecoder(io.LimitReader(in, maxSandboxRequest)).Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "render sandbox: read request: %v\n", err)
		return 2
	}
	if m := req.Options.MaxMemoryBytes; m > 0 {
		debug.SetMemoryLimit(m / 4 * 3) // collect hard before the parent stops us
	}
	var objs [][]byte
	var resp sandboxResponse
	if req.Probe {
		objs, resp = probe()
	} else {
		objs, resp = sandboxRender(req)
	}
	w := bufio.NewWriter(out)
	err := json.NewEncoder(w).Encode(resp)
	for _, js := range objs {
		if err != nil {
			break
		}
		if _, err = fmt.Fprintf(w, "%d\n", len(js)); err == nil {
			_, err = w.Write(js)
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "render sandbox: write response: %v\n", err)
		return 2
	}
	return 0
}

// sandboxRender renders the request from the Git cache, opened read-only.
func sandboxRender(req sandboxRequest) (objs [][]byte, resp sandboxResponse) {
	defer func() {
		if r := recover(); r != nil {
			objs, resp = nil, sandboxResponse{Error: cutText(fmt.Sprintf("the render panicked on this input: %v", r), maxErrorBytes)}
		}
	}()
	storage := renderStorage(req.Repo) // the process ends with the render
	opts := req.Options
	opts.skipPreCheck, opts.skipYAMLBounds = req.SkipCheck, req.SkipYAML
	g := &guard{}
	view := newGitFS(storage, plumbing.NewHash(req.Tree), opts, g)
	view.dir = req.Repo
	root := "/" + req.Path
	if req.Path == "." {
		root = "/"
	}
	err := g.within(func() error {
		fsys, root, cleanup, err := viewFileSystem(view, g, root, opts)
		if err != nil {
			return err
		}
		defer cleanup()
		objs, err = build(fsys, root, opts)
		return err
	})
	resp = sandboxResponse{Objects: len(objs), BytesRead: g.bytesRead()}
	if err != nil {
		return nil, sandboxResponse{BytesRead: resp.BytesRead, Error: cutText(err.Error(), maxErrorBytes)}
	}
	return objs, resp
}

// refuseTransport is the sandbox's http.DefaultTransport.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("%s: a render may not fetch anything (remote bases are disabled)", r.URL.Redacted())
}

// probe answers, instead of a render, one object saying what the sandbox
// sees of its host: its user and network namespaces and its network
// interfaces. Tests compare it with what they see.
func probe() ([][]byte, sandboxResponse) {
	var p sandboxProbe
	p.UserNamespace, _ = os.Readlink("/proc/self/ns/user")
	p.NetNamespace, _ = os.Readlink("/proc/self/ns/net")
	ifaces, _ := net.Interfaces()
	for _, i := range ifaces {
		p.Interfaces = append(p.Interfaces, i.Name+" "+i.Flags.String())
	}
	js, err := json.Marshal(p)
	if err != nil {
		return nil, sandboxResponse{Error: err.Error()}
	}
	return [][]byte{js}, sandboxResponse{Objects: 1}
}

// sandboxProbe is what probe answers.
type sandboxProbe struct {
	UserNamespace string   // /proc/self/ns/user
	NetNamespace  string   // /proc/self/ns/net
	Interfaces    []string // each network interface's name and flags
}
