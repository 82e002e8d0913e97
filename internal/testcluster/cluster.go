package testcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Options configures Start.
type Options struct {
	// BinDir holds etcd, kube-apiserver and kube-controller-manager.
	BinDir string
	// Dir receives certificates, the kubeconfig, etcd's data and one log file
	// per process. The caller removes it.
	Dir string
	// ServiceCIDR is the Service cluster IP range. The default /12 holds far
	// more Services than any benchmark creates (a /24 runs out at ~250).
	ServiceCIDR string
	// StartTimeout bounds the wait for each process to become ready.
	StartTimeout time.Duration
}

// DefaultOptions returns options using the binaries found by FindBinDir.
func DefaultOptions() Options {
	return Options{BinDir: FindBinDir(), ServiceCIDR: "10.96.0.0/12", StartTimeout: 90 * time.Second}
}

// Cluster is a running control plane.
type Cluster struct {
	// Config authenticates as an administrator (group system:masters).
	Config *rest.Config
	// Kubeconfig is a kubeconfig file holding the same credentials as Config.
	Kubeconfig string
	// ViewerConfig authenticates as user "viewer" with no groups and no
	// bindings: forbidden until a test grants it RBAC rights.
	ViewerConfig *rest.Config
	// Dir is Options.Dir.
	Dir string

	procs []*process // in start order; stopped in reverse
	api   apiServer
}

// apiServer is what restarting kube-apiserver needs.
type apiServer struct {
	opts  Options
	args  []string
	ready func(context.Context) error
}

// Start starts etcd, kube-apiserver and kube-controller-manager and waits
// until the API server is ready and the controller manager is working. On
// error, every process already started is stopped.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.Dir == "" {
		return nil, errors.New("testcluster: Options.Dir is required")
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = DefaultOptions().StartTimeout
	}
	if opts.ServiceCIDR == "" {
		opts.ServiceCIDR = DefaultOptions().ServiceCIDR
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if _, err := os.Stat(filepath.Join(opts.BinDir, b)); err != nil {
			return nil, fmt.Errorf("testcluster: %s not found in %q: run `make testcluster` to build the control plane", b, opts.BinDir)
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	p, err := writePKI(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("testcluster: certificates: %w", err)
	}
	c = &Cluster{Dir: opts.Dir}
	defer func() {
		if err != nil {
			c.Stop()
			c = nil
		}
	}()

	etcdURL, err := c.startEtcd(ctx, opts)
	if err != nil {
		return c, err
	}
	if err := c.startAPIServer(ctx, opts, p, etcdURL); err != nil {
		return c, err
	}
	if err := c.startControllerManager(ctx, opts, p); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Cluster) startEtcd(ctx context.Context, opts Options) (string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return "", err
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	proc, err := startProcess(opts, "etcd",
		"--name=testcluster",
		"--data-dir="+filepath.Join(opts.Dir, "etcd"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=testcluster="+peerURL,
		"--unsafe-no-fsync", // tests need speed, not durability
		"--quota-backend-bytes=8589934592",
		"--log-level=warn",
	)
	if err != nil {
		return "", err
	}
	c.procs = append(c.procs, proc)
	err = proc.waitFor(ctx, opts.StartTimeout, func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, clientURL+"/health", "")
	})
	return clientURL, err
}

func (c *Cluster) startAPIServer(ctx context.Context, opts Options, p *pki, etcdURL string) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	port := ports[0]
	adminToken, viewerToken := randomToken(), randomToken()
	tokens := filepath.Join(opts.Dir, "tokens.csv")
	tokenCSV := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n%s,viewer,viewer\n", adminToken, viewerToken)
	if err := os.WriteFile(tokens, []byte(tokenCSV), 0o600); err != nil {
		return err
	}
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + p.servingCert, "--tls-private-key-file=" + p.servingKey,
		"--cert-dir=" + filepath.Join(opts.Dir, "apiserver-certs"),
		"--token-auth-file=" + tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p.saPublic,
		"--service-account-signing-key-file=" + p.saPrivate,
		"--service-cluster-ip-range=" + opts.ServiceCIDR,
		// Loopback has no routable address for the kubernetes Service's endpoints.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
		"--v=0",
	}
	proc, err := startProcess(opts, "kube-apiserver", args...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, proc)

	host := "https://127.0.0.1:" + strconv.Itoa(port)
	tlsCfg := rest.TLSClientConfig{CAData: []byte(p.caPEM)}
	c.Config = &rest.Config{Host: host, BearerToken: adminToken, TLSClientConfig: tlsCfg}
	c.ViewerConfig = &rest.Config{Host: host, BearerToken: viewerToken, TLSClientConfig: tlsCfg}
	c.Kubeconfig = filepath.Join(opts.Dir, "kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, host, p.caPEM, adminToken); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(p.caPEM))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ready := func(ctx context.Context) error { return httpOK(ctx, hc, host+"/readyz", adminToken) }
	c.api = apiServer{opts: opts, args: args, ready: ready}
	return proc.waitFor(ctx, opts.StartTimeout, ready)
}

// StopAPIServer stops kube-apiserver by its process id, leaving etcd and the
// controller manager running, as an API server outage does.
func (c *Cluster) StopAPIServer() error {
	for _, p := range c.procs {
		if p.name == "kube-apiserver" {
			return p.stop(10 * time.Second)
		}
	}
	return errors.New("testcluster: no kube-apiserver started")
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, with the
// same flags, address and credentials, and waits until it is ready.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	for i, p := range c.procs {
		if p.name != "kube-apiserver" {
			continue
		}
		select {
		case <-p.done:
		default:
			return errors.New("testcluster: kube-apiserver is running: stop it first")
		}
		proc, err := startProcess(c.api.opts, "kube-apiserver", c.api.args...)
		if err != nil {
			return err
		}
		c.procs[i] = proc
		return proc.waitFor(ctx, c.api.opts.StartTimeout, c.api.ready)
	}
	return errors.New("testcluster: no kube-apiserver started")
}

func (c *Cluster) startControllerManager(ctx context.Context, opts Options, p *pki) error {
	proc, err := startProcess(opts, "kube-controller-manager",
		"--kubeconfig="+c.Kubeconfig,
		"--authentication-kubeconfig="+c.Kubeconfig,
		"--authorization-kubeconfig="+c.Kubeconfig,
		// No nodes run, so the node controllers have nothing to do but complain.
		"--controllers=*,-node-lifecycle-controller,-node-ipam-controller",
		"--leader-elect=false",
		"--service-account-private-key-file="+p.saPrivate,
		"--root-ca-file="+p.caCert,
		"--secure-port=0",
		// The default 20 QPS makes controllers lag far behind tests and
		// benchmarks that create thousands of objects.
		"--kube-api-qps=300", "--kube-api-burst=600",
		"--v=0",
	)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, proc)
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	// The service account controller creating "default" in "default" shows the
	// controller manager is connected and its controllers are running.
	return proc.waitFor(ctx, opts.StartTimeout, func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return errors.New("service account default/default not created yet")
		}
		return err
	})
}

// Stop stops every process the cluster started, newest first, by process id:
// SIGTERM, then SIGKILL for any still running after ten seconds. It returns
// the processes' exit errors other than the expected termination.
func (c *Cluster) Stop() error {
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		errs = append(errs, c.procs[i].stop(10*time.Second))
	}
	c.procs = nil
	return errors.Join(errs...)
}

// Pids returns the process ids of the running control-plane processes.
func (c *Cluster) Pids() []int {
	out := make([]int, len(c.procs))
	for i, p := range c.procs {
		out[i] = p.cmd.Process.Pid
	}
	return out
}

func writeKubeconfig(path, host, caPEM, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testcluster"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: []byte(caPEM)}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["testcluster"] = &clientcmdapi.Context{Cluster: "testcluster", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "testcluster"
	return clientcmd.WriteToFile(*cfg, path)
}

func httpOK(ctx context.Context, hc *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, bytes.TrimSpace(body.Bytes()))
	}
	return nil
}

// freePorts returns n distinct free loopback ports. Another process could take
// one before it is used; Start then fails with a clear bind error in the log.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close() // held until all n are chosen, so they are distinct
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
