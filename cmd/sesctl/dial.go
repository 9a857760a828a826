package main

import "github.com/sesbolt/sesbolt/pkg/admin"

// dialSocket returns a Service speaking to the admin socket at path. It
// connects on the first call, which fails with admin.ErrUnavailable when
// no app listens.
func dialSocket(path string) admin.Service { return admin.DialSocket(path) }
