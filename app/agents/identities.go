package agents

import (
	"sync"

	"certctl/store"
)

// identities keeps the identities of agents that called, by credential hash, while the
// store announces every change to an agent: a poll that finds nothing new then costs no
// database read. It trusts nothing it kept before it heard the store listen, and forgets
// everything whenever the store stops listening.
type identities struct {
	mu     sync.Mutex
	on     bool   // the store listens: kept identities are current
	gen    uint64 // grows with every change heard and every change of on
	byHash map[string]store.AgentIdentity
	hashOf map[string]string // agent ID -> credential hash kept for it
}

func newIdentities() *identities {
	return &identities{byHash: map[string]store.AgentIdentity{}, hashOf: map[string]string{}}
}

// get returns the identity kept for hash, or, when there is none, the generation a caller
// that reads it from the store passes to put.
func (c *identities) get(hash []byte) (store.AgentIdentity, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.byHash[string(hash)]
	return a, c.gen, ok && c.on
}

// put keeps a, read from the store at generation gen, unless a change was heard since: the
// read may have been older than that change.
func (c *identities) put(a store.AgentIdentity, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on || c.gen != gen {
		return
	}
	if old, ok := c.hashOf[a.ID]; ok {
		delete(c.byHash, old)
	}
	c.byHash[string(a.CredentialHash)], c.hashOf[a.ID] = a, string(a.CredentialHash)
}

// changed forgets agent id.
func (c *identities) changed(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if h, ok := c.hashOf[id]; ok {
		delete(c.byHash, h)
		delete(c.hashOf, id)
	}
}

// listening forgets everything and trusts what comes next only when on.
func (c *identities) listening(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.on = on
	clear(c.byHash)
	clear(c.hashOf)
}
