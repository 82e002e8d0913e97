package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/hashicorp/go-hclog"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
	objs, resp := sandboxRender(req)
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
			objs, resp = nil, sandboxResponse{Error: fmt.Sprintf("the render panicked on this input: %v", r)}
		}
	}()
	storage := cacheStorage(req.Repo)
	opts := req.Options
	opts.skipPreCheck, opts.skipYAMLBounds = req.SkipCheck, req.SkipYAML
	g := &guard{}
	view := newGitFS(storage, plumbing.NewHash(req.Tree), opts, g)
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
		return nil, sandboxResponse{BytesRead: resp.BytesRead, Error: err.Error()}
	}
	return objs, resp
}

// refuseTransport is the sandbox's http.DefaultTransport.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("%s: a render may not fetch anything (remote bases are disabled)", r.URL.Redacted())
}

// renderSandboxed renders rel of the commit, a kustomization, in a
// sandbox process.
func (c *Commit) renderSandboxed(ctx context.Context, rel string, opts RenderOptions) ([]*unstructured.Unstructured, int64, error) {
	req, err := json.Marshal(sandboxRequest{Repo: c.dir, Tree: c.tree.String(), Path: rel, Options: opts, SkipCheck: opts.skipPreCheck, SkipYAML: opts.skipYAMLBounds})
	if err != nil {
		return nil, 0, err
	}
	out, err := runSandbox(ctx, req, opts)
	if err != nil {
		return nil, 0, err
	}
	resp, objs, err := readResponse(out)
	if err != nil {
		return nil, 0, fmt.Errorf("the render sandbox answered garbage: %w", err)
	}
	if resp.Error != "" {
		return nil, resp.BytesRead, errors.New(resp.Error)
	}
	if limit := maxObjects(opts); limit > 0 && resp.Objects > limit {
		return nil, resp.BytesRead, fmt.Errorf("kustomize build %s: %w", rel, tooManyObjects(limit))
	}
	decoded, err := decodeObjects(rel, objs)
	return decoded, resp.BytesRead, err
}

// readResponse splits the sandbox's output into its header and objects.
func readResponse(out []byte) (sandboxResponse, [][]byte, error) {
	var resp sandboxResponse
	header, rest, ok := bytes.Cut(out, []byte("\n"))
	if !ok {
		return resp, nil, errors.New("no header")
	}
	if err := json.Unmarshal(header, &resp); err != nil {
		return resp, nil, err
	}
	objs := make([][]byte, 0, min(resp.Objects, len(rest)))
	for range resp.Objects {
		size, body, ok := bytes.Cut(rest, []byte("\n"))
		n, err := strconv.Atoi(string(size))
		if !ok || err != nil || n < 0 || n > len(body) {
			return resp, nil, fmt.Errorf("object %d is cut short", len(objs)+1)
		}
		objs, rest = append(objs, body[:n]), body[n:]
	}
	return resp, objs, nil
}

// outputLimit bounds what a sandbox may answer: twice the bytes it may
// read, or 1 GiB when reads are not bounded.
func outputLimit(opts RenderOptions) int64 {
	if opts.MaxRenderBytes > 0 {
		return 2*opts.MaxRenderBytes + 1<<20
	}
	return 1 << 30
}

// runSandbox starts the sandbox with req on its stdin and returns its
// stdout. The process is killed (by its pid) when ctx ends, when
// opts.Timeout passes, when its memory passes opts.MaxMemoryBytes and when
// its output passes outputLimit.
func runSandbox(ctx context.Context, req []byte, opts RenderOptions) ([]byte, error) {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	exe, err := sandboxExecutable()
	if err != nil {
		return nil, fmt.Errorf("start the render sandbox: %w", err)
	}
	stdout := &cappedBuffer{limit: outputLimit(opts)}
	stderr := &cappedBuffer{limit: 64 << 10}
	newCmd := func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, exe)
		cmd.Env = []string{sandboxEnv + "=1"}
		cmd.Dir = "/"
		cmd.Stdin = bytes.NewReader(req)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		cmd.WaitDelay = 5 * time.Second
		return cmd
	}
	cmd, err := startSandbox(newCmd, logger(opts))
	if err != nil {
		return nil, fmt.Errorf("start the render sandbox: %w", err)
	}
	stdout.setKill(func() { _ = cmd.Process.Kill() })
	stop := watchMemory(cmd.Process, opts.MaxMemoryBytes)
	err = cmd.Wait()
	overMemory := stop()
	switch {
	case overMemory:
		return nil, fmt.Errorf("%w: the render used more than %d bytes of memory: render a smaller path, or split the kustomization", errRenderStopped, opts.MaxMemoryBytes)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && opts.Timeout > 0:
		return nil, fmt.Errorf("%w: the render took longer than %s", errRenderStopped, opts.Timeout)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case stdout.over:
		return nil, fmt.Errorf("%w: the rendered objects are more than %d bytes (twice the bytes a render may read): raise source.maxRenderBytes in gantry.yaml or --max-render-bytes", errRenderStopped, stdout.limit)
	case err != nil:
		return nil, fmt.Errorf("the render sandbox failed: %w: %s", err, why(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// sandboxExecutable is this program: /proc/self/exe on Linux (the running
// binary even when its file was replaced), else the path it was run from.
func sandboxExecutable() (string, error) {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe", nil
	}
	return os.Executable()
}

// startSandbox starts a command from newCmd isolated in new namespaces,
// or, where the kernel refuses them, without (logged once per process).
func startSandbox(newCmd func() *exec.Cmd, log hclog.Logger) (*exec.Cmd, error) {
	if attrs := isolatedAttrs(); attrs != nil && !namespaces.unavailable() {
		cmd := newCmd()
		cmd.SysProcAttr = attrs
		err := cmd.Start()
		if err == nil {
			return cmd, nil
		}
		namespaces.refused(log, err)
	}
	cmd := newCmd()
	cmd.SysProcAttr = plainAttrs()
	return cmd, cmd.Start()
}

// namespaces remembers that the kernel refused new namespaces: a property
// of the host, the same for every render of this process.
var namespaces nsState

type nsState struct {
	mu      sync.Mutex
	refusal error
}

func (n *nsState) unavailable() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.refusal != nil
}

func (n *nsState) refused(log hclog.Logger, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.refusal == nil {
		n.refusal = err
		log.Warn("new user and network namespaces are unavailable; rendering kustomizations in a child process without them (no PATH, no HTTP)", "error", err)
	}
}

func logger(opts RenderOptions) hclog.Logger {
	if opts.Logger == nil {
		return hclog.NewNullLogger()
	}
	return opts.Logger
}

// cappedBuffer keeps up to limit bytes; past it, it drops the rest, marks
// itself over and calls kill. (Not an embedded bytes.Buffer: io.Copy
// would use its ReadFrom and never call Write.)
type cappedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int64
	over  bool
	kill  func()
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over {
		return len(p), nil
	}
	if int64(b.buf.Len()+len(p)) > b.limit {
		b.over = true
		if b.kill != nil {
			b.kill()
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

// setKill sets what Write calls when the limit is passed.
func (b *cappedBuffer) setKill(kill func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.kill = kill
}

// Bytes returns what was kept.
func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}

// String returns what was kept.
func (b *cappedBuffer) String() string { return string(b.Bytes()) }

// why picks from a dead Go program's stderr the line saying why it died:
// a fatal error's or a panic's, else the first.
func why(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "fatal error:"); i >= 0 {
		s = s[i:]
	} else if i := strings.Index(s, "panic:"); i >= 0 {
		s = s[i:]
	}
	line, _, _ := strings.Cut(s, "\n")
	return line
}
