package redistest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill the server should the test binary die
// first, so no redis-server outlives a crashed or killed test run.
//
// Linux sends the signal when the thread that started the child exits, not
// the process. Go ends a thread only when a goroutine locked to it
// (runtime.LockOSThread) returns without unlocking, so a server started
// from such a goroutine would die with it; nothing here starts one so.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
