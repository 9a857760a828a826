package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

func TestConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) session.Store {
		s := openAt(t, filepath.Join(t.TempDir(), "sessions.db"), testOptions(t))
		// After each subtest, the file must still be consistent.
		t.Cleanup(func() {
			if rep, err := s.Diagnose(context.Background()); err != nil {
				t.Errorf("Check after subtest: %v", err)
			} else {
				for _, p := range rep.Problems {
					t.Errorf("Check after subtest: %s", p)
				}
			}
		})
		return s
	})
}

var _ session.Store = (*boltstore.Store)(nil)
