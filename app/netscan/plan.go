package netscan

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Limits that do not change with the Scanner's settings.
const (
	// MaxPorts is the most ports one scan may name.
	MaxPorts = 16
	// maxRangeBits is the most host bits an IPv4 or IPv6 range may have: /20 or /116,
	// 4,096 addresses.
	maxRangeBits = 12
	// maxNameLen is the longest host name DNS carries.
	maxNameLen = 253
)

// HostError is why Check refused a host, or the hosts or ports as a whole when Host is "".
type HostError struct {
	Host   string
	Reason string
}

// Error names the host and the reason.
func (e *HostError) Error() string {
	if e.Host == "" {
		return e.Reason
	}
	return fmt.Sprintf("%q: %s", e.Host, e.Reason)
}

var errNotHost = errors.New("not an IP address, CIDR or host name")

func refuseHost(host, format string, args ...any) error {
	return &HostError{Host: host, Reason: fmt.Sprintf(format, args...)}
}

// entry is one host of a scan, as given, and the addresses it stands for.
type entry struct {
	host string
	// name is set when host is a host name: it is resolved at scan time and sent as SNI.
	name string
	// addrs holds the permitted addresses of an IP address or range, or, once resolved,
	// those of a host name.
	addrs []netip.Addr
	// isRange marks a CIDR: its silent addresses are not reported (see Scanner.Scan).
	isRange bool
}

// plan is what a scan will do, once its hosts and ports passed the checks.
type plan struct {
	entries []entry
	ports   []int
}

// connections is how many connections the scan makes at most.
func (p plan) connections() int {
	n := 0
	for _, e := range p.entries {
		n += max(len(e.addrs), 1) * len(p.ports)
	}
	return n
}

// plan checks hosts and ports against the limits and turns them into entries.
func (s Scanner) plan(hosts []string, ports []int) (plan, error) {
	ps, err := checkPorts(ports)
	if err != nil {
		return plan{}, err
	}
	if len(hosts) == 0 {
		return plan{}, &HostError{Reason: "name at least one host, address or CIDR"}
	}

	p := plan{ports: ps}
	total, limit := 0, s.maxAddresses()
	for _, h := range hosts {
		e, size, err := parseHost(h)
		if err != nil {
			return plan{}, err
		}
		total += size
		if total > limit {
			return plan{}, refuseHost(h, "brings the scan to %d addresses; at most %d are "+
				"scanned at once", total, limit)
		}
		p.entries = append(p.entries, e)
	}
	return p, nil
}

// checkPorts refuses ports out of range and too many ports; it drops repeats.
func checkPorts(ports []int) ([]int, error) {
	if len(ports) == 0 {
		return nil, &HostError{Reason: "name at least one port"}
	}
	out := make([]int, 0, len(ports))
	for _, p := range ports {
		if p < 1 || p > 65535 {
			return nil, &HostError{Reason: fmt.Sprintf("port %d is not between 1 and 65535", p)}
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) > MaxPorts {
		return nil, &HostError{Reason: fmt.Sprintf("%d ports; at most %d are scanned at once",
			len(out), MaxPorts)}
	}
	return out, nil
}

// parseHost reads one host: an IP address, a CIDR or a host name. It returns the entry and
// how many addresses it counts for (a host name counts for one).
func parseHost(h string) (entry, int, error) {
	if h == "" {
		return entry{}, 0, &HostError{Reason: "a host is empty"}
	}
	if strings.Contains(h, "/") {
		return parseRange(h)
	}
	if addr, err := netip.ParseAddr(h); err == nil {
		if kind := refusal(addr); kind != "" {
			return entry{}, 0, refuseHost(h, "%s address, never scanned", kind)
		}
		return entry{host: h, addrs: []netip.Addr{addr}}, 1, nil
	}
	if err := checkName(h); err != nil {
		return entry{}, 0, refuseHost(h, "%v", err)
	}
	return entry{host: h, name: strings.TrimSuffix(h, ".")}, 1, nil
}

// parseRange reads a CIDR. Its refused addresses are left out; a range with nothing but
// refused addresses is refused as a whole, so that a mistake is not saved as a target that
// silently scans nothing.
func parseRange(h string) (entry, int, error) {
	prefix, err := netip.ParsePrefix(h)
	if err != nil {
		return entry{}, 0, refuseHost(h, "not a valid CIDR")
	}
	if prefix.Addr().Zone() != "" {
		return entry{}, 0, refuseHost(h, "zoned range, never scanned")
	}
	for _, f := range forbidden {
		if f.prefix.Bits() <= prefix.Bits() && f.prefix.Contains(prefix.Addr()) {
			return entry{}, 0, refuseHost(h, "%s range, never scanned", f.kind)
		}
	}
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	if hostBits > maxRangeBits {
		family, most := "IPv4", 32-maxRangeBits
		if prefix.Addr().Is6() {
			family, most = "IPv6", 128-maxRangeBits
		}
		return entry{}, 0, refuseHost(h, "range too large: an %s range may be at most /%d "+
			"(%d addresses)", family, most, 1<<maxRangeBits)
	}

	prefix = prefix.Masked()
	e := entry{host: h, isRange: true}
	for a := prefix.Addr(); a.IsValid() && prefix.Contains(a); a = a.Next() {
		if refusal(a) == "" {
			e.addrs = append(e.addrs, a)
		}
	}
	if len(e.addrs) == 0 {
		return entry{}, 0, refuseHost(h, "holds only addresses that are never scanned "+
			"(%s: %s)", prefix.Addr(), refusal(prefix.Addr()))
	}
	return e, 1 << hostBits, nil
}

// checkName accepts a host name of letters, digits, hyphens and underscores in dot-separated
// labels, with an optional final dot. A name whose last label is all digits is refused: it
// is no host name, and some resolvers read such names ("127.1", "2130706433") as IPv4
// addresses, which would slip past the address checks here.
func checkName(h string) error {
	if len(h) > maxNameLen+1 {
		return fmt.Errorf("name longer than %d characters", maxNameLen)
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return err
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return errNotHost
	}
	return nil
}

func checkLabel(l string) error {
	if l == "" || len(l) > 63 {
		return errNotHost
	}
	for _, c := range l {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_'
		if !ok {
			return errNotHost
		}
	}
	return nil
}
