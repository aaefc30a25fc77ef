package certs

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
)

// Names are a certificate's subject names, sorted by kind.
type Names struct {
	CommonName string
	DNS        []string
	IPs        []net.IP
	Emails     []string
	URIs       []*url.URL
}

// Empty reports whether there is no name at all.
func (n Names) Empty() bool {
	return n.CommonName == "" && len(n.DNS) == 0 && len(n.IPs) == 0 && len(n.Emails) == 0 &&
		len(n.URIs) == 0
}

// ParseNames sorts plain SAN strings into their kinds: IP addresses, e-mail addresses, URIs
// (anything with a scheme) and DNS names. A common name that is a DNS name or IP address and
// missing from the SANs is added to them, since clients match SANs only.
func ParseNames(commonName string, sans []string) (Names, error) {
	n := Names{CommonName: strings.TrimSpace(commonName)}
	all := slices.Clone(sans)
	if n.CommonName != "" {
		all = append(all, n.CommonName)
	}
	for _, s := range all {
		if err := n.add(strings.TrimSpace(s)); err != nil {
			return Names{}, err
		}
	}
	return n, nil
}

func (n *Names) add(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("a name is empty")
	case net.ParseIP(s) != nil:
		ip := net.ParseIP(s)
		if !slices.ContainsFunc(n.IPs, ip.Equal) {
			n.IPs = append(n.IPs, ip)
		}
	case strings.Contains(s, "://") || strings.HasPrefix(s, "urn:"):
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Host == "" && u.Opaque == "" && u.Path == "" {
			return fmt.Errorf("%q is not a valid URI", s)
		}
		if !slices.ContainsFunc(n.URIs, func(x *url.URL) bool { return x.String() == s }) {
			n.URIs = append(n.URIs, u)
		}
	case strings.Contains(s, "@"):
		a, err := mail.ParseAddress(s)
		if err != nil || a.Address != s {
			return fmt.Errorf("%q is not a valid e-mail address", s)
		}
		n.Emails = appendNew(n.Emails, s)
	default:
		d := strings.ToLower(strings.TrimSuffix(s, "."))
		if err := checkDNSName(d); err != nil {
			return err
		}
		n.DNS = appendNew(n.DNS, d)
	}
	return nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// checkDNSName accepts host names of letters, digits and hyphens, with an optional leading
// "*." wildcard label.
func checkDNSName(d string) error {
	name := strings.TrimPrefix(d, "*.")
	if len(d) > 253 || name == "" {
		return fmt.Errorf("%q is not a valid DNS name", d)
	}
	for _, label := range strings.Split(name, ".") {
		if !validLabel(label) {
			return fmt.Errorf("%q is not a valid DNS name (label %q)", d, label)
		}
	}
	return nil
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Strings lists every SAN in its canonical text form, as the inventory stores them.
func (n Names) Strings() []string {
	out := slices.Clone(n.DNS)
	for _, ip := range n.IPs {
		out = append(out, ip.String())
	}
	out = append(out, n.Emails...)
	for _, u := range n.URIs {
		out = append(out, u.String())
	}
	return out
}
