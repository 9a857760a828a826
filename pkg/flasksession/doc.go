// Package flasksession lets a Go service with sesbolt share sessions with a
// Flask application that keeps them server-side the way the recipe in
// shared/seed/ does: a random UUID as the session id, signed by
// itsdangerous into the "session" cookie, and the session dict stored as
// JSON under the bare id.
//
// This package holds the cookie side. Signer is itsdangerous's Signer with
// key_derivation='hmac' (the recipe's Signer(app.secret_key,
// salt='flask-session', key_derivation='hmac')), byte for byte: the same
// secrets sign the same value to the same string. Codec wraps it as a
// session.CookieCodec, so a session.Manager configured with it reads the
// Flask app's cookies and writes cookies the Flask app reads:
//
//	secrets, err := flasksession.LoadSecretFile("flask-secret")
//	...
//	codec, err := flasksession.NewCodec(secrets, nil) // salt flask-session, SHA-1
//	...
//	mgr, err := session.New(session.Config{
//		Store:  store, // a store with the recipe's layout
//		Codec:  codec,
//		Cookie: session.CookieOptions{Name: flasksession.CookieName},
//	})
//
// Secrets rotate as in itsdangerous: a list, oldest first and newest last;
// the newest signs and all verify. A cookie an older secret verified is
// re-issued by the Manager under the newest, as with a sesbolt Keyring (whose
// key files list keys the other way round, newest first).
//
// When the Flask app is gone, Codec.MigrateTo moves browsers to sesbolt's
// own cookie without ending their sessions: it reads both formats and the
// Manager re-issues the recipe's cookies in the new one.
//
// docs/flask.md describes running a Flask app and a Go service side by side
// during a migration, and moving to sesbolt's own format afterwards.
//
// # Caveats
//
//   - The format is weaker than sesbolt's own, by compatibility: the tag is
//     HMAC-SHA1 (160 bits; HMAC-SHA1 has no known practical forgery, but
//     Options.Digest can only change it if the Flask app changes too), the
//     cookie name is not signed, and the secret is used as given, however
//     short: a Flask secret_key should be at least 32 random bytes.
//   - Only key_derivation='hmac' and the '.' separator are supported; they
//     are what the recipe and the Flask-Session extension use. Flask's own
//     default session cookie (SecureCookieSessionInterface: the data itself
//     in a timestamped, serialized cookie) is a different format.
//   - Unsign and Decode read only the canonical signatures itsdangerous
//     writes; itsdangerous's lenient base64 decoding also accepts padded or
//     otherwise altered spellings of a valid signature, which are refused
//     here. Decode also refuses a validly signed value that is not a
//     canonical lower-case UUID: the recipe only ever signs str(uuid4()).
package flasksession
