package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

func TestConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) session.Store {
		return openChecked(t, filepath.Join(t.TempDir(), "sessions.db"))
	}, sessiontest.Reopen(func(t *testing.T, s session.Store) session.Store {
		// A restart: the file closed and opened again with the same keys.
		bs := s.(*boltstore.Store)
		if err := bs.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return openChecked(t, bs.Path())
	}))
}

// openChecked opens the store at path for a conformance subtest; after the
// subtest the file must still be consistent.
func openChecked(t *testing.T, path string) *boltstore.Store {
	s := openAt(t, path, testOptions(t))
	t.Cleanup(func() {
		rep, err := s.Diagnose(context.Background())
		switch {
		case errors.Is(err, session.ErrClosed):
			// Reopened: the new store is checked.
		case err != nil:
			t.Errorf("Check after subtest: %v", err)
		default:
			for _, p := range rep.Problems {
				t.Errorf("Check after subtest: %s", p)
			}
		}
	})
	return s
}

var _ session.Store = (*boltstore.Store)(nil)
