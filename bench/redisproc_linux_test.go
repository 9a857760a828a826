package bench

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// setDeathSignal has the kernel kill the server should the benchmark
// process die first, so no redis-server outlives a crashed or killed run.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// terminate asks p to exit.
func terminate(p *os.Process) { p.Signal(syscall.SIGTERM) }

// processCPU returns the CPU time this process has used, user and system,
// or -1 when it cannot tell.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
