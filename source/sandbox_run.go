package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// renderSandboxed renders rel of the commit, a kustomization or a Helm
// chart, in a sandbox process.
func (c *Commit) renderSandboxed(ctx context.Context, rel string, opts RenderOptions) ([]*unstructured.Unstructured, int64, error) {
	req := sandboxRequest{Repo: c.dir, Tree: c.tree.String(), Path: rel, Options: opts, SkipCheck: opts.skipPreCheck, SkipYAML: opts.skipYAMLBounds}
	var resp sandboxResponse
	var objs []*unstructured.Unstructured
	err := runSandbox(ctx, req, opts, func(out *bufio.Reader) error {
		var err error
		resp, objs, err = readResponse(out, rel, maxObjects(opts), outputLimit(opts))
		return err
	})
	return objs, resp.BytesRead, err
}

// maxResponseHeader bounds the first line of the sandbox's answer (its
// error is cut to maxErrorBytes before it is written).
const maxResponseHeader = 64 << 10

// readResponse reads the sandbox's answer as it arrives: the header, then
// each object, decoded and validated before the next is read, so that only
// the decoded objects are kept, never the whole answer. An error of the
// render is returned as an error. The sandbox is not trusted to keep to
// the protocol: no more than limit objects (0: any), none larger than
// maxBytes.
func readResponse(out *bufio.Reader, rel string, limit int, maxBytes int64) (sandboxResponse, []*unstructured.Unstructured, error) {
	var resp sandboxResponse
	header, err := out.ReadSlice('\n')
	if err == nil {
		err = json.Unmarshal(header, &resp)
	}
	if err != nil {
		return resp, nil, garbage(fmt.Errorf("header: %w", err))
	}
	if resp.Error != "" {
		return resp, nil, errors.New(resp.Error)
	}
	if limit > 0 && resp.Objects > limit {
		return resp, nil, fmt.Errorf("render %s: %w", rel, tooManyObjects(limit))
	}
	objs := make([]*unstructured.Unstructured, 0, min(resp.Objects, 1024))
	var js []byte // reused: decoding copies what it keeps
	for i := range resp.Objects {
		line, err := out.ReadSlice('\n')
		n, aerr := strconv.Atoi(strings.TrimSuffix(string(line), "\n"))
		if err != nil || aerr != nil || n < 0 || int64(n) > maxBytes {
			return resp, nil, garbage(fmt.Errorf("object %d: no length, or one over %d bytes", i+1, maxBytes))
		}
		if cap(js) < n {
			js = make([]byte, n)
		}
		js = js[:n]
		if _, err := io.ReadFull(out, js); err != nil {
			return resp, nil, garbage(fmt.Errorf("object %d is cut short: %w", i+1, err))
		}
		u, err := decodeObject(js)
		if err != nil {
			return resp, nil, fmt.Errorf("render %s: object %d (%s): %w", display(rel), i+1, objectName(js), err)
		}
		objs = append(objs, u)
	}
	if _, err := out.ReadByte(); !errors.Is(err, io.EOF) {
		return resp, nil, garbage(errors.New("more after the last object"))
	}
	return resp, objs, nil
}

// errGarbage marks an answer of the sandbox that does not follow the
// protocol: unless the sandbox was stopped for a bound, a bug.
var errGarbage = errors.New("the render sandbox answered garbage")

func garbage(err error) error { return fmt.Errorf("%w: %w", errGarbage, err) }

// outputLimit bounds what a sandbox may answer: the bytes a render may
// read, or 1 GiB when reads are not bounded. The objects this process
// keeps, decoded, take about as much memory as their JSON.
func outputLimit(opts RenderOptions) int64 {
	if opts.MaxRenderBytes > 0 {
		return opts.MaxRenderBytes
	}
	return 1 << 30
}

// runSandbox starts the sandbox with req on its stdin and passes its
// stdout to consume as it arrives. The process is killed (by its pid) when
// ctx ends, when opts.Timeout passes, when its memory passes
// opts.MaxMemoryBytes, when its output passes outputLimit, and when
// consume fails.
func runSandbox(ctx context.Context, req sandboxRequest, opts RenderOptions, consume func(*bufio.Reader) error) error {
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	in, err := json.Marshal(req)
	if err != nil {
		return err
	}
	exe, err := sandboxExecutable()
	if err != nil {
		return fmt.Errorf("start the render sandbox: %w", err)
	}
	stderr := &cappedBuffer{limit: 64 << 10}
	var stdout io.ReadCloser
	newCmd := func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, exe)
		cmd.Env = []string{sandboxEnv + "=1"}
		cmd.Dir = "/"
		cmd.Stdin, cmd.Stderr = bytes.NewReader(in), stderr
		cmd.WaitDelay = 5 * time.Second
		stdout, _ = cmd.StdoutPipe() // fails only when Stdout is set
		return cmd
	}
	cmd, err := startSandbox(ctx, newCmd, logger(opts))
	if err != nil {
		if stopped := stoppedBy(ctx, opts); stopped != nil {
			return stopped
		}
		return fmt.Errorf("start the render sandbox: %w", err)
	}
	stop := watchMemory(cmd.Process, opts.MaxMemoryBytes)
	out := &limitedReader{r: stdout, left: outputLimit(opts)}
	consumed := consume(bufio.NewReaderSize(out, maxResponseHeader))
	if consumed != nil {
		_ = cmd.Process.Kill() // by pidfd where the kernel has them: never another process
	}
	err = cmd.Wait()
	overMemory := stop()
	stopped := stoppedBy(ctx, opts)
	switch {
	case overMemory:
		return fmt.Errorf("%w: the render used more than %d bytes of memory: render a smaller path, or split the kustomization (or the chart)", errRenderStopped, opts.MaxMemoryBytes)
	case stopped != nil:
		return stopped
	case out.over:
		return fmt.Errorf("%w: the rendered objects are more than %d bytes (the bytes a render may read): raise source.maxRenderBytes in gantry.yaml or --max-render-bytes", errRenderStopped, outputLimit(opts))
	case consumed != nil && !errors.Is(consumed, errGarbage):
		return consumed // the render's error, or an object refused
	case err != nil:
		return fmt.Errorf("the render sandbox failed: %w: %s", err, why(stderr.String()))
	}
	return consumed
}

// stoppedBy returns the error of a render whose context ended: its
// timeout named, or the context's error.
func stoppedBy(ctx context.Context, opts RenderOptions) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && opts.Timeout > 0:
		return fmt.Errorf("%w: the render took longer than %s", errRenderStopped, opts.Timeout)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return nil
}

// limitedReader reads from r until left bytes have been read, then fails,
// marking itself over.
type limitedReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.over = true
		return 0, errors.New("the sandbox's output is over its limit")
	}
	n, err := l.r.Read(p[:min(int64(len(p)), l.left)])
	l.left -= int64(n)
	return n, err
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
// or, where the kernel refuses them for good, without (logged once per
// process). Any other failure fails this render only: a context that
// ended, a fork the kernel could not do now (EAGAIN, ENOMEM) say nothing
// of namespaces.
func startSandbox(ctx context.Context, newCmd func() *exec.Cmd, log hclog.Logger) (*exec.Cmd, error) {
	if attrs := isolatedAttrs(); attrs != nil && !namespaces.unavailable() {
		cmd := newCmd()
		cmd.SysProcAttr = attrs
		err := cmd.Start()
		if err == nil {
			return cmd, nil
		}
		if ctx.Err() != nil || !namespacesRefused(err) {
			return nil, err
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

// cappedBuffer keeps up to limit bytes and drops the rest. (Not an
// embedded bytes.Buffer: io.Copy would use its ReadFrom and never call
// Write.)
type cappedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// String returns what was kept.
func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

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
