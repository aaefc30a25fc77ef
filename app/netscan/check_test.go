package netscan

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckAccepts(t *testing.T) {
	cases := map[string][]string{
		"loopback address":       {"127.0.0.1"},
		"loopback range":         {"127.0.0.0/24"},
		"ipv6 loopback":          {"::1"},
		"local name":             {"localhost"},
		"name not resolved":      {"example.internal"},
		"absolute name":          {"intranet.example.com."},
		"underscore name":        {"host_1.corp"},
		"private /20":            {"10.8.0.0/20"},
		"ipv6 /116":              {"2001:db8::/116"},
		"range with metadata":    {"100.100.100.0/24"},
		"unmasked range":         {"10.0.0.5/24"},
		"several":                {"10.0.0.1", "10.0.1.0/24", "db.example.com"},
		"private ipv6":           {"fd12:3456::1"},
		"mapped ipv4 allowed":    {"::ffff:10.0.0.1"},
		"just under the maximum": {"10.0.0.0/20"},
	}
	for name, hosts := range cases {
		t.Run(name, func(t *testing.T) {
			if err := (Scanner{}).Check(hosts, []int{443, 8443}); err != nil {
				t.Errorf("Check(%q) = %v, want nil", hosts, err)
			}
		})
	}
}

func TestCheckRefuses(t *testing.T) {
	cases := []struct {
		name  string
		hosts []string
		ports []int
		host  string // the host the error must name, "" for none
		want  string // in the message
	}{
		{"metadata", []string{"169.254.169.254"}, nil, "169.254.169.254", "cloud metadata"},
		{"metadata v6", []string{"fd00:ec2::254"}, nil, "fd00:ec2::254", "cloud metadata"},
		{"alibaba", []string{"100.100.100.200"}, nil, "100.100.100.200", "cloud metadata"},
		{"oracle", []string{"192.0.0.192"}, nil, "192.0.0.192", "cloud metadata"},
		{"link-local range", []string{"169.254.0.0/16"}, nil, "169.254.0.0/16", "link-local"},
		{"link-local /24", []string{"169.254.3.0/24"}, nil, "169.254.3.0/24", "link-local"},
		{"link-local v6", []string{"fe80::1"}, nil, "fe80::1", "link-local"},
		{"zoned link-local", []string{"fe80::1%eth0"}, nil, "fe80::1%eth0", "link-local"},
		{"zoned", []string{"fd00::1%eth0"}, nil, "fd00::1%eth0", "zone"},
		{"multicast", []string{"224.0.0.1"}, nil, "224.0.0.1", "multicast"},
		{"multicast v6", []string{"ff02::1"}, nil, "ff02::1", "multicast"},
		{"unspecified", []string{"0.0.0.0"}, nil, "0.0.0.0", "unspecified"},
		{"this network", []string{"0.1.2.3"}, nil, "0.1.2.3", "this-network"},
		{"unspecified v6", []string{"::"}, nil, "::", "unspecified"},
		{"broadcast", []string{"255.255.255.255"}, nil, "255.255.255.255", "broadcast"},
		{"mapped metadata", []string{"::ffff:169.254.169.254"}, nil,
			"::ffff:169.254.169.254", "cloud metadata"},
		{"nat64 metadata", []string{"64:ff9b::a9fe:a9fe"}, nil, "64:ff9b::a9fe:a9fe",
			"cloud metadata"},
		{"metadata /32", []string{"169.254.169.254/32"}, nil, "169.254.169.254/32",
			"cloud metadata"},
		{"too large v4", []string{"10.0.0.0/8"}, nil, "10.0.0.0/8", "at most /20"},
		{"too large v6", []string{"2001:db8::/64"}, nil, "2001:db8::/64", "at most /116"},
		{"too many in all", []string{"10.0.0.0/20", "10.1.0.0/20"}, nil, "10.1.0.0/20",
			"at most 4096"},
		{"bad cidr", []string{"10.0.0.0/33"}, nil, "10.0.0.0/33", "not a valid CIDR"},
		{"host and port", []string{"10.0.0.1:443"}, nil, "10.0.0.1:443", "not an IP"},
		{"url", []string{"https://example.com"}, nil, "https://example.com", ""},
		{"space", []string{"a b"}, nil, "a b", "not an IP"},
		{"numeric name", []string{"127.1"}, nil, "127.1", "not an IP"},
		{"decimal address", []string{"2130706433"}, nil, "2130706433", "not an IP"},
		{"empty label", []string{"a..b"}, nil, "a..b", "not an IP"},
		{"long label", []string{strings.Repeat("a", 64) + ".com"}, nil, "", "not an IP"},
		{"long name", []string{strings.Repeat("abcdefg.", 40) + "com"}, nil, "", "longer"},
		{"empty host", []string{""}, nil, "", "empty"},
		{"no hosts", nil, nil, "", "at least one host"},
		{"port 0", []string{"127.0.0.1"}, []int{0}, "", "port 0"},
		{"port 70000", []string{"127.0.0.1"}, []int{443, 70000}, "", "port 70000"},
		{"no ports", []string{"127.0.0.1"}, []int{}, "", "at least one port"},
		{"too many ports", []string{"127.0.0.1"},
			[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, "", "17 ports"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ports := c.ports
			if ports == nil {
				ports = []int{443}
			}
			err := (Scanner{}).Check(c.hosts, ports)
			var he *HostError
			if !errors.As(err, &he) {
				t.Fatalf("Check(%q, %v) = %v, want a *HostError", c.hosts, ports, err)
			}
			if c.host != "" && (he.Host != c.host || !strings.Contains(err.Error(), c.host)) {
				t.Errorf("error %q names host %q, want %q", err, he.Host, c.host)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to say %q", err, c.want)
			}
		})
	}
}

func TestCheckMaxAddresses(t *testing.T) {
	s := Scanner{MaxAddresses: 10}
	if err := s.Check([]string{"10.0.0.0/29", "a.example", "10.0.0.9"}, []int{443}); err != nil {
		t.Errorf("10 addresses with MaxAddresses 10: %v, want nil", err)
	}
	err := s.Check([]string{"10.0.0.0/29", "a.example", "b.example", "10.0.0.9"}, []int{443})
	if err == nil || !strings.Contains(err.Error(), `"10.0.0.9"`) {
		t.Errorf("11 addresses with MaxAddresses 10: %v, want an error naming 10.0.0.9", err)
	}
}

func TestCheckDropsRepeatedPorts(t *testing.T) {
	ports := make([]int, 40)
	for i := range ports {
		ports[i] = 443 + i%2
	}
	if err := (Scanner{}).Check([]string{"127.0.0.1"}, ports); err != nil {
		t.Errorf("40 ports, 2 of them different: %v, want nil", err)
	}
}

// A range that holds a refused address is accepted, and that address is left out.
func TestRangeSkipsRefusedAddresses(t *testing.T) {
	p, err := (Scanner{}).plan([]string{"100.100.100.192/28"}, []int{443})
	if err != nil {
		t.Fatal(err)
	}
	addrs := p.entries[0].addrs
	if len(addrs) != 15 {
		t.Errorf("got %d addresses, want 15", len(addrs))
	}
	for _, a := range addrs {
		if a == netip.MustParseAddr("100.100.100.200") {
			t.Errorf("the metadata address is among the addresses to scan")
		}
	}
}

func TestRefusal(t *testing.T) {
	cases := map[string]bool{ // address: refused
		"127.0.0.1": false, "10.1.2.3": false, "192.168.1.1": false, "8.8.8.8": false,
		"::1": false, "2001:db8::1": false, "fd00::1": false, "100.64.0.1": false,
		"169.254.169.254": true, "169.254.1.1": true, "fe80::1": true, "fe80::1%lo": true,
		"224.0.0.1": true, "239.255.255.250": true, "ff02::1": true, "0.0.0.0": true,
		"::": true, "255.255.255.255": true, "::ffff:169.254.169.254": true,
		"64:ff9b::a9fe:a9fe": true, "64:ff9b::808:808": false, "fd00:ec2::254": true,
		"168.63.129.16": true, "::ffff:0.0.0.0": true, "fd00::1%eth0": true,
	}
	for s, want := range cases {
		if got := refusal(netip.MustParseAddr(s)) != ""; got != want {
			t.Errorf("refusal(%s) refuses: %v, want %v", s, got, want)
		}
	}
}

// The default dialer's Control hook refuses addresses however they were reached.
func TestDialControl(t *testing.T) {
	cases := map[string]bool{ // address: refused
		"127.0.0.1:443": false, "[::1]:443": false, "169.254.169.254:80": true,
		"[::ffff:169.254.169.254]:80": true, "[fe80::1%eth0]:443": true, "0.0.0.0:443": true,
		"not an address": true,
	}
	for addr, want := range cases {
		err := dialControl("tcp", addr, nil)
		if got := err != nil; got != want {
			t.Errorf("dialControl(%q) = %v, want refused %v", addr, err, want)
		}
	}
}

func FuzzCheck(f *testing.F) {
	seeds := []string{"127.0.0.1", "127.0.0.0/24", "::1", "localhost", "example.internal",
		"169.254.169.254", "169.254.0.0/16", "fe80::1%eth0", "224.0.0.1", "0.0.0.0", "::",
		"10.0.0.0/8", "100.100.100.192/28", "::ffff:169.254.169.254/128", "64:ff9b::/116",
		"a..b", "", "/", "1.2.3.4/-1", "::/0", "0/0", "\x00", "é.example", "[::1]"}
	for _, s := range seeds {
		f.Add(s, 443)
	}
	f.Add("127.0.0.1", 0)
	f.Add("127.0.0.1", 70000)
	f.Add("127.0.0.1", -1)

	f.Fuzz(func(t *testing.T, host string, port int) {
		s := Scanner{}
		p, err := s.plan([]string{host}, []int{port})
		if err != nil {
			if err.Error() == "" {
				t.Errorf("Check(%q, %d): empty error message", host, port)
			}
			return
		}
		if port < 1 || port > 65535 {
			t.Errorf("Check accepted port %d", port)
		}
		n := 0
		for _, e := range p.entries {
			n += len(e.addrs)
			for _, a := range e.addrs {
				if kind := refusal(a); kind != "" {
					t.Errorf("Check(%q) would scan %s, a %s address", host, a, kind)
				}
			}
		}
		if n > DefaultMaxAddresses {
			t.Errorf("Check(%q) would scan %d addresses", host, n)
		}
	})
}
