//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// pause stops p with SIGSTOP.
func pause(p *os.Process) error { return p.Signal(syscall.SIGSTOP) }

// resume continues p with SIGCONT.
func resume(p *os.Process) error { return p.Signal(syscall.SIGCONT) }

// terminate asks p to exit: SIGCONT first, since a paused process cannot act
// on SIGTERM.
func terminate(p *os.Process) {
	p.Signal(syscall.SIGCONT)
	p.Signal(syscall.SIGTERM)
}
