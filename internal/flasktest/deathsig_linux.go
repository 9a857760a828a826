package flasktest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill the child should the test binary die
// first, so no process outlives a crashed or killed test run.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
