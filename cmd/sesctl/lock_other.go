//go:build !unix || solaris || aix

package main

// heldByOther cannot tell on this system (bbolt locks with LockFileEx on
// Windows and fcntl on Solaris and AIX); opening the file then fails after
// the lock timeout instead, and the admin socket is used only with
// --socket.
func heldByOther(string) (bool, error) { return false, nil }
