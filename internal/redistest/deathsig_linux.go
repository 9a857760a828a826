package redistest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill the server should the test binary die
// first, so no redis-server outlives a crashed or killed test run.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
