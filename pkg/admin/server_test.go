package admin_test

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/admin"
)

// TestServeNil: Serve fails at the call on a nil listener or handler, not
// in its goroutine, where the panic would end the process.
func TestServeNil(t *testing.T) {
	h := admin.NewHandler(admin.NewLocal(newMemstore(t), fixedClock), nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for name, call := range map[string]func(){
		"listener": func() { admin.Serve(nil, h, discard()) },
		"handler":  func() { admin.Serve(l, nil, discard()) },
	} {
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "admin: Serve") {
					t.Errorf("Serve with a nil %s: panic %v, want one prefixed admin: Serve", name, p)
				}
			}()
			call()
		}()
	}
}
