//go:build pprof

package main

import (
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
)

// Built with -tags pprof only: when SESDEMO_PPROF names an address
// (a loopback one, e.g. 127.0.0.1:6060), sesdemo serves net/http/pprof
// there, apart from the demo's own listener and mux. The default build has
// no profiling route.
func init() {
	addr := os.Getenv("SESDEMO_PPROF")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("sesdemo: pprof listener: %v", err)
	}
	go func() { _ = http.Serve(ln, http.DefaultServeMux) }()
}
