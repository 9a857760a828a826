package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseProcLocks(t *testing.T) {
	const locks = `1: POSIX  ADVISORY  WRITE 99 08:02:1234 0 EOF
2: FLOCK  ADVISORY  WRITE 4242 fe:00:9982418 0 EOF
2: -> FLOCK  ADVISORY  WRITE 4343 fe:00:9982418 0 EOF
3: FLOCK  ADVISORY  READ 17 fe:00:9982418 0 EOF
4: FLOCK  ADVISORY  READ 18 fe:01:9982418 0 EOF
5: FLOCK  ADVISORY  READ -1 fe:00:9982418 0 EOF
garbage
`
	dev := uint64(0xfe << 8) // major 254, minor 0
	got := parseProcLocks(strings.NewReader(locks), dev, 9982418)
	if fmt.Sprint(got) != "[17 4242]" {
		t.Errorf("got %v, want [17 4242]", got)
	}
}
