package sealcount

import (
	"sync"
	"sync/atomic"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Queue holds the ids of counted failures not yet reported to an observer.
// A store finds failures where an observer must not run (inside a bbolt
// transaction, or while it holds a Redis store's per-id turn), so it
// pushes them there and drains the queue when the operation is over. The
// zero value is ready to use; a Queue is safe for concurrent use, and
// Drain of an empty queue costs one atomic load.
type Queue struct {
	mu     sync.Mutex
	ids    []session.ID
	queued atomic.Bool // ids is not empty
}

// Push queues id.
func (q *Queue) Push(id session.ID) {
	q.mu.Lock()
	q.ids = append(q.ids, id)
	q.queued.Store(true)
	q.mu.Unlock()
}

// Drain empties the queue and calls f with each id it held, in the order
// they were pushed, outside the queue's lock. A nil f only empties it.
func (q *Queue) Drain(f func(session.ID)) {
	if !q.queued.Load() {
		return
	}
	q.mu.Lock()
	ids := q.ids
	q.ids = nil
	q.queued.Store(false)
	q.mu.Unlock()
	if f == nil {
		return
	}
	for _, id := range ids {
		f(id)
	}
}
