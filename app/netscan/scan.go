package netscan

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"certctl/app/agentapi"
	"certctl/app/discovery"
)

// job is one connection of a scan.
type job struct {
	location string
	// sni is the host name to send, or "" for an address.
	sni string
	// addrs are tried in turn until one accepts the connection (several for a host name).
	addrs []netip.Addr
	port  int
	// quiet drops the problem when no connection could be made (addresses of a CIDR).
	quiet bool
}

// dialError is a connection that could not be made.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// resolve looks up the host names among entries, at most Concurrency at a time, and fills
// in their addresses. A name that fails is reported and left without addresses. It reports
// whether every name was looked up before ctx ended.
func (s Scanner) resolve(ctx context.Context, entries []entry, r *results) bool {
	var names []int
	for i := range entries {
		if entries[i].name != "" {
			names = append(names, i)
		}
	}
	workers := min(s.concurrency(), len(names))
	return each(ctx, workers, slices.Values(names), func(i int) {
		addrs, err := s.lookup(ctx, entries[i].name)
		switch {
		case err == nil:
			entries[i].addrs = addrs
		case ctx.Err() != nil:
			r.interrupt()
		default:
			r.problem(entries[i].name, err.Error())
		}
	})
}

// lookup resolves a host name and refuses it when any of its addresses is never scanned:
// the name's owner controls the answer, so one bad address taints the name.
func (s Scanner) lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()

	addrs, err := s.resolver().LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("lookup %s: no addresses", name)
	}
	for i, a := range addrs {
		a = a.Unmap()
		addrs[i] = a
		if kind := refusal(a); kind != "" {
			return nil, fmt.Errorf("resolves to %s: %s address, never scanned", a, kind)
		}
	}
	return addrs, nil
}

// run makes every connection of the scan, at most Concurrency at a time. It reports whether
// every connection was started before ctx ended.
func (s Scanner) run(ctx context.Context, p plan, r *results) bool {
	workers := min(s.concurrency(), p.connections())
	return each(ctx, workers, jobs(p), func(j job) {
		d, err := s.handshake(ctx, j)
		var de *dialError
		switch {
		case err == nil:
			r.add(d)
		case ctx.Err() != nil:
			r.interrupt()
		case j.quiet && errors.As(err, &de) && !isRefusal(err):
			// Most addresses of a range have nothing listening: reporting them would
			// bury the problems that matter.
		default:
			r.problem(j.location, err.Error())
		}
	})
}

// jobs lists the connections of a scan: single addresses and host names first, so that an
// address named on its own and inside a CIDR too is reported as on its own, then the CIDRs.
// Each location is listed once.
func jobs(p plan) iter.Seq[job] {
	return func(yield func(job) bool) {
		seen := map[string]bool{}
		for _, ranges := range []bool{false, true} {
			for _, e := range p.entries {
				if e.isRange != ranges {
					continue
				}
				for _, j := range entryJobs(e, p.ports) {
					if !seen[j.location] && !yield(j) {
						return
					}
					seen[j.location] = true
				}
			}
		}
	}
}

// entryJobs lists the connections for one host: one per port for a host name, one per
// address and port otherwise.
func entryJobs(e entry, ports []int) []job {
	var out []job
	if e.name != "" {
		if len(e.addrs) == 0 {
			return nil
		}
		for _, port := range ports {
			out = append(out, job{location: net.JoinHostPort(e.name, strconv.Itoa(port)),
				sni: e.name, addrs: e.addrs, port: port})
		}
		return out
	}
	for _, a := range e.addrs {
		for _, port := range ports {
			out = append(out, job{location: netip.AddrPortFrom(a, uint16(port)).String(),
				addrs: []netip.Addr{a}, port: port, quiet: e.isRange})
		}
	}
	return out
}

// handshake connects, makes the TLS handshake and describes the leaf certificate.
func (s Scanner) handshake(ctx context.Context, j job) (agentapi.Discovered, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()

	conn, err := s.connect(ctx, j)
	if err != nil {
		return agentapi.Discovered{}, err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}

	tc := tls.Client(conn, tlsConfig(j.sni))
	if err := tc.HandshakeContext(ctx); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) {
			return agentapi.Discovered{}, fmt.Errorf("tls handshake: no answer within %s",
				s.timeout())
		}
		return agentapi.Discovered{}, fmt.Errorf("tls handshake: %w", err)
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return agentapi.Discovered{}, errors.New("tls handshake: the server sent no certificate")
	}
	return discovery.Describe(certs[0], j.location, "tls"), nil
}

// connect tries the job's addresses in turn, each with its share of the time left, as
// net.Dialer does for the addresses of a name.
func (s Scanner) connect(ctx context.Context, j job) (net.Conn, error) {
	var first error
	for i, a := range j.addrs {
		conn, err := s.dialOne(ctx, netip.AddrPortFrom(a, uint16(j.port)), len(j.addrs)-i)
		if err == nil {
			return conn, nil
		}
		if first == nil || isRefusal(err) {
			first = err
		}
		if ctx.Err() != nil || isRefusal(err) {
			break
		}
	}
	if first == nil {
		first = errors.New("no address to connect to")
	}
	return nil, &dialError{err: first}
}

// dialOne connects to ap within 1/left of the time left, and checks where it got to.
func (s Scanner) dialOne(ctx context.Context, ap netip.AddrPort, left int) (net.Conn, error) {
	if deadline, ok := ctx.Deadline(); ok && left > 1 {
		share := time.Until(deadline) / time.Duration(left)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, share)
		defer cancel()
	}

	if s.Dial == nil {
		d := net.Dialer{Control: dialControl, KeepAlive: -1}
		return d.DialContext(ctx, "tcp", ap.String())
	}
	conn, err := s.Dial(ctx, "tcp", ap.String())
	if err != nil {
		return nil, err
	}
	if remote := conn.RemoteAddr(); remote != nil {
		if rap, err := netip.ParseAddrPort(remote.String()); err == nil {
			if err := refuseAddr(rap.Addr()); err != nil {
				_ = conn.Close()
				return nil, fmt.Errorf("connected to %s: %w", rap, err)
			}
		}
	}
	return conn, nil
}

// tlsConfig is the client side of a discovery handshake.
func tlsConfig(sni string) *tls.Config {
	// Discovery reads what is served and trusts none of it, and sends no data: the chain is
	// not verified, and old versions and cipher suites are offered so that the servers most
	// in need of a new certificate are found too.
	//
	// TODO: servers that can sign a TLS 1.2 handshake only with SHA-1 fail, since Go no
	// longer offers SHA-1 there; they show as handshake problems, not as certificates.
	return &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS10,
		CipherSuites:       allCipherSuites,
	}
}

// allCipherSuites are every TLS 1.0-1.2 suite Go implements, insecure ones included.
var allCipherSuites = func() []uint16 {
	var ids []uint16
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		ids = append(ids, cs.ID)
	}
	return ids
}()

func isRefusal(err error) bool {
	var re *refusedError
	return errors.As(err, &re)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// each calls fn for every item of seq, at most workers at a time, and stops handing items
// out once ctx is done. It returns when every call has returned, and reports whether every
// item was handed out.
func each[T any](ctx context.Context, workers int, seq iter.Seq[T], fn func(T)) bool {
	items := make(chan T)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for v := range items {
				fn(v)
			}
		})
	}
	defer wg.Wait()
	defer close(items)

	for v := range seq {
		if ctx.Err() != nil {
			return false
		}
		select {
		case items <- v:
		case <-ctx.Done():
			return false
		}
	}
	return true
}
