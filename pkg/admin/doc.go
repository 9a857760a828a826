// Package admin is sesbolt's store-agnostic administration API: the
// operations behind sesctl (list, show, expire, purge, stats, check, backup,
// import) as a Service, implemented in-process on any session.Store (Local)
// and over HTTP/JSON (Handler and Client), so the same commands work on a
// database file and on a running application through its admin socket.
//
// # Pieces
//
//   - Service: the operations. Local implements it on a store in this
//     process; Client implements it over HTTP.
//   - NewHandler: the HTTP/JSON API (routes under /v1/, documented in
//     docs/admin-api.md) serving any Service. Errors are JSON objects with
//     a stable code; Client maps the codes back to the session sentinels,
//     so errors.Is(err, session.ErrNotFound) works the same through HTTP.
//   - ServeSocket: the admin socket, the one line an application adds so
//     that sesctl reaches its store while it runs. bbolt locks its file,
//     so while the application runs no other process can open it; stores
//     start no listener of their own (a library opens files, the
//     application decides what to serve). The socket goes beside the
//     store's file by default (FILE.sock, for a FileBacked store), is
//     created with mode 0600, and admits only peers whose uid is the
//     server's or root's. ListenSocket and Serve are its two halves, for a
//     handler of one's own.
//   - DialSocket: a Client of that socket, which fails fast with
//     ErrUnavailable when nothing serves it.
//   - Info: which database file a service serves (GET /v1/info), so that
//     sesctl refuses to write a backup over it.
//
// An application wires it up like this, after opening its store:
//
//	adm, err := admin.ServeSocket(store, "", nil) // sessions.db.sock beside sessions.db
//	if err != nil { ... }
//	defer adm.Close() // deferred after store.Close, so it runs first: waits for requests, removes the socket
//
// and sesctl talks to it:
//
//	c := admin.DialSocket(dbPath + admin.SocketSuffix)
//	defer c.Close()
//	page, err := c.List(ctx, admin.ListQuery{User: "alice"})
//	if errors.Is(err, admin.ErrUnavailable) { /* the app is not running, or serves no socket */ }
//
// # Caveats
//
//   - The handler does no authentication. On the admin socket the file mode
//     and the peer-uid check are the access control; an application that
//     mounts NewHandler on its own server must put it behind its own
//     authentication and authorization. State-changing requests require a
//     JSON (or JSON-lines) Content-Type, so a browser cannot forge them
//     cross-site without a CORS preflight, but that is no substitute for
//     authentication.
//   - The peer-credential check reads SO_PEERCRED on Linux and
//     LOCAL_PEERCRED on macOS. On other Unix systems Serve refuses every
//     peer (fail closed); on Windows, where a Unix socket carries no peer
//     credentials, ListenSocket and ServeSocket fail with
//     ErrSocketUnsupported. There, use sesctl on the database file while
//     the application is stopped.
//   - GET /v1/backup streams: once the first byte is sent the status is
//     200, so a later failure is reported in the Sesbolt-Backup-Error
//     trailer, and the byte count in Sesbolt-Backup-Bytes. Client.Backup
//     checks both; a proxy that drops HTTP trailers makes every backup
//     through it fail with ErrTruncated rather than pass unchecked.
//   - Client calls have no overall timeout (a backup or a check of a large
//     store takes as long as it takes); only the dial is bounded
//     (DefaultDialTimeout). Bound calls with the context.
//   - Client.Expire sends more than MaxExpireIDs ids in several requests,
//     so such a call is not atomic. Every other call is one request.
//   - Imports are limited to HandlerOptions.MaxImportBytes (64 MiB by
//     default) per request and are validated whole before anything is
//     written.
package admin
