package sessiontest

import (
	"context"
	"slices"
	"sync"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Recorder records the events of a session.Observer and of a
// session.StoreObserver, for tests that check that each event fires
// exactly once with the right details. It is safe for concurrent use; the
// zero Recorder is ready. Its accessors return copies, in the order the
// events came.
type Recorder struct {
	mu         sync.Mutex
	created    []session.ID
	loggedIn   []session.ID
	renewed    []session.ID
	rejected   []session.CookieReason
	dropped    int
	late       []string
	ended      []session.Ended
	commits    []session.Commit
	reaped     []session.ReapStats
	sealFailed []session.ID
	failed     []string
	order      []string // event kinds in order: "ended", "reaped", ...
}

// Observer returns an Observer that records every Manager event: the IDs
// of the records Created, LoggedIn and Renewed report, the reasons of
// CookieRejected, the count of Dropped and the methods of LateChange.
func (r *Recorder) Observer() session.Observer {
	return session.Observer{
		Created:  func(_ context.Context, rec *session.Record) { r.add("created", &r.created, rec.ID) },
		LoggedIn: func(_ context.Context, rec *session.Record) { r.add("logged_in", &r.loggedIn, rec.ID) },
		Renewed:  func(_ context.Context, rec *session.Record) { r.add("renewed", &r.renewed, rec.ID) },
		CookieRejected: func(_ context.Context, reason session.CookieReason) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.rejected = append(r.rejected, reason)
			r.order = append(r.order, "cookie_rejected")
		},
		Dropped: func(context.Context) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.dropped++
			r.order = append(r.order, "dropped")
		},
		LateChange: func(_ context.Context, method string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.late = append(r.late, method)
			r.order = append(r.order, "late_change")
		},
	}
}

// StoreObserver returns a StoreObserver that records every store event.
func (r *Recorder) StoreObserver() session.StoreObserver {
	return session.StoreObserver{
		Ended: func(_ context.Context, e session.Ended) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.ended = append(r.ended, e)
			r.order = append(r.order, "ended")
		},
		Committed: func(c session.Commit) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.commits = append(r.commits, c)
			r.order = append(r.order, "committed")
		},
		Reaped: func(p session.ReapStats) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.reaped = append(r.reaped, p)
			r.order = append(r.order, "reaped")
		},
		SealFailed: func(id session.ID) { r.add("seal_failed", &r.sealFailed, id) },
		Failed: func(op string, _ error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.failed = append(r.failed, op)
			r.order = append(r.order, "failed")
		},
	}
}

func (r *Recorder) add(kind string, list *[]session.ID, id session.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, id)
	r.order = append(r.order, kind)
}

// Created returns the IDs Observer.Created reported.
func (r *Recorder) Created() []session.ID { return get(r, &r.created) }

// LoggedIn returns the IDs Observer.LoggedIn reported.
func (r *Recorder) LoggedIn() []session.ID { return get(r, &r.loggedIn) }

// Renewed returns the IDs Observer.Renewed reported.
func (r *Recorder) Renewed() []session.ID { return get(r, &r.renewed) }

// Rejected returns the reasons Observer.CookieRejected reported.
func (r *Recorder) Rejected() []session.CookieReason { return get(r, &r.rejected) }

// Dropped returns how many times Observer.Dropped was called.
func (r *Recorder) Dropped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// LateChanges returns the methods Observer.LateChange reported.
func (r *Recorder) LateChanges() []string { return get(r, &r.late) }

// Ended returns what StoreObserver.Ended reported.
func (r *Recorder) Ended() []session.Ended { return get(r, &r.ended) }

// Commits returns what StoreObserver.Committed reported.
func (r *Recorder) Commits() []session.Commit { return get(r, &r.commits) }

// Reaped returns the passes StoreObserver.Reaped reported.
func (r *Recorder) Reaped() []session.ReapStats { return get(r, &r.reaped) }

// SealFailures returns the IDs StoreObserver.SealFailed reported.
func (r *Recorder) SealFailures() []session.ID { return get(r, &r.sealFailed) }

// Failures returns the ops StoreObserver.Failed reported.
func (r *Recorder) Failures() []string { return get(r, &r.failed) }

// Order returns the kinds of every event so far, in order: "created",
// "logged_in", "renewed", "cookie_rejected", "dropped", "late_change",
// "ended", "committed", "reaped", "seal_failed", "failed".
func (r *Recorder) Order() []string { return get(r, &r.order) }

// Reset forgets every event recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created, r.loggedIn, r.renewed, r.rejected, r.dropped, r.late = nil, nil, nil, nil, 0, nil
	r.ended, r.commits, r.reaped, r.sealFailed, r.failed, r.order = nil, nil, nil, nil, nil, nil
}

func get[T any](r *Recorder, list *[]T) []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(*list)
}
