package session

import (
	"context"
	"slices"
	"time"
)

// Observer receives a Manager's events (Config.Observer): sessions created,
// logged in and renewed, session cookies rejected, changes dropped or made
// too late. It is the seam for metrics (pkg/metrics turns it into
// Prometheus counters) and for applications that audit logins. What only a
// store sees (sessions ended, commits, reaper passes, seal failures) goes to
// the store's StoreObserver instead.
//
// Every field is optional. A nil field costs one comparison and nothing
// else, so the zero Observer is free: the request path allocates nothing
// more with it. A function is called synchronously on the goroutine of the
// request, with the request's context, after the store confirmed what it
// reports (a session is reported created only once the store holds it). It
// must be safe for concurrent use, return quickly (hand slow work to a
// goroutine of your own) and not panic. Functions never get cookie values;
// a *Record argument is the store's result, which the function must not
// modify.
type Observer struct {
	// Created is called once for every new session the store inserted: the
	// first request that changed a fresh session (set a value, logged in)
	// saved it. rec is the stored record.
	Created func(ctx context.Context, rec *Record)

	// LoggedIn is called once for every login (Session.Login) the store
	// applied, after Created when the login created the session. rec is
	// the stored record: its new ID and its UserID.
	LoggedIn func(ctx context.Context, rec *Record)

	// Renewed is called once for every renew (Session.Renew) of a stored
	// session that the store applied, unless the request also logged in
	// (then LoggedIn reports it). rec is the stored record under its new ID.
	Renewed func(ctx context.Context, rec *Record)

	// CookieRejected is called once for every session cookie of a request
	// that does not lead to a live session, with the reason. A request that
	// carries no session cookie reports nothing.
	CookieRejected func(ctx context.Context, reason CookieReason)

	// Dropped is called once for every change dropped because its session
	// ended or was renewed away before the request saved it (see
	// Manager.Save); Counters.Dropped counts the same.
	Dropped func(ctx context.Context)

	// LateChange is called once for every call that tried to change a
	// session after it was saved, with the method's name ("Set", "Destroy",
	// ...); Counters.LateChanges counts the same. Each is a bug in a
	// handler (see Session, "After the save").
	LateChange func(ctx context.Context, method string)
}

// CookieReason says why a session cookie was rejected (Observer.
// CookieRejected). Its values are fixed, short and safe as a metric label.
type CookieReason string

// Reasons a session cookie is rejected.
const (
	// CookieOversized: the value is longer than MaxCookieSize; it was not
	// decoded.
	CookieOversized CookieReason = "oversized"
	// CookieMalformed: the value is not a cookie of this format (wrong
	// length or encoding), e.g. another application's cookie of the same
	// name.
	CookieMalformed CookieReason = "malformed"
	// CookieBadSignature: the value has the format but no key of the
	// keyring verifies it: a forged or altered cookie, or one signed by a
	// key since removed from the keyring. The store was not asked. With a
	// Config.Codec of the application's, every value the codec refuses
	// (it tells no more).
	CookieBadSignature CookieReason = "bad_signature"
	// CookieUnknownID: the signature verifies, but no live session has the
	// ID: it ended (logout elsewhere, an operator, expiry) or its record
	// failed the store's integrity check.
	CookieUnknownID CookieReason = "unknown_id"
	// CookieRenewed: the ID was renewed away (a login or renew of the same
	// browser, usually a request that raced it) less than RenewGrace ago;
	// see Store, "Renewed IDs". Expected in small numbers.
	CookieRenewed CookieReason = "renewed"
)

// CookieReasons lists every CookieReason, for code that must know them all
// in advance (metrics initialise a counter per reason).
func CookieReasons() []CookieReason {
	return []CookieReason{CookieOversized, CookieMalformed, CookieBadSignature, CookieUnknownID, CookieRenewed}
}

// StoreObserver receives the events only a store sees: sessions ended (with
// the reason), write commits, expiry passes, integrity failures and system
// errors. Every store of this module takes one in its options
// (boltstore.Options.Observer, memstore.Options.Observer) and reports what
// it can know (redisstore.Options.Observer too, but not the records
// Redis deletes by their TTL); each field's comment says who reports it.
//
// Every field is optional; a nil field costs one comparison. A function is
// called synchronously, after the store's step it reports is complete
// (committed, durable) and outside the store's locks and transactions, on
// the goroutine of the call that caused it (the reaper's for expiry
// passes). It must be safe for concurrent use, return quickly and not
// panic: a slow function slows the request (or the reaper) that reports
// it.
type StoreObserver struct {
	// Ended is called once for each session record the store removed:
	// through Store.Apply with Change.Destroy, Store.Delete,
	// UserIndex.DeleteUser and DeleteUserExcept (with the reason the
	// caller put in ctx with WithEndReason, EndOther when none), through
	// Store.Apply with Change.MaxUserSessions (the user's surplus
	// sessions; reason EndLimit), and through its expiry passes (the
	// reaper, Purge, or a TTL the store can observe; reason EndExpired). A record that was not stored (already ended) is not
	// reported, so a session is reported ended exactly once, whoever tries
	// to end it. A renew (Change.NewID) ends no session: the session lives
	// on under its new ID. A record that failed its integrity check is
	// reported too when removed, with the user it names. ctx is the
	// caller's; the store's own for its reaper.
	Ended func(ctx context.Context, e Ended)

	// Committed is called once per write transaction of the store's
	// commit pipeline (boltstore: each group commit; redisstore: each
	// Apply), whether it succeeded or not.
	Committed func(c Commit)

	// Reaped is called once per expiry pass, by the reaper or Purge, also
	// when it removed nothing (so a silent reaper is visible). The pass is
	// also what Stats.LastReap reports. Each record it removed was
	// reported to Ended first.
	Reaped func(r ReapStats)

	// SealFailed is called when a stored record fails its integrity check
	// (once per ID, as Stats.SealFailures counts them), at the end of the
	// operation that found it. The store treats the record as absent.
	SealFailed func(id ID)

	// Failed is called when a store operation fails with a system error
	// (I/O, a damaged file, the network): not for data outcomes
	// (ErrNotFound, ErrExists, ErrTooLarge, ErrInvalid), a closed store, or
	// a cancelled context. op names the operation from a small fixed set
	// of each store (boltstore: "load", "commit", "reap", "list",
	// "stats", ...), safe as a metric label.
	Failed func(op string, err error)
}

// ReportEnded calls o.Ended, if set, once for each of ended in order, with
// Reason set to reason (the elements of ended are not modified). A store
// calls it, outside its locks and transactions, with the sessions one
// operation removed; a nil o.Ended or an empty ended does nothing.
func (o StoreObserver) ReportEnded(ctx context.Context, reason EndReason, ended []Ended) {
	if o.Ended == nil {
		return
	}
	for _, e := range ended {
		e.Reason = reason
		o.Ended(ctx, e)
	}
}

// Ended describes a session a store removed (StoreObserver.Ended).
type Ended struct {
	// ID is the removed session's ID.
	ID ID
	// User is the user the session was bound to; "" for an anonymous one.
	User string
	// Reason says why it ended.
	Reason EndReason
}

// Commit describes one write transaction of a store (StoreObserver.
// Committed).
type Commit struct {
	// Duration is how long the transaction took, from its start to its
	// durable commit (fsync included), counting the reruns of a group
	// that one failed operation made the store run again.
	Duration time.Duration
	// Size is the number of operations (changes, deletes, imports) the
	// transaction carried: the group's size.
	Size int
	// Err is the commit's error; nil when the transaction committed, even
	// if some of its operations failed on their own (not found, ...).
	Err error
}

// EndReason says why a session ended (Ended.Reason). Its values are fixed,
// short and safe as a metric label; the Manager, pkg/admin and the stores
// use the constants below.
type EndReason string

// Reasons a session ends.
const (
	// EndLogout: its user logged out (Session.Destroy), or ended it from
	// another of their sessions (Manager.DestroyUserSession).
	EndLogout EndReason = "logout"
	// EndLogoutEverywhere: its user logged out everywhere
	// (Manager.DestroyUser).
	EndLogoutEverywhere EndReason = "logout_everywhere"
	// EndLogoutOthers: its user signed out their other devices, keeping
	// the session they asked from (Session.DestroyOthers,
	// Manager.DestroyUserExcept).
	EndLogoutOthers EndReason = "logout_others"
	// EndLimit: a login of its user went over Config.MaxUserSessions, and
	// the least recently seen sessions ended (Change.MaxUserSessions).
	EndLimit EndReason = "limit"
	// EndExpired: it expired (idle timeout or absolute lifetime) and an
	// expiry pass removed it: the reaper, Purge (sesctl purge), or a TTL.
	EndExpired EndReason = "expired"
	// EndRevoked: an operator ended it (sesctl expire; pkg/admin).
	EndRevoked EndReason = "revoked"
	// EndOther: removed by a caller that gave no reason (a direct
	// Store.Delete of the application's).
	EndOther EndReason = "other"
)

// EndReasons lists every EndReason, for code that must know them all in
// advance (metrics initialise a counter per reason).
func EndReasons() []EndReason {
	return []EndReason{EndLogout, EndLogoutEverywhere, EndLogoutOthers, EndLimit, EndExpired, EndRevoked, EndOther}
}

// endReasonKey is the context key of an EndReason.
type endReasonKey struct{}

// WithEndReason returns a copy of ctx that tells the store why the
// sessions a call removes end: pass it to Store.Apply (Destroy),
// Store.Delete or UserIndex.DeleteUser, and the store reports each
// removed session with this reason (StoreObserver.Ended). The Manager and
// pkg/admin do so; an application deleting sessions itself may too.
func WithEndReason(ctx context.Context, reason EndReason) context.Context {
	return context.WithValue(ctx, endReasonKey{}, reason)
}

// EndReasonFrom returns the reason WithEndReason put in ctx, or EndOther
// when there is none. Stores call it to report ended sessions.
func EndReasonFrom(ctx context.Context) EndReason {
	if r, ok := ctx.Value(endReasonKey{}).(EndReason); ok && r != "" {
		return r
	}
	return EndOther
}

// JoinObservers returns an Observer that calls the functions of obs, in
// order, for every event; a field that none of obs sets stays nil (and so
// costs nothing).
func JoinObservers(obs ...Observer) Observer {
	obs = slices.Clone(obs)
	var j Observer
	if slices.ContainsFunc(obs, func(o Observer) bool { return o.Created != nil }) {
		j.Created = func(ctx context.Context, rec *Record) {
			for _, o := range obs {
				if o.Created != nil {
					o.Created(ctx, rec)
				}
			}
		}
	}
	if slices.ContainsFunc(obs, func(o Observer) bool { return o.LoggedIn != nil }) {
		j.LoggedIn = func(ctx context.Context, rec *Record) {
			for _, o := range obs {
				if o.LoggedIn != nil {
					o.LoggedIn(ctx, rec)
				}
			}
		}
	}
	if slices.ContainsFunc(obs, func(o Observer) bool { return o.Renewed != nil }) {
		j.Renewed = func(ctx context.Context, rec *Record) {
			for _, o := range obs {
				if o.Renewed != nil {
					o.Renewed(ctx, rec)
				}
			}
		}
	}
	if slices.ContainsFunc(obs, func(o Observer) bool { return o.CookieRejected != nil }) {
		j.CookieRejected = func(ctx context.Context, reason CookieReason) {
			for _, o := range obs {
				if o.CookieRejected != nil {
					o.CookieRejected(ctx, reason)
				}
			}
		}
	}
	if slices.ContainsFunc(obs, func(o Observer) bool { return o.Dropped != nil }) {
		j.Dropped = func(ctx context.Context) {
			for _, o := range obs {
				if o.Dropped != nil {
					o.Dropped(ctx)
				}
			}
		}
	}
	if slices.ContainsFunc(obs, func(o Observer) bool { return o.LateChange != nil }) {
		j.LateChange = func(ctx context.Context, method string) {
			for _, o := range obs {
				if o.LateChange != nil {
					o.LateChange(ctx, method)
				}
			}
		}
	}
	return j
}

// JoinStoreObservers returns a StoreObserver that calls the functions of
// obs, in order, for every event; a field that none of obs sets stays nil.
// An application combines its own hook (say, Ended for an audit log) with
// pkg/metrics' this way.
func JoinStoreObservers(obs ...StoreObserver) StoreObserver {
	obs = slices.Clone(obs)
	var j StoreObserver
	if slices.ContainsFunc(obs, func(o StoreObserver) bool { return o.Ended != nil }) {
		j.Ended = func(ctx context.Context, e Ended) {
			for _, o := range obs {
				if o.Ended != nil {
					o.Ended(ctx, e)
				}
			}
		}
	}
	if slices.ContainsFunc(obs, func(o StoreObserver) bool { return o.Committed != nil }) {
		j.Committed = func(c Commit) {
			for _, o := range obs {
				if o.Committed != nil {
					o.Committed(c)
				}
			}
		}
	}
	if slices.ContainsFunc(obs, func(o StoreObserver) bool { return o.Reaped != nil }) {
		j.Reaped = func(r ReapStats) {
			for _, o := range obs {
				if o.Reaped != nil {
					o.Reaped(r)
				}
			}
		}
	}
	if slices.ContainsFunc(obs, func(o StoreObserver) bool { return o.SealFailed != nil }) {
		j.SealFailed = func(id ID) {
			for _, o := range obs {
				if o.SealFailed != nil {
					o.SealFailed(id)
				}
			}
		}
	}
	if slices.ContainsFunc(obs, func(o StoreObserver) bool { return o.Failed != nil }) {
		j.Failed = func(op string, err error) {
			for _, o := range obs {
				if o.Failed != nil {
					o.Failed(op, err)
				}
			}
		}
	}
	return j
}
