package bench

import (
	"fmt"
	"strings"
	"testing"
)

// httpSessions is the number of existing sessions the read and set cases
// cycle through: more than the goroutines, so no two concurrent requests
// share a session.
const httpSessions = 1000

// BenchmarkHTTP runs each case through each contender's middleware, at 1
// and 64 goroutines. ns/op is wall time per request; at 64 goroutines that
// is the inverse of the group's throughput.
func BenchmarkHTTP(b *testing.B) {
	for _, g := range []int{1, 64} {
		b.Run(fmt.Sprintf("case=all/store=bare/g=%d", g), func(b *testing.B) {
			runRequests(b, g, bareHandler, newRequester("/", nil), true)
		})
	}
	for _, k := range []caseKind{caseRead, caseSet, caseNew} {
		for _, c := range contenders {
			for _, g := range []int{1, 64} {
				b.Run(fmt.Sprintf("case=%s/store=%s/g=%d", k, c.name, g), func(b *testing.B) {
					in := c.open(b, b.TempDir(), httpSessions)
					defer in.close()
					rq := newRequester("/", in.cookies)
					if k == caseNew {
						rq = newRequester("/", nil)
					}
					runRequests(b, g, in.handler(k), rq, strings.HasPrefix(c.name, "sesbolt"))
				})
			}
		}
	}
}
