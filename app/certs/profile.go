package certs

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"certctl/app/valid"
	"certctl/store"
)

// CheckNames records in e every way names break profile p: a name kind the profile does not
// allow, or a DNS name outside its patterns.
func CheckNames(e valid.Errors, field string, p store.Profile, n Names) {
	if n.Empty() {
		e.Add(field, "a certificate needs at least one name")
		return
	}
	switch {
	case len(n.IPs) > 0 && !p.AllowIP:
		e.Add(field, fmt.Sprintf("profile %s does not allow IP addresses", p.ID))
	case len(n.Emails) > 0 && !p.AllowEmail:
		e.Add(field, fmt.Sprintf("profile %s does not allow e-mail addresses", p.ID))
	case len(n.URIs) > 0 && !p.AllowURI:
		e.Add(field, fmt.Sprintf("profile %s does not allow URIs", p.ID))
	}
	for _, d := range n.DNS {
		if !matchesAny(d, p.SANPatterns) {
			e.Add(field, fmt.Sprintf("%s is outside the names profile %s allows (%s)", d, p.ID,
				strings.Join(p.SANPatterns, ", ")))
			return
		}
	}
}

// matchesAny reports whether name matches one of patterns; no patterns match everything. A
// "*" in a pattern stands for exactly one DNS label.
func matchesAny(name string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		p = strings.ToLower(p)
		if strings.Count(p, ".") != strings.Count(name, ".") {
			continue
		}
		if ok, _ := path.Match(strings.ReplaceAll(p, ".", "/"),
			strings.ReplaceAll(name, ".", "/")); ok {
			return true
		}
	}
	return false
}

// CheckKey records in e a key spec the profile does not allow.
func CheckKey(e valid.Errors, field string, p store.Profile, spec string) {
	if !slices.Contains(p.KeyTypes, spec) {
		e.Add(field, fmt.Sprintf("profile %s allows %s keys, not %s", p.ID,
			strings.Join(p.KeyTypes, ", "), spec))
	}
}

// Lifetime is how long certificates issued under p live: its maximum.
func Lifetime(p store.Profile) time.Duration {
	if p.MaxLifetime <= 0 {
		return 90 * 24 * time.Hour
	}
	return p.MaxLifetime
}
