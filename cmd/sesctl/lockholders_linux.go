package main

import (
	"bufio"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockHolders returns the ids of the processes holding a lock on path, read
// from /proc/locks by the file's device and inode; nil when none is found
// or /proc is unavailable. Processes of another pid namespace show as 0 or
// -1 there and are left out.
func lockHolders(path string) []int {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseProcLocks(f, uint64(st.Dev), uint64(st.Ino))
}

// parseProcLocks reads /proc/locks lines such as
//
//	1: FLOCK  ADVISORY  WRITE 4242 08:02:1573146 0 EOF
//	1: -> FLOCK  ADVISORY  READ 4343 08:02:1573146 0 EOF
//
// and returns the pids holding (not waiting for, "->") a lock on the file
// with device dev and inode ino. The device is major:minor in hex, the
// inode in decimal.
func parseProcLocks(r io.Reader, dev, ino uint64) []int {
	major, minor := uint64(unix.Major(dev)), uint64(unix.Minor(dev))
	var pids []int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && fields[1] == "->" {
			continue // a waiter, not a holder
		}
		if len(fields) < 6 {
			continue
		}
		parts := strings.Split(fields[5], ":")
		if len(parts) != 3 {
			continue
		}
		ma, err1 := strconv.ParseUint(parts[0], 16, 64)
		mi, err2 := strconv.ParseUint(parts[1], 16, 64)
		in, err3 := strconv.ParseUint(parts[2], 10, 64)
		pid, err4 := strconv.Atoi(fields[4])
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		if ma == major && mi == minor && in == ino && pid > 0 && !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}
