// Package netscan finds the TLS certificates served at network addresses: it connects to
// every host and port of a scan, makes a TLS handshake and describes the leaf certificate
// the server sent.
//
// A scan names hosts (IP addresses, CIDRs or host names) and at most MaxPorts ports. Some
// addresses are never scanned, whoever asks: link-local, cloud metadata, multicast,
// unspecified, broadcast and reserved addresses (see forbidden.go). They are refused when a
// scan is checked, again when a host name resolves to one at scan time, and once more by the
// dialer as it connects, so that DNS rebinding cannot reach them either. Loopback and
// private addresses may be scanned.
//
// Sizes are capped: an IPv4 CIDR may be at most /20 and an IPv6 CIDR at most /116 (4,096
// addresses each), and all the hosts of a scan together at most Scanner.MaxAddresses
// addresses (a host name counts as one). With at most 16 ports that bounds a scan to 65,536
// connections with the defaults.
package netscan

import (
	"context"
	"net"
	"time"
)

// Defaults for a Scanner's zero fields.
const (
	DefaultMaxAddresses = 4096
	DefaultConcurrency  = 32
	DefaultTimeout      = 5 * time.Second
)

// Scanner scans addresses for TLS certificates. The zero value is ready to use with the
// defaults; a Scanner is a value that is safe to use from several goroutines at once.
type Scanner struct {
	// MaxAddresses caps the addresses of one scan, all its hosts together; a host name
	// counts as one. Zero or less means DefaultMaxAddresses.
	MaxAddresses int
	// Concurrency is how many connections a scan makes at once. Zero or less means
	// DefaultConcurrency.
	Concurrency int
	// Timeout bounds each connection, connecting and TLS handshake together, and each host
	// name lookup. Zero or less means DefaultTimeout.
	Timeout time.Duration
	// Resolver looks host names up at scan time; nil means net.DefaultResolver.
	Resolver *net.Resolver
	// Dial connects to an "ip:port" that passed the address checks; the context governs the
	// connecting only. Nil means a net.Dialer whose Control hook checks the address once
	// more. With a Dial of its own, the remote address of the connection it returns is
	// checked instead, when it is an IP address and port.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Check refuses a scan that must not run: hosts that are not IP addresses, CIDRs or host
// names, addresses that are never scanned, ranges or scans that are too large, and ports
// out of range or too many. The error is a *HostError naming the host at fault. Check does
// not resolve host names; Scan checks what they resolve to.
func (s Scanner) Check(hosts []string, ports []int) error {
	_, err := s.plan(hosts, ports)
	return err
}

func (s Scanner) maxAddresses() int {
	if s.MaxAddresses <= 0 {
		return DefaultMaxAddresses
	}
	return s.MaxAddresses
}
