package sealcount

import "github.com/sesbolt/sesbolt/pkg/session"

// Failures is what a store keeps of the records that fail their integrity
// check: the once-per-id Counter behind Stats.SealFailures, and the Queue
// of counted ids awaiting the observer's SealFailed. The zero value counts
// and reports to no one; set Report before the store is used. A Failures
// is safe for concurrent use.
type Failures struct {
	// Report is the observer's SealFailed; nil: counted ids are not
	// queued. It is called by Deliver only.
	Report func(id session.ID)

	counter Counter
	pending Queue
}

// Add counts a failure of the record of id, once per id (see Counter.Add),
// and queues a counted id for Report. It reports whether it counted it:
// the caller logs it then. It never calls Report, so it may run where an
// observer must not (inside a transaction, or holding a turn).
func (f *Failures) Add(id session.ID) bool {
	if !f.counter.Add(id) {
		return false
	}
	if f.Report != nil {
		f.pending.Push(id)
	}
	return true
}

// Count returns how many failures were counted.
func (f *Failures) Count() int64 { return f.counter.Count() }

// Deliver calls Report with each id queued since the last Deliver, in the
// order they were counted. A store calls it when an operation is over; with
// nothing queued it costs one atomic load.
func (f *Failures) Deliver() { f.pending.Drain(f.Report) }
