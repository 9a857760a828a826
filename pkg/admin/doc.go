// Package admin is sesbolt's store-agnostic administration API: the
// operations behind sesctl (list, show, expire, purge, stats, check, backup,
// import) as a Service, implemented in-process on any session.Store (Local)
// and over HTTP/JSON (Handler and Client), so the same commands work on a
// database file and on a running application through its admin socket.
package admin
