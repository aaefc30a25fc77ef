package netscan

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"

	"certctl/app/agentapi"
)

// results gathers what the connections of a scan find; it is safe for concurrent use.
type results struct {
	mu       sync.Mutex
	found    []agentapi.Discovered
	problems []agentapi.ScanProblem
	// interrupted is set when a lookup or connection was cut short because ctx ended.
	interrupted bool
}

func (r *results) add(d agentapi.Discovered) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.found = append(r.found, d)
}

func (r *results) problem(location, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, agentapi.ScanProblem{Location: location, Error: msg})
}

func (r *results) interrupt() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.interrupted = true
}

// sorted returns the findings and problems in location order: the whole scan's problem
// (Location "") first, then IP addresses in numeric order before host names in text order,
// each by port in numeric order. A host name without a port (it did not resolve) comes
// before the same name with ports.
func (r *results) sorted() ([]agentapi.Discovered, []agentapi.ScanProblem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	slices.SortFunc(r.found, func(a, b agentapi.Discovered) int {
		return cmp.Or(compareLocations(a.Location, b.Location),
			cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	slices.SortFunc(r.problems, func(a, b agentapi.ScanProblem) int {
		return cmp.Or(compareLocations(a.Location, b.Location), cmp.Compare(a.Error, b.Error))
	})
	return r.found, r.problems
}

func compareLocations(a, b string) int {
	if a == "" || b == "" {
		return cmp.Compare(a, b)
	}
	ahost, aport := splitLocation(a)
	bhost, bport := splitLocation(b)
	aaddr, aerr := netip.ParseAddr(ahost)
	baddr, berr := netip.ParseAddr(bhost)
	switch {
	case aerr == nil && berr == nil:
		if c := aaddr.Compare(baddr); c != 0 {
			return c
		}
	case aerr == nil:
		return -1
	case berr == nil:
		return 1
	default:
		if c := cmp.Compare(ahost, bhost); c != 0 {
			return c
		}
	}
	return cmp.Compare(aport, bport)
}

// splitLocation splits "host:port"; a location without a port has port -1.
func splitLocation(loc string) (string, int) {
	host, port, err := net.SplitHostPort(loc)
	if err != nil {
		return loc, -1
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return loc, -1
	}
	return host, n
}
