package session

import "context"

// ctxKey is the context key for the request's session; unexported so no
// other package can collide with it.
type ctxKey struct{}

// NewContext returns a copy of ctx carrying s.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the session carried by ctx, and false when there is
// none (the handler is not behind middleware.LoadAndSave).
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	return s, ok && s != nil
}
