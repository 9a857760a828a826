//go:build !linux

package bench

import "time"

// processCPU returns -1: the CPU time of the process is read on Linux only.
func processCPU() time.Duration { return -1 }
