//go:build !linux

package bench

import (
	"os"
	"os/exec"
	"time"
)

// setDeathSignal does nothing where the kernel offers no parent-death
// signal: TestMain stops the server, but a killed run leaves it behind.
func setDeathSignal(cmd *exec.Cmd) {}

// terminate asks p to exit (SIGTERM where there are signals; elsewhere it
// is killed).
func terminate(p *os.Process) {
	if err := p.Signal(os.Interrupt); err != nil {
		p.Kill()
	}
}

// processCPU returns -1: the CPU time of the process is read on Linux only.
func processCPU() time.Duration { return -1 }
