// Package netscan finds the TLS certificates served at network addresses: it connects to
// every host and port of a scan, makes a TLS handshake and describes the leaf certificate
// the server sent.
//
// A scan names hosts (IP addresses, CIDRs or host names) and at most MaxPorts ports. Some
// addresses are never scanned, whoever asks: link-local, cloud metadata (and Azure's
// platform address 168.63.129.16), multicast, unspecified, broadcast and reserved
// (240.0.0.0/4) addresses, and 0.0.0.0/8, also when written as IPv4-mapped or NAT64 IPv6
// addresses. They are refused when a scan is checked, again when a host name resolves to
// one at scan time, and once more by the dialer as it connects, so that DNS rebinding
// cannot reach them either. Loopback and private addresses may be scanned.
//
// Sizes are capped: an IPv4 CIDR may be at most /20 and an IPv6 CIDR at most /116 (4,096
// addresses each), and all the hosts of a scan together at most Scanner.MaxAddresses
// addresses (a host name counts as one). With at most 16 ports that bounds a scan to 65,536
// connections with the defaults.
package netscan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"certctl/app/agentapi"
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

// Scan connects to every host and port, makes a TLS handshake and returns the leaf
// certificate each server sent, sorted by location, with Format "tls" and Location
// "host:port" (the host name for a name, else the address). It sends the host name as SNI
// when the host is a name and no SNI for addresses. Chains are not verified: discovery
// reports what is served, it does not trust it.
//
// Problems are reported per address, sorted by location, except that in a CIDR an address
// that does not answer or refuses the connection is normal and not reported; a handshake that
// fails after the connection was made is reported everywhere. A host name that cannot be
// resolved, or that resolves to an address that is never scanned, is one problem located at
// the name. A scan Check refuses returns only that problem. When ctx ends first, Scan
// returns promptly with what it found and a problem with an empty Location.
func (s Scanner) Scan(ctx context.Context, hosts []string, ports []int) (
	[]agentapi.Discovered, []agentapi.ScanProblem) {
	p, err := s.plan(hosts, ports)
	if err != nil {
		location := ""
		if he := (*HostError)(nil); errors.As(err, &he) {
			location = he.Host
		}
		return nil, []agentapi.ScanProblem{{Location: location, Error: err.Error()}}
	}

	r := &results{}
	complete := s.resolve(ctx, p.entries, r)
	if complete {
		complete = s.run(ctx, p, r)
	}

	if !complete || r.interrupted {
		r.problem("", fmt.Sprintf("scan stopped before it finished: %v", context.Cause(ctx)))
	}
	return r.sorted()
}

func (s Scanner) maxAddresses() int {
	if s.MaxAddresses <= 0 {
		return DefaultMaxAddresses
	}
	return s.MaxAddresses
}

func (s Scanner) concurrency() int {
	if s.Concurrency <= 0 {
		return DefaultConcurrency
	}
	return s.Concurrency
}

func (s Scanner) timeout() time.Duration {
	if s.Timeout <= 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

func (s Scanner) resolver() *net.Resolver {
	if s.Resolver == nil {
		return net.DefaultResolver
	}
	return s.Resolver
}
