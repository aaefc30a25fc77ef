package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"
)

// served is what one verifying handshake saw.
type served struct {
	leaf *x509.Certificate
	err  error
}

// verifyServed makes TLS handshakes to v until the leaf served is want, or timeout passes:
// servers reload asynchronously, so the first handshakes may still meet the old
// certificate. It returns the serial of the last leaf served (lower-case hex, or "" when
// no handshake succeeded) and what it saw.
func verifyServed(ctx context.Context, v *verifyTarget, want *x509.Certificate,
	timeout time.Duration) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := serverName(v, want)
	wait := 100 * time.Millisecond
	attempts := 0
	var last served
	for {
		attempts++
		last = handshake(ctx, v.Address, name)
		if last.err == nil && bytes.Equal(last.leaf.Raw, want.Raw) {
			serial := last.leaf.SerialNumber.Text(16)
			return serial, fmt.Sprintf("%s serves serial %s (SNI %q, after %d handshakes)",
				v.Address, serial, name, attempts), nil
		}
		select {
		case <-ctx.Done():
			return lastSerial(last), "", notServed(v.Address, want, last, attempts, timeout)
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
	}
}

func lastSerial(s served) string {
	if s.leaf == nil {
		return ""
	}
	return s.leaf.SerialNumber.Text(16)
}

func notServed(addr string, want *x509.Certificate, last served, attempts int,
	timeout time.Duration) error {
	if last.err != nil {
		return fmt.Errorf("no handshake with %s in %s (%d tries): %w", addr, timeout, attempts,
			last.err)
	}
	return fmt.Errorf("%s still serves serial %s, not the new %s, after %s (%d tries)",
		addr, last.leaf.SerialNumber.Text(16), want.SerialNumber.Text(16), timeout, attempts)
}

// serverName is the name sent as SNI: the configured one, else the host of the address
// when it is a name, else the first DNS name of the certificate.
func serverName(v *verifyTarget, leaf *x509.Certificate) string {
	if v.ServerName != "" {
		return v.ServerName
	}
	host, _, _ := net.SplitHostPort(v.Address)
	if net.ParseIP(host) == nil {
		return host
	}
	if len(leaf.DNSNames) > 0 {
		return leaf.DNSNames[0]
	}
	return ""
}

// handshake returns the leaf addr serves for the name sni.
func handshake(ctx context.Context, addr, sni string) served {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := &tls.Dialer{Config: &tls.Config{ServerName: sni,
		// The served leaf is compared byte for byte with the one deployed, which says
		// more than a chain check; the chain is the issuer's business.
		InsecureSkipVerify: true}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return served{err: err}
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return served{err: errors.New("the server sent no certificate")}
	}
	return served{leaf: certs[0]}
}
