package flasksession

import "github.com/sesbolt/sesbolt/pkg/session"

// MigratedKeyIndex is the smallest key index a codec made by
// Codec.MigrateTo reports for a cookie in the recipe's format: past any
// key index of the codec it migrates to, so the Manager re-issues the
// cookie in that codec's format.
const MigratedKeyIndex = 1 << 16

// MigrateTo returns a session.CookieCodec for leaving the recipe's cookie
// for next (sesbolt's own: Keyring.CookieCodec): it encodes with next, and
// decodes with next first and then with c. A value c verifies reports key
// index MigratedKeyIndex plus c's own, so a session.Manager using the
// returned codec re-issues such a cookie in next's format on the request
// that brings it (after the store confirmed the session, as for a rotated
// key). Sessions keep their ids, so none ends: browsers move to the new
// cookie as they come back.
//
// The Manager reads one cookie name: keep the name the Flask app used
// (CookieName) while c verifies cookies, and give the codec of that name
// as next (Keyring.CookieCodec(CookieName)). Once no cookie in the
// recipe's format can name a live session any more (the sessions stored
// before the switch have expired), drop c: use next alone, and drop the
// Flask secret. The result is safe for concurrent use when next is.
func (c *Codec) MigrateTo(next session.CookieCodec) session.CookieCodec {
	return &migratingCodec{next: next, old: c}
}

// migratingCodec is the codec MigrateTo returns.
type migratingCodec struct {
	next session.CookieCodec
	old  *Codec
}

func (m *migratingCodec) Encode(id session.ID) string { return m.next.Encode(id) }

func (m *migratingCodec) Decode(value string) (session.ID, int, bool) {
	if id, i, ok := m.next.Decode(value); ok {
		return id, i, true
	}
	if id, i, ok := m.old.Decode(value); ok {
		return id, MigratedKeyIndex + i, true
	}
	return session.ID{}, 0, false
}
