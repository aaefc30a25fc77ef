package netscan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"certctl/app/agentapi"
)

// The scanner satisfies the interface its caller declares.
var _ interface {
	Check(hosts []string, ports []int) error
	Scan(ctx context.Context, hosts []string, ports []int) ([]agentapi.Discovered,
		[]agentapi.ScanProblem)
} = Scanner{}

func loc(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// want is what a scan must report for cert served at location, written out field by field
// rather than with the code under test.
func want(c testCert, location, cn, keyAlg string, keyBits int,
	serial string) agentapi.Discovered {
	sum := sha256.Sum256(c.x509.Raw)
	return agentapi.Discovered{
		Fingerprint:  hex.EncodeToString(sum[:]),
		Subject:      "CN=" + cn + ",O=certctl tests",
		CommonName:   cn,
		SANs:         []string{cn, "localhost", "127.0.0.1"},
		Issuer:       "CN=" + cn + ",O=certctl tests",
		Serial:       serial,
		NotBefore:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		NotAfter:     time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC),
		KeyAlgorithm: keyAlg,
		KeyBits:      keyBits,
		Location:     location,
		Format:       "tls",
		CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
			Bytes: c.x509.Raw})),
	}
}

func TestScanLoopback(t *testing.T) {
	rsaC, ecC := rsaCert(t), ecdsaCert(t)
	rsaSrv, ecSrv := serveTLS(t, rsaC), serveTLS(t, ecC)
	closed := closedPort(t)

	found, problems := Scanner{}.Scan(t.Context(), []string{"127.0.0.1"},
		[]int{rsaSrv.port, ecSrv.port, closed})

	wantFound := []agentapi.Discovered{
		want(rsaC, loc("127.0.0.1", rsaSrv.port), "rsa.test", "rsa-2048", 2048, "1f2e3d4c5b6a"),
		want(ecC, loc("127.0.0.1", ecSrv.port), "ecdsa.test", "ecdsa-p256", 256, "abcdef"),
	}
	if ecSrv.port < rsaSrv.port {
		wantFound[0], wantFound[1] = wantFound[1], wantFound[0]
	}
	if diff := cmp.Diff(wantFound, found); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
	if len(problems) != 1 || problems[0].Location != loc("127.0.0.1", closed) ||
		!strings.Contains(problems[0].Error, "connection refused") {
		t.Errorf("problems = %+v, want one: connection refused at port %d", problems, closed)
	}
	for _, srv := range []*tlsServer{rsaSrv, ecSrv} {
		if got := srv.serverNames(); !cmp.Equal(got, []string{""}) {
			t.Errorf("SNI sent to an address: %q, want none", got)
		}
	}
}

func TestScanSendsHostNameAsSNI(t *testing.T) {
	c := ecdsaCert(t)
	srv := serveTLS(t, c)

	found, problems := Scanner{}.Scan(t.Context(), []string{"localhost"}, []int{srv.port})

	if len(problems) != 0 {
		t.Errorf("problems = %+v, want none", problems)
	}
	wantFound := []agentapi.Discovered{
		want(c, loc("localhost", srv.port), "ecdsa.test", "ecdsa-p256", 256, "abcdef")}
	if diff := cmp.Diff(wantFound, found); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
	if got := srv.serverNames(); !cmp.Equal(got, []string{"localhost"}) {
		t.Errorf("SNI = %q, want [localhost]", got)
	}
}

// A server that accepts and never answers costs Timeout, then is a problem.
func TestScanSilentServerTimesOut(t *testing.T) {
	port := serveSilent(t)
	s := Scanner{Timeout: 300 * time.Millisecond}

	start := time.Now()
	found, problems := s.Scan(t.Context(), []string{"127.0.0.1"}, []int{port})
	elapsed := time.Since(start)

	if len(found) != 0 {
		t.Errorf("found %+v, want nothing", found)
	}
	wantProblems := []agentapi.ScanProblem{{Location: loc("127.0.0.1", port),
		Error: "tls handshake: no answer within 300ms"}}
	if diff := cmp.Diff(wantProblems, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	// The bound is ten times the timeout, not a speed target: it tells a timeout that works
	// from one that does not.
	if elapsed > 3*time.Second {
		t.Errorf("scan took %s with a 300ms timeout", elapsed)
	}
}

// In a CIDR, addresses that do not answer are not problems, but a handshake that fails on
// an open port is. An address also named on its own is scanned once, reported as on its
// own. No more than Concurrency connections are open at once.
func TestScanRange(t *testing.T) {
	c := rsaCert(t)
	srv := serveTLS(t, c)
	httpPort, closed := serveHTTP(t), closedPort(t)
	dial := &countingDial{}
	s := Scanner{Concurrency: 2, Timeout: time.Second, Dial: dial.dial}

	found, problems := s.Scan(t.Context(), []string{"127.0.0.0/30", "127.0.0.1"},
		[]int{srv.port, httpPort, closed})

	wantFound := []agentapi.Discovered{
		want(c, loc("127.0.0.1", srv.port), "rsa.test", "rsa-2048", 2048, "1f2e3d4c5b6a")}
	if diff := cmp.Diff(wantFound, found); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
	wantProblems := map[string]string{
		loc("127.0.0.1", httpPort): "tls handshake: tls: first record does not look like",
		loc("127.0.0.1", closed):   "connection refused",
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Location+": "+p.Error)
		if !strings.Contains(p.Error, wantProblems[p.Location]) {
			t.Errorf("problem at %s: %q, want %q", p.Location, p.Error, wantProblems[p.Location])
		}
	}
	if len(problems) != len(wantProblems) {
		t.Errorf("problems = %q, want one for each of %v", got, wantProblems)
	}
	if dial.total != 12 {
		t.Errorf("%d connections made, want 12 (4 addresses, 3 ports)", dial.total)
	}
	if dial.most > 2 {
		t.Errorf("%d connections open at once, want at most 2", dial.most)
	}
}

// countingDial dials loopback and counts the connections open at once.
type countingDial struct {
	mu                sync.Mutex
	open, most, total int
}

func (d *countingDial) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.open++
	d.total++
	d.most = max(d.most, d.open)
	d.mu.Unlock()

	var nd net.Dialer
	conn, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		d.closed()
		return nil, err
	}
	return &countedConn{Conn: conn, d: d}, nil
}

func (d *countingDial) closed() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.open--
}

type countedConn struct {
	net.Conn
	d    *countingDial
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(c.d.closed)
	return c.Conn.Close()
}

// Cancelling the context ends a scan at once, not after the connections' timeouts.
func TestScanCancel(t *testing.T) {
	ports := []int{serveSilent(t), serveSilent(t), serveSilent(t), serveSilent(t)}
	s := Scanner{Concurrency: 1, Timeout: time.Minute}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)

	start := time.Now()
	found, problems := s.Scan(ctx, []string{"127.0.0.1", "127.0.0.0/30"}, ports)
	elapsed := time.Since(start)

	if len(found) != 0 {
		t.Errorf("found %+v, want nothing", found)
	}
	wantProblems := []agentapi.ScanProblem{{
		Error: "scan stopped before it finished: context canceled"}}
	if diff := cmp.Diff(wantProblems, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if elapsed > 10*time.Second {
		t.Errorf("scan took %s after being cancelled at 200ms", elapsed)
	}
}

// A host name is checked for what it resolves to at scan time.
func TestScanChecksResolvedAddresses(t *testing.T) {
	c := ecdsaCert(t)
	srv := serveTLS(t, c)
	resolver := serveDNS(t, map[string][]string{
		"meta.example":   {"169.254.169.254"},
		"mapped.example": {"::ffff:169.254.169.254"},
		"mixed.example":  {"127.0.0.1", "169.254.169.254"},
		"ok.example":     {"127.0.0.1"},
	})
	s := Scanner{Resolver: resolver, Timeout: 2 * time.Second}

	found, problems := s.Scan(t.Context(),
		[]string{"meta.example", "mapped.example", "mixed.example", "ok.example",
			"gone.example"}, []int{srv.port})

	wantFound := []agentapi.Discovered{
		want(c, loc("ok.example", srv.port), "ecdsa.test", "ecdsa-p256", 256, "abcdef")}
	if diff := cmp.Diff(wantFound, found); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
	wantProblems := map[string]string{
		"gone.example":   "no such host",
		"mapped.example": "resolves to 169.254.169.254: cloud metadata address",
		"meta.example":   "resolves to 169.254.169.254: cloud metadata address",
		"mixed.example":  "resolves to 169.254.169.254: cloud metadata address",
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Location+": "+p.Error)
		if !strings.Contains(p.Error, wantProblems[p.Location]) {
			t.Errorf("problem at %s: %q, want %q", p.Location, p.Error, wantProblems[p.Location])
		}
	}
	if len(problems) != len(wantProblems) {
		t.Errorf("problems = %q, want one for each of %v", got, wantProblems)
	}
	if names := srv.serverNames(); !cmp.Equal(names, []string{"ok.example"}) {
		t.Errorf("SNI = %q, want [ok.example]", names)
	}
}

// A Dial of one's own is held to the same rules: a connection that ends up at a refused
// address is dropped before a byte is sent.
func TestScanChecksWhereDialLeads(t *testing.T) {
	s := Scanner{Dial: func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		t.Cleanup(func() { _ = server.Close() })
		return remoteConn{Conn: client,
			remote: &net.TCPAddr{IP: net.ParseIP("169.254.169.254"), Port: 443}}, nil
	}}

	found, problems := s.Scan(t.Context(), []string{"127.0.0.0/31"}, []int{443})

	if len(found) != 0 {
		t.Errorf("found %+v, want nothing", found)
	}
	if len(problems) != 2 {
		t.Fatalf("problems = %+v, want two, one for each address", problems)
	}
	for _, p := range problems {
		if !strings.Contains(p.Error, "169.254.169.254: cloud metadata address") {
			t.Errorf("problem at %s: %q, want it refused as cloud metadata", p.Location, p.Error)
		}
	}
}

type remoteConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.remote }

// A scan Check refuses is one problem, at the host at fault, and no connection.
func TestScanRefusedByCheck(t *testing.T) {
	dialled := false
	s := Scanner{Dial: func(context.Context, string, string) (net.Conn, error) {
		dialled = true
		return nil, fmt.Errorf("no dialling here")
	}}

	found, problems := s.Scan(t.Context(), []string{"127.0.0.1", "10.0.0.0/8"}, []int{443})

	if len(found) != 0 || dialled {
		t.Errorf("found %+v, dialled %v; want nothing done", found, dialled)
	}
	if len(problems) != 1 || problems[0].Location != "10.0.0.0/8" {
		t.Errorf("problems = %+v, want one at 10.0.0.0/8", problems)
	}
}

func TestCompareLocations(t *testing.T) {
	in := []string{"b.example:443", "10.0.0.2:443", "a.example", "", "[::1]:443",
		"10.0.0.10:443", "10.0.0.2:80", "a.example:8443", "a.example:443"}
	r := &results{}
	for _, l := range in {
		r.problem(l, "x")
	}
	_, problems := r.sorted()
	var got []string
	for _, p := range problems {
		got = append(got, p.Location)
	}
	wantOrder := []string{"", "10.0.0.2:80", "10.0.0.2:443", "10.0.0.10:443", "[::1]:443",
		"a.example", "a.example:443", "a.example:8443", "b.example:443"}
	if diff := cmp.Diff(wantOrder, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}
