package netscan

import (
	"fmt"
	"net/netip"
	"syscall"
)

// forbiddenRange is a range of addresses that is never scanned, and what kind they are.
type forbiddenRange struct {
	prefix netip.Prefix
	kind   string
}

// forbidden lists the ranges that are never scanned. The first match names the kind, so a
// single address comes before the wider range that holds it.
//
// Cloud metadata services hand out credentials to whoever asks from inside the machine, so a
// scanner that can be pointed at them is a way to steal those credentials. The whole of
// 0.0.0.0/8 is refused, not only 0.0.0.0: Linux connects 0.0.0.0 to the local host.
var forbidden = []forbiddenRange{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"},
	{netip.MustParsePrefix("100.100.100.200/32"), "cloud metadata"},
	{netip.MustParsePrefix("192.0.0.192/32"), "cloud metadata"},
	{netip.MustParsePrefix("168.63.129.16/32"), "cloud platform"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("0.0.0.0/32"), "unspecified"},
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
}

// nat64 is the well-known NAT64 prefix: its addresses reach the IPv4 address in their last
// 32 bits, so they are judged by that address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// refusal names the kind of address addr is when it must never be scanned ("link-local"),
// or returns "" when it may be. IPv4 addresses written
// as IPv6 (mapped, or behind NAT64) are judged as the IPv4 address they reach. Addresses
// with a zone are refused: a zone only matters for link-local addresses.
func refusal(addr netip.Addr) string {
	if !addr.IsValid() {
		return "invalid"
	}
	plain := addr.WithZone("").Unmap()
	if nat64.Contains(plain) {
		b := plain.As16()
		plain = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, f := range forbidden {
		if f.prefix.Contains(plain) {
			return f.kind
		}
	}
	if addr.Zone() != "" {
		return "zoned"
	}
	return ""
}

// refusedError is an address that must never be scanned, met while connecting.
type refusedError struct {
	addr netip.Addr
	kind string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("%s: %s address, never scanned", e.addr, e.kind)
}

// refuseAddr returns a *refusedError when addr must never be scanned.
func refuseAddr(addr netip.Addr) error {
	if kind := refusal(addr); kind != "" {
		return &refusedError{addr: addr, kind: kind}
	}
	return nil
}

// refuseAddrPort checks the "ip:port" a connection is made to or came from.
func refuseAddrPort(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("connect to %q: not an IP address and port", address)
	}
	return refuseAddr(ap.Addr())
}

// dialControl is the default dialer's Control hook: it checks the address the socket is
// about to connect to, whatever resolved it, so that a host name that changes its answer
// between the check and the connection (DNS rebinding) still cannot reach a refused address.
func dialControl(_, address string, _ syscall.RawConn) error {
	return refuseAddrPort(address)
}
