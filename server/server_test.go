package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/internal/syncbuf"
	"github.com/gantryops/gantry/runner"
	"github.com/gantryops/gantry/state"
)

// serve opens a store on a database of its own, builds the runner's server
// with opts and serves it on a loopback TCP port until the test ends. It
// returns the address, the runner and its log.
func serve(t *testing.T, opts Options) (addr string, r *runner.Runner, log *syncbuf.Buffer) {
	t.Helper()
	store, err := state.Open(context.Background(), state.Options{DatabaseURL: pg.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	return serveStore(t, store, opts)
}

func serveStore(t *testing.T, store *state.Store, opts Options) (string, *runner.Runner, *syncbuf.Buffer) {
	t.Helper()
	log := &syncbuf.Buffer{}
	logger := hclog.New(&hclog.LoggerOptions{Output: log, Level: hclog.Debug})
	e := engine.New(store, nil, engine.Options{Logger: logger})
	r := runner.New(e, runner.Options{Logger: logger})
	srv := New(r, e, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(LimitListener(ln, opts.MaxConnections)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), r, log
}

// fastOptions are server options with timeouts short enough for tests.
func fastOptions() Options {
	o := DefaultOptions()
	o.WebhookSecret = "s3cret"
	o.Token = "tok"
	o.ReadHeaderTimeout = 500 * time.Millisecond
	o.ReadTimeout = time.Second
	o.WriteTimeout = 2 * time.Second
	o.IdleTimeout = time.Second
	return o
}

// trickle sends head on a new connection, then the body one byte per
// 100 ms, until the server answers or closes, or 8 s have passed. It
// returns how long the server took and the status line it answered
// with ("" when it closed without answering).
func trickle(t *testing.T, addr, head string, body []byte) (time.Duration, string) {
	t.Helper()
	took, status, err := trickleConn(addr, head, body)
	if err != nil {
		t.Fatal(err)
	}
	return took, status
}

func trickleConn(addr, head string, body []byte) (time.Duration, string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		return 0, "", err
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, b := range body {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(start.Add(8 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0, "", fmt.Errorf("the server still held the connection after %s", time.Since(start).Round(time.Millisecond))
	}
	return time.Since(start), strings.TrimSpace(line), nil
}

// TestServerCutsOffSlowBodies: a webhook or API body trickled at a byte
// per 100 ms is cut off once the read timeout has passed, whatever its
// declared length.
func TestServerCutsOffSlowBodies(t *testing.T) {
	t.Parallel()
	opts := fastOptions()
	addr, _, _ := serve(t, opts)
	body := bytes.Repeat([]byte("x"), 200)
	for _, tc := range []struct{ name, head string }{
		{"webhook", "POST /hooks/github HTTP/1.1\r\nHost: gantry\r\nX-GitHub-Event: push\r\nContent-Length: 200\r\n\r\n"},
		{"webhook chunked", "POST /hooks/github HTTP/1.1\r\nHost: gantry\r\nTransfer-Encoding: chunked\r\n\r\nc8\r\n"},
		{"api", "POST /api/v1/plans/p/approve HTTP/1.1\r\nHost: gantry\r\nAuthorization: Bearer tok\r\nContent-Length: 200\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			took, status := trickle(t, addr, tc.head, body)
			t.Logf("cut off after %s: %q", took.Round(time.Millisecond), status)
			if took > opts.ReadTimeout+time.Second {
				t.Errorf("cut off after %s, want within the read timeout of %s", took, opts.ReadTimeout)
			}
			if status != "" && !strings.Contains(status, " 408 ") {
				t.Errorf("answered %q, want 408 Request Timeout or a closed connection", status)
			}
		})
	}
}

// TestServerCutsOffSlowHeaders: headers trickled at a byte per 100 ms are
// cut off once the header timeout has passed.
func TestServerCutsOffSlowHeaders(t *testing.T) {
	t.Parallel()
	opts := fastOptions()
	addr, _, _ := serve(t, opts)
	took, status := trickle(t, addr, "GET /healthz HTTP/1.1\r\nHost: gantry\r\n", []byte(strings.Repeat("X-Slow: yes\r\n", 10)))
	t.Logf("cut off after %s: %q", took.Round(time.Millisecond), status)
	if took > opts.ReadHeaderTimeout+time.Second {
		t.Errorf("slow headers cut off after %s, want within %s", took, opts.ReadHeaderTimeout)
	}
	if strings.Contains(status, " 200 ") {
		t.Errorf("slow headers were served: %q", status)
	}
}

// TestServerRefusesTooManyBodies: while as many bodies as allowed are being
// read, one more request with a body gets 503 with Retry-After at once;
// once the slow ones are cut off, bodies are read again.
func TestServerRefusesTooManyBodies(t *testing.T) {
	t.Parallel()
	opts := fastOptions()
	opts.MaxConcurrentBodies = 2
	opts.ReadTimeout = 2 * time.Second
	addr, _, _ := serve(t, opts)
	for range opts.MaxConcurrentBodies {
		go func() {
			_, _, _ = trickleConn(addr, "POST /hooks/github HTTP/1.1\r\nHost: gantry\r\nContent-Length: 100\r\n\r\n", bytes.Repeat([]byte("x"), 100))
		}()
	}
	post := func() *http.Response {
		req, err := http.NewRequest("POST", "http://"+addr+"/hooks/github", strings.NewReader(`{"ref":"refs/heads/main"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-GitHub-Event", "push")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	var resp *http.Response
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp = post(); resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a third body while two are read: %s, Retry-After %q; want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	// The API reads its bodies from a pool of its own: unsigned
	// deliveries holding every webhook slot do not keep an approval out.
	req, err := http.NewRequest("POST", "http://"+addr+"/api/v1/plans/abcdef01/approve", strings.NewReader(`{"actor":"ops"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tok")
	api, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	api.Body.Close()
	if api.StatusCode != http.StatusNotFound {
		t.Errorf("an approval while the webhook's bodies are all taken: %s, want 404 (read, no such plan)", api.Status)
	}
	time.Sleep(opts.ReadTimeout + 500*time.Millisecond)
	if resp = post(); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after the slow bodies were cut off: %s, want 401 (read, signature refused)", resp.Status)
	}
}

// TestServerRefusesDeclaredLargeBodies: a body whose Content-Length is over
// the cap is refused (413) at once, before it takes a slot or a byte of it
// is read, not after the read timeout.
func TestServerRefusesDeclaredLargeBodies(t *testing.T) {
	t.Parallel()
	opts := fastOptions()
	opts.ReadTimeout = 5 * time.Second
	addr, _, _ := serve(t, opts)
	took, line, err := trickleConn(addr, fmt.Sprintf("POST /hooks/github HTTP/1.1\r\nHost: gantry\r\nContent-Length: %d\r\n\r\n", 100<<20), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "413") || took > time.Second {
		t.Errorf("a declared 100 MiB body: %q after %s, want 413 at once", line, took)
	}
}

// TestLimitListener: past MaxConnections open at once, a new connection is
// closed as soon as it is accepted; once one closes, the next is served.
func TestLimitListener(t *testing.T) {
	t.Parallel()
	opts := fastOptions()
	opts.MaxConnections = 2
	opts.IdleTimeout = 10 * time.Second
	opts.ReadHeaderTimeout = 10 * time.Second
	addr, _, _ := serve(t, opts)
	var held []net.Conn
	for range opts.MaxConnections {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	time.Sleep(200 * time.Millisecond) // both accepted
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("a third connection while two are open: read %v, want it closed at once", err)
	}
	held[0].Close()
	time.Sleep(200 * time.Millisecond)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("once a connection closed: %v %v, want 200", resp, err)
	}
	resp.Body.Close()
}

// TestServerHidesTheDatabase: neither /readyz nor the API's errors name
// the database's host, user or name, whether the database answers (a plan
// not recorded: 404) or not (503 and 500); the log has the detail.
func TestServerHidesTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const user, db = "readyz_secret_user", "readyz_secret_db"
	admin, err := pgx.Connect(ctx, pg.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, sql := range []string{"CREATE ROLE " + user + " LOGIN", "CREATE DATABASE " + db + " OWNER " + user} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		_, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+user)
	})
	dsn := strings.Replace(pg.ConnString(db), "user=gantry", "user="+user, 1)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(ctx, state.Options{DatabaseURL: dsn})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	defer store.Close()
	addr, _, log := serveStore(t, store, fastOptions())
	call := func(method, path string, want int) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s %s: %s %s, want %d", method, path, resp.Status, body, want)
		}
		for _, secret := range []string{user, db, cfg.Host, "host=", "user=", "dbname="} {
			if strings.Contains(string(body), secret) {
				t.Errorf("%s %s reveals %q: %s", method, path, secret, body)
			}
		}
	}
	call("GET", "/api/v1/plans/abcdef01", http.StatusNotFound)
	call("POST", "/api/v1/plans/abcdef01/approve", http.StatusNotFound)
	call("GET", "/api/v1/plans/ab", http.StatusBadRequest)

	if _, err := admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	call("GET", "/readyz", http.StatusServiceUnavailable)
	call("GET", "/api/v1/plans/abcdef01", http.StatusInternalServerError)
	call("POST", "/api/v1/plans/abcdef01/approve", http.StatusInternalServerError)
	call("POST", "/api/v1/plans/abcdef01/reject", http.StatusInternalServerError)
	call("GET", "/api/v1/plans", http.StatusInternalServerError)
	if !strings.Contains(log.String(), db) {
		t.Errorf("the log lacks the detail:\n%s", log.String())
	}
}
