package netscan

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCert is a self-signed certificate served by a test listener.
type testCert struct {
	tls  tls.Certificate
	x509 *x509.Certificate
}

func newTestCert(t *testing.T, key crypto.Signer, serial int64, cn string) testCert {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"certctl tests"}},
		NotBefore:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		NotAfter:     time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC),
		DNSNames:     []string{cn, "localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		x509: cert}
}

func rsaCert(t *testing.T) testCert {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return newTestCert(t, key, 0x1f2e3d4c5b6a, "rsa.test")
}

func ecdsaCert(t *testing.T) testCert {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return newTestCert(t, key, 0xabcdef, "ecdsa.test")
}

// tlsServer is a TLS listener on loopback that records the SNI of each handshake.
type tlsServer struct {
	port int
	mu   sync.Mutex
	snis []string
}

func (s *tlsServer) serverNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.snis...)
}

func serveTLS(t *testing.T, cert testCert) *tlsServer {
	t.Helper()
	srv := &tlsServer{}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert.tls}}
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		srv.mu.Lock()
		srv.snis = append(srv.snis, hello.ServerName)
		srv.mu.Unlock()
		return nil, nil
	}
	srv.port = serve(t, func(c net.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tls.Server(c, cfg).HandshakeContext(ctx)
	})
	return srv
}

// serveSilent accepts connections and never says a word.
func serveSilent(t *testing.T) int {
	t.Helper()
	done := make(chan struct{})
	port := serve(t, func(net.Conn) { <-done })
	t.Cleanup(func() { close(done) })
	return port
}

// serveHTTP answers every connection as a plain HTTP server would a TLS handshake.
func serveHTTP(t *testing.T) int {
	t.Helper()
	return serve(t, func(c net.Conn) {
		_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"))
	})
}

// serve listens on a free loopback port and runs handle for each connection, closing it
// afterwards. The listener and every connection are closed when the test ends.
func serve(t *testing.T, handle func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// serveDNS answers A and AAAA queries over UDP on loopback from records, and NXDOMAIN
// for names it does not know. It returns a Resolver that asks only it.
func serveDNS(t *testing.T, records map[string][]string) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := dnsReply(buf[:n], records); reply != nil {
				_, _ = pc.WriteTo(reply, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		}}
}

// dnsReply answers one query (RFC 1035 section 4) with the records for its name and type.
func dnsReply(q []byte, records map[string][]string) []byte {
	if len(q) < 12 {
		return nil
	}
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		end := i + 1 + int(q[i])
		if end > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:end]))
		i = end
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	question := q[12 : i+5]

	addrs, known := records[strings.ToLower(strings.Join(labels, "."))]
	var answers [][]byte
	for _, s := range addrs {
		a := netip.MustParseAddr(s)
		if (qtype == 1) != a.Is4() || (qtype != 1 && qtype != 28) {
			continue
		}
		rr := []byte{0xc0, 12} // the name, pointing at the question's
		rr = binary.BigEndian.AppendUint16(rr, qtype)
		rr = binary.BigEndian.AppendUint16(rr, 1) // class IN
		rr = binary.BigEndian.AppendUint32(rr, 60)
		rr = binary.BigEndian.AppendUint16(rr, uint16(len(a.AsSlice())))
		answers = append(answers, append(rr, a.AsSlice()...))
	}

	flags := uint16(0x8180) // response, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	out := append([]byte{}, q[0:2]...)
	out = binary.BigEndian.AppendUint16(out, flags)
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(answers)))
	out = append(out, 0, 0, 0, 0)
	out = append(out, question...)
	for _, rr := range answers {
		out = append(out, rr...)
	}
	return out
}
