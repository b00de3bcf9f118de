package testpeers

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/hallmark-dev/hallmark/internal/proctest"
)

// The Kubernetes API server, v1.35.4, is built from the Go module proxy in
// its own module, tools/kube, because no Docker (and so no kind) can be
// assumed. The build takes about 6 minutes and 2 GB on 2 cores, so it is
// cached like Ratify's. etcd comes from the system (Debian's etcd-server):
// building it too would add minutes for no gain in fidelity.
const kubeAPIServerPackage = "github.com/hallmark-dev/hallmark/tools/kube/cmd/kube-apiserver"

// EtcdPath is where Debian's etcd-server package installs etcd.
const EtcdPath = "/usr/bin/etcd"

var kubeAPIServer = &tool{name: "kube-apiserver", module: "kube", pkg: kubeAPIServerPackage}

// BuildKube builds kube-apiserver if the cache lacks it and returns the path
// of the binary. A kube-apiserver in HALLMARK_TOOLS_BIN is used as it is;
// otherwise it is built under the user cache folder, keyed by tools/kube's
// go.mod and go.sum.
func BuildKube() (string, error) { return kubeAPIServer.build() }

// KubeAPIServerPath returns the path of the kube-apiserver binary, building
// it if needed.
func KubeAPIServerPath(t testing.TB) string {
	t.Helper()
	return kubeAPIServer.path(t)
}

// AdminToken is the bearer token of the control plane's administrator, a
// member of system:masters.
const AdminToken = "hallmark-e2e-admin-token"

// ControlPlane is a running etcd and kube-apiserver on loopback. There is
// no controller manager, scheduler or kubelet: objects are stored and pass
// admission, but no pod ever runs, and a Deployment makes no ReplicaSet.
type ControlPlane struct {
	// URL is the API server's address, https://127.0.0.1:PORT.
	URL string
	// Config authenticates as the administrator with AdminToken and trusts
	// the API server's generated serving certificate.
	Config *rest.Config
	// Kubeconfig is a kubeconfig file holding the same, for commands.
	Kubeconfig string
	// CAPEM is the certificate authority of the API server's certificate.
	CAPEM []byte

	logPath string
}

// Logs returns what etcd and the API server have logged so far.
func (c *ControlPlane) Logs() string {
	b, _ := os.ReadFile(c.logPath)
	return string(b)
}

// StartControlPlane starts etcd and kube-apiserver on loopback ports, waits
// until the API server's /readyz passes, and returns it. Both stop with the
// test. It fails the test, never skips it, when either cannot start: the
// end-to-end suites must not pass by running nothing.
//
// The ServiceAccount admission plugin is off, because without a controller
// manager no namespace ever gets its default service account and every pod
// would be refused; nothing else differs from the API server's defaults
// that matters to admission webhooks.
func StartControlPlane(t testing.TB) *ControlPlane {
	t.Helper()
	if !fileExists(EtcdPath) {
		t.Fatalf("test peers: %s is missing; install Debian's etcd-server package (apt-get install etcd-server)", EtcdPath)
	}
	bin := KubeAPIServerPath(t)
	dir := t.TempDir()
	cp := &ControlPlane{logPath: filepath.Join(dir, "control-plane.log")}
	logFile, err := os.Create(cp.logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })

	etcdURL := startEtcd(t, dir, logFile, cp)

	pki, err := writeKubePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	cp.CAPEM = pki.caPEM
	port := FreePort(t)
	cp.URL = "https://127.0.0.1:" + strconv.Itoa(port)
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--tls-cert-file=" + pki.certFile,
		"--tls-private-key-file=" + pki.keyFile,
		"--service-account-key-file=" + pki.saPublicFile,
		"--service-account-signing-key-file=" + pki.saKeyFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--token-auth-file=" + pki.tokenFile,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--disable-admission-plugins=ServiceAccount",
		// The loopback advertise address cannot go into the kubernetes
		// service's endpoints; nothing here needs them.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}
	exited := startLogged(t, "kube-apiserver", exec.Command(bin, args...), logFile)

	cp.Config = &rest.Config{
		Host:            cp.URL,
		BearerToken:     AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: pki.caPEM},
		QPS:             50,
		Burst:           100,
	}
	cp.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(cp.Kubeconfig, kubeconfig(cp.URL, pki.caPEM), 0o600); err != nil {
		t.Fatal(err)
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pki.caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var last string
	if !proctest.Eventually(2*time.Minute, 250*time.Millisecond, func() bool {
		select {
		case <-exited:
			t.Fatalf("test peers: kube-apiserver exited before it was ready:\n%s", tail(cp.Logs(), 4000))
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, cp.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+AdminToken)
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false
		}
		body := make([]byte, 4096)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		last = fmt.Sprintf("%d %s", resp.StatusCode, body[:n])
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("test peers: kube-apiserver not ready after 2 minutes (last: %s):\n%s", last, tail(cp.Logs(), 4000))
	}
	return cp
}

// startEtcd runs etcd with its data in dir and returns its client URL once
// it reports itself healthy.
func startEtcd(t testing.TB, dir string, logFile *os.File, cp *ControlPlane) string {
	t.Helper()
	client := "http://127.0.0.1:" + strconv.Itoa(FreePort(t))
	peer := "http://127.0.0.1:" + strconv.Itoa(FreePort(t))
	cmd := exec.Command(EtcdPath,
		"--name=hallmark-e2e",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+client,
		"--advertise-client-urls="+client,
		"--listen-peer-urls="+peer,
		"--initial-advertise-peer-urls="+peer,
		"--initial-cluster=hallmark-e2e="+peer,
		"--log-level=warn",
		"--logger=zap",
	)
	exited := startLogged(t, "etcd", cmd, logFile)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		select {
		case <-exited:
			t.Fatalf("test peers: etcd exited before it was healthy:\n%s", tail(cp.Logs(), 4000))
		case <-ctx.Done():
			t.Fatalf("test peers: etcd not healthy after a minute:\n%s", tail(cp.Logs(), 4000))
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(client + "/health")
		if err == nil {
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(b.Bytes(), []byte(`"true"`)) {
				return client
			}
		}
	}
}

// startLogged starts cmd with its output in logFile, and stops it when the
// test ends: an interrupt, then a kill if it has not exited 15 s later. The
// channel closes when the process exits.
func startLogged(t testing.TB, name string, cmd *exec.Cmd, logFile *os.File) <-chan struct{} {
	t.Helper()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("test peers: starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	return exited
}

// kubePKI is the files the API server starts with.
type kubePKI struct {
	caPEM                   []byte
	certFile, keyFile       string
	saKeyFile, saPublicFile string
	tokenFile               string
}

// writeKubePKI makes a CA and a serving certificate for 127.0.0.1, a
// service-account signing key, and a token file with the administrator.
func writeKubePKI(dir string) (*kubePKI, error) {
	p := &kubePKI{
		certFile:     filepath.Join(dir, "apiserver.crt"),
		keyFile:      filepath.Join(dir, "apiserver.key"),
		saKeyFile:    filepath.Join(dir, "sa.key"),
		saPublicFile: filepath.Join(dir, "sa.pub"),
		tokenFile:    filepath.Join(dir, "tokens.csv"),
	}
	caPEM, certPEM, keyPEM, err := ServingCertificate("kube-apiserver", time.Hour)
	if err != nil {
		return nil, err
	}
	p.caPEM = caPEM
	sa, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	saDER, err := x509.MarshalPKCS8PrivateKey(sa)
	if err != nil {
		return nil, err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		p.certFile:     certPEM,
		p.keyFile:      keyPEM,
		p.saKeyFile:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: saDER}),
		p.saPublicFile: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		// token,user,uid,"group,..."
		p.tokenFile: []byte(AdminToken + `,admin,admin-uid,"system:masters"` + "\n"),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// ServingCertificate makes a CA and a serving certificate for 127.0.0.1,
// localhost and name, valid for the given time, and returns them and the key as PEM.
// The certificate is good for client authentication too, as Gatekeeper's
// webhook certificate is (Gatekeeper presents it to external data
// providers).
func ServingCertificate(name string, validity time.Duration) (caPEM, certPEM, keyPEM []byte, err error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost", name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// ServingCertFiles is ServingCertificate for a server on loopback, valid
// for a day (long benchmark runs included): it writes the certificate and key as tls.crt and tls.key in
// dir and returns their paths and a pool holding the CA, for clients.
func ServingCertFiles(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	caPEM, certPEM, keyPEM, err := ServingCertificate("hallmark", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for path, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return certFile, keyFile, pool
}

// kubeconfig is a kubeconfig file for the administrator.
func kubeconfig(server string, caPEM []byte) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
`, server, base64.StdEncoding.EncodeToString(caPEM), AdminToken)
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
