package boltstore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// cancelledOnceAsked is a context that is live when first asked (List's
// check on entry) and cancelled afterwards: cancelled while List walks.
type cancelledOnceAsked struct {
	context.Context
	asked atomic.Int32
}

func (c *cancelledOnceAsked) Err() error {
	if c.asked.Add(1) == 1 {
		return nil
	}
	return context.Canceled
}

// TestListCancelledMidWalk: a page that skips many records (here every
// one of 5000: expired ones for a listing of live sessions, due but live
// ones for a listing of expired sessions) notices a context cancelled
// while it walks, in each of the three walks, instead of reading on to the
// end of the file.
func TestListCancelledMidWalk(t *testing.T) {
	s, _ := openTemp(t)
	ctx, base := context.Background(), sessiontest.Base()
	recs := make([]*session.Record, 5000)
	for i := range recs {
		// Expiring from 30m10s after base, all within one minute.
		recs[i] = sessiontest.NewRecord(session.NewID(), "u", base.Add(10*time.Second+time.Duration(i)*time.Millisecond))
	}
	if n, err := s.Import(ctx, recs, base); err != nil || n != len(recs) {
		t.Fatalf("Import = %d, %v", n, err)
	}
	expired := base.Add(sessiontest.IdleTimeout + time.Hour)
	dueNotExpired := base.Add(sessiontest.IdleTimeout + 5*time.Second)
	for name, q := range map[string]session.ListQuery{
		"by id":     {Filter: session.Live, Now: expired},
		"by user":   {Filter: session.Live, Now: expired, User: "u"},
		"by expiry": {Filter: session.Expired, Now: dueNotExpired},
	} {
		t.Run(name, func(t *testing.T) {
			// Uncancelled, the walk reads every record and lists none.
			if p, err := s.List(ctx, q); err != nil || len(p.Records) != 0 || !p.Next.IsZero() {
				t.Fatalf("List = %d records, next %q, %v; want an empty last page", len(p.Records), p.Next, err)
			}
			p, err := s.List(&cancelledOnceAsked{Context: ctx}, q)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("List cancelled mid-walk = %d records, %v; want context.Canceled", len(p.Records), err)
			}
		})
	}
}
