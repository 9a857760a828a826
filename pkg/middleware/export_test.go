package middleware

// ResetPlainHTTPWarning forgets that the once-per-process plain-HTTP
// warning was logged, so that a test can watch for it again.
func ResetPlainHTTPWarning() { plainHTTPWarned.Store(false) }
