//go:build !unix

package redistest

import (
	"errors"
	"os"
)

// errNoSignals is returned by Pause and Resume where processes have no
// stop and continue signals.
var errNoSignals = errors.New("redistest: pausing a process needs Unix signals")

func pause(*os.Process) error  { return errNoSignals }
func resume(*os.Process) error { return errNoSignals }

// terminate kills p: there is no gentler signal.
func terminate(p *os.Process) { p.Kill() }
