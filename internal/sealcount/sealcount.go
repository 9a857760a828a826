// Package sealcount counts the stored records that fail their integrity
// check, once per id, for the stores' Stats.SealFailures: a damaged record
// read by every request of its session counts (and is logged) once, not
// once per request. Queue holds the counted ids until the store may report
// them to its observer; Failures is the two together, what a store keeps.
package sealcount

import (
	"sync"
	"sync/atomic"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// MaxRemembered bounds the ids a Counter remembers; beyond it, every
// failure of an id not remembered counts.
const MaxRemembered = 4096

// Counter counts integrity failures once per id. The zero value is ready
// to use; a Counter is safe for concurrent use.
type Counter struct {
	mu   sync.Mutex
	seen map[session.ID]struct{}
	n    atomic.Int64
}

// Add counts a failure of the record of id, unless one was counted for id
// before, and reports whether it counted it (the caller logs it then).
func (c *Counter) Add(id session.ID) bool {
	c.mu.Lock()
	_, seen := c.seen[id]
	if !seen && len(c.seen) < MaxRemembered {
		if c.seen == nil {
			c.seen = make(map[session.ID]struct{})
		}
		c.seen[id] = struct{}{}
	}
	c.mu.Unlock()
	if seen {
		return false
	}
	c.n.Add(1)
	return true
}

// Count returns how many failures were counted.
func (c *Counter) Count() int64 { return c.n.Load() }
