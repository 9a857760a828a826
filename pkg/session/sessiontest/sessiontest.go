// Package sessiontest is the conformance suite for session.Store
// implementations, plus helpers for writing store tests.
//
// A store package runs the whole suite with one call from its own tests:
//
//	func TestConformance(t *testing.T) {
//		sessiontest.Run(t, func(t *testing.T) session.Store {
//			s := mystore.New(...)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite checks the contract written in package session: the semantics
// of Load, Apply (insert, per-key merge, renew, destroy, no resurrection,
// expiry judged at Change.Now, the tombstone a renew leaves for the old id,
// the persistent flag and last client a record carries, the per-user
// session limit of Change.MaxUserSessions) and Delete, and, when the store
// implements
// them, the optional interfaces session.UserIndex, session.Lister,
// session.StatsReporter, session.Purger, session.Importer and
// session.SharedLoader (their subtests are skipped otherwise; a
// session.Checker must find no problem with tombstones in the store). A
// seeded random sequence of operations is checked against a simple model
// after every step.
//
// RunObserver is a second suite, for stores that take a
// session.StoreObserver: every session they remove is reported once, with
// the caller's reason, and a Purge reports its pass. Recorder records the
// events of both observer seams for a store's own tests.
//
// # Time
//
// Stores judge expiry by the time they are given, so the suite never sleeps:
// every instant is Base plus an offset. Base lies far in the future, so a
// store's own reaper running on the real clock never removes the suite's
// records while a subtest runs. The suite expects an expired record to stay
// stored (visible to List with session.Expired or session.All, counted by
// Stats and Delete) until Delete, DeleteUser or Purge removes it; Load must
// not remove it, and Load at the zero time returns it.
//
// # Assumptions beyond the written contract
//
//   - Anonymous sessions (empty UserID) belong to no user: they are not
//     listed by UserSessions("") and not counted in Stats.Users.
//   - Stats.Users counts distinct users with at least one stored record,
//     live or expired.
//   - A listing may end with one empty page (a store that sets Page.Next on
//     a full last page), but no more.
//
// Size limits are store-specific and not tested here.
//
// # Restarts
//
// A store that keeps its sessions across a restart of the application (a
// file, a server) passes the option Reopen, a function that closes the
// store and opens a new one over the same data; the "Restart" group then
// checks that records (remembered sessions with their own timeouts, the
// last client) come back unchanged. Without it that group is skipped.
//
// # A weaker per-user limit
//
// A store that can enforce session.Change.MaxUserSessions only in a step
// after the change is written (redisstore on Redis Cluster) passes the
// option LimitAfterWrite, and must document the weaker guarantee; only the
// check that concurrent logins never show more than the limit to a reader
// is then relaxed.
//
// # Stores that lack abilities
//
// A store that keeps sessions in a layout it does not own, shared with
// another framework, may be unable to keep all the contract asks for. It
// declares what it lacks with the Lacks option; Run then skips the cases
// that test it, saying so, compares records only on what the store keeps,
// and runs everything else as for any store:
//
//	sessiontest.Run(t, newStore, sessiontest.Lacks(sessiontest.Metadata))
package sessiontest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Expiry durations used by NewRecord.
const (
	// IdleTimeout is the idle expiry of a record made by NewRecord:
	// IdleExpires is its creation time plus IdleTimeout.
	IdleTimeout = 30 * time.Minute
	// Lifetime is the absolute lifetime of a record made by NewRecord:
	// Deadline is its creation time plus Lifetime.
	Lifetime = 12 * time.Hour
)

// Base returns the fixed instant the suite's times are offsets from:
// 2099-06-01 12:00:00 UTC. It lies in the future so that a store's reaper
// running on the real clock leaves records created near Base alone.
func Base() time.Time { return time.Date(2099, time.June, 1, 12, 0, 0, 0, time.UTC) }

// Run runs the conformance suite against the stores newStore makes, one
// subtest per behaviour, grouped by area ("Contract/InsertLoad",
// "UserIndex/Renew", "Random", ...). newStore is called once per subtest,
// must return a fresh, empty store, and registers with t.Cleanup whatever
// closes or removes it. Subtests run one after another, never in parallel.
// Without options the store must have every ability the contract asks for
// (see Lacks).
func Run(t *testing.T, newStore func(t *testing.T) session.Store, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	fresh := func(t *testing.T) session.Store {
		s := newStore(t)
		if s == nil {
			t.Fatal("newStore returned a nil store")
		}
		return s
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					if !o.runs(t, g.name+"/"+c.name) {
						return
					}
					c.run(t, fresh(t))
				})
			}
			for _, c := range g.optionCases {
				t.Run(c.name, func(t *testing.T) {
					if !o.runs(t, g.name+"/"+c.name) {
						return
					}
					c.run(t, fresh(t), o)
				})
			}
		})
	}
	t.Run("Restart", func(t *testing.T) {
		for _, c := range restartCases {
			t.Run(c.name, func(t *testing.T) {
				if o.reopen == nil {
					t.Skip("the store keeps no data across a restart (no sessiontest.Reopen option)")
				}
				c.run(t, fresh(t), o.reopen)
			})
		}
	})
}

// Option configures Run.
type Option func(*options)

type options struct {
	reopen          func(t *testing.T, s session.Store) session.Store
	limitAfterWrite bool
	lacks           Ability // the abilities the store declared it lacks
}

// Reopen gives Run a way to restart a store: reopen closes s, a store made
// by newStore or by reopen itself, and returns a new store over the same
// data, as the application would open it after a restart. It fails t when
// it cannot. With it, Run also runs the "Restart" group.
func Reopen(reopen func(t *testing.T, s session.Store) session.Store) Option {
	return func(o *options) { o.reopen = reopen }
}

// LimitAfterWrite tells Run that the store enforces
// session.Change.MaxUserSessions in a step after the change is written,
// not in the same atomic step, as the contract asks (redisstore on Redis
// Cluster, where a user's index and sessions are in different hash slots).
// The case "UserLimit/Concurrent" then does not require that a reader
// polling UserSessions while logins run never sees more than the limit; it
// still requires exactly the limit live once they returned. Every other
// case is unchanged: when Apply returns, the surplus is gone. A store
// passing this option offers a weaker guarantee and must say so in its
// documentation.
func LimitAfterWrite() Option {
	return func(o *options) { o.limitAfterWrite = true }
}

// lacking returns the abilities of needs that the store lacks.
func (o *options) lacking(needs Ability) Ability { return o.lacks & needs }

// runs prepares t, the test of the case named name ("group/case"): it
// skips it when the store lacks an ability the case needs, and otherwise
// records the options for the checks of the case until it ends.
func (o *options) runs(t *testing.T, name string) bool {
	if a := o.lacking(needs[name]); a != 0 {
		t.Skipf("the store lacks %s (sessiontest.Lacks)", a)
		return false
	}
	running.Store(t, o)
	t.Cleanup(func() { running.Delete(t) })
	return true
}

// Ability is something the contract asks of a store, which a store that
// keeps sessions in a layout it does not own (another framework's) may
// declare it lacks, with Lacks.
type Ability uint

// Abilities a store may lack.
const (
	// Metadata is keeping a record's metadata as written: Created,
	// LastSeen, Client, LastClient, Persistent and Version, and the
	// IdleExpires and Deadline that inserts and changes set. A store lacking it keeps a record's ID,
	// UserID and Data, reports metadata of its own, and expires a record
	// IdleTimeout after the Now of the insert or change that last wrote
	// it, whatever times these carry (a sliding expiry without absolute
	// lifetime: redisstore's Flask layout, which stores the session dict
	// alone under a TTL). Configure such a store to expire records after
	// IdleTimeout.
	Metadata Ability = 1 << iota

	// UserLimit is holding a user to session.Change.MaxUserSessions, which
	// needs finding the user's other sessions. A store lacking it (one
	// without a per-user index in a layout it does not own) fails a change
	// with a positive MaxUserSessions whose result is bound to a user with
	// an error wrapping session.ErrNotSupported, writing nothing; Destroy,
	// and results bound to no user, ignore the limit as the contract says.
	UserLimit
)

// String names the abilities in a.
func (a Ability) String() string {
	var names []string
	if a&Metadata != 0 {
		names = append(names, "metadata (created, last seen, clients, version, persistent, expiry times as written)")
	}
	if a&UserLimit != 0 {
		names = append(names, "a per-user session limit")
	}
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, ", ")
}

// Lacks tells Run that the store lacks the abilities a (bits of Ability,
// or-ed): the cases that test them are skipped, saying which, and the
// other cases compare records only on what such a store keeps (with
// Metadata: ID, UserID and Data). Every other demand stands. A store
// passing this option offers less than the session.Store contract and must
// say so in its documentation.
func Lacks(a Ability) Option {
	return func(o *options) { o.lacks |= a }
}

// running holds the options of each case that runs, by its *testing.T,
// so that the checks deep inside a case (wantEqual and its callers)
// compare records as the options say without every helper taking them.
var running sync.Map // *testing.T → *options

// lacks reports whether the store of the case t runs lacks a. Outside a
// case it reports false.
func lacks(t testing.TB, a Ability) bool {
	o, ok := running.Load(t)
	return ok && o.(*options).lacking(a) != 0
}

// testCase is one leaf subtest of the suite.
type testCase struct {
	name string
	run  func(t *testing.T, s session.Store)
}

// restartCase is a leaf subtest of the "Restart" group, run only with the
// Reopen option, which it gets as reopen.
type restartCase struct {
	name string
	run  func(t *testing.T, s session.Store, reopen func(*testing.T, session.Store) session.Store)
}

// needs lists, by "group/case", the abilities a case tests beyond what
// every store has; the case is skipped for a store that lacks one (Lacks).
var needs = map[string]Ability{
	"Expiry/Deadline":                       Metadata,  // an absolute lifetime
	"Import/InsertsAndSkips":                Metadata,  // Version as imported
	"Observer/UserLimit":                    UserLimit, // RunObserver's case
	"Persistent/OwnTimeouts":                Metadata,  // expiry times as the change sets them
	"Random/Seed1":                          Metadata,  // a model with random idle timeouts
	"Random/Seed2":                          Metadata,
	"UserLimit/InsertEndsLeastRecentlySeen": UserLimit,
	"UserLimit/TiesByID":                    UserLimit,
	"UserLimit/LoginEnds":                   UserLimit,
	"UserLimit/NewOneCounts":                UserLimit,
	"UserLimit/ExpiredNeitherCountNorEnd":   UserLimit,
	"UserLimit/OnlyThatUser":                UserLimit,
	"UserLimit/NoResurrection":              UserLimit,
	"UserLimit/FailedChangeEndsNothing":     UserLimit,
	"UserLimit/Concurrent":                  UserLimit,
}

// optionCase is a leaf subtest whose demands depend on Run's options.
type optionCase struct {
	name string
	run  func(t *testing.T, s session.Store, o options)
}

// group is a named set of test cases, run as one subtest: cases, then
// optionCases.
type group struct {
	name        string
	cases       []testCase
	optionCases []optionCase
}

// groups is the suite but for the "Restart" group, in the order Run runs
// it.
var groups = []group{
	{name: "Contract", cases: contractCases},
	{name: "Merge", cases: mergeCases},
	{name: "NoResurrection", cases: noResurrectionCases},
	{name: "Expiry", cases: expiryCases},
	{name: "Renew", cases: renewCases},
	{name: "Renewed", cases: renewedCases},
	{name: "UserIndex", cases: userIndexCases},
	{name: "List", cases: listCases},
	{name: "Stats", cases: statsCases},
	{name: "Purge", cases: purgeCases},
	{name: "Import", cases: importCases},
	{name: "SharedLoader", cases: sharedCases},
	{name: "Persistent", cases: persistentCases},
	{name: "UserLimit", cases: userLimitCases, optionCases: userLimitOptionCases},
	{name: "DeleteUserExcept", cases: deleteUserExceptCases},
	{name: "Random", cases: randomCases},
}

// The "Restart" group (restartCases) runs after these, with Reopen only.

// NewRecord returns a complete record ready to insert: it has the given id
// and user (empty for an anonymous session), Created and LastSeen at now,
// IdleExpires at now+IdleTimeout, Deadline at now+Lifetime, a fixed
// ClientInfo (also as LastClient, as a new session has), and one data key
// "seed" holding the id as a JSON string (so
// Data is never empty and records differ). Version is zero: stores set it to
// 1 on insert. Each call returns a new record the caller may change.
func NewRecord(id session.ID, user string, now time.Time) *session.Record {
	return &session.Record{
		ID:          id,
		UserID:      user,
		Created:     now,
		LastSeen:    now,
		IdleExpires: now.Add(IdleTimeout),
		Deadline:    now.Add(Lifetime),
		Client:      session.ClientInfo{IP: "192.0.2.1", UserAgent: "sessiontest/1"},
		LastClient:  session.ClientInfo{IP: "192.0.2.1", UserAgent: "sessiontest/1"},
		Data:        map[string]json.RawMessage{"seed": jsonValue(id.String())},
	}
}

// CreateChange returns the change that inserts r, with Now at r.Created.
// The change refers to r; it does not copy it.
func CreateChange(r *session.Record) *session.Change {
	return &session.Change{ID: r.ID, Now: r.Created, Create: r}
}

// Insert inserts each record into s with CreateChange and returns what Apply
// returned for each, in order. It fails the test at the first error. The
// context is t.Context().
func Insert(t testing.TB, s session.Store, recs ...*session.Record) []*session.Record {
	t.Helper()
	out := make([]*session.Record, 0, len(recs))
	for _, r := range recs {
		got, err := s.Apply(t.Context(), CreateChange(r))
		if err != nil {
			t.Fatalf("inserting %s: %v", r.ID, err)
		}
		out = append(out, got)
	}
	return out
}

// SeqID returns a deterministic, valid (version 4, RFC 4122 variant) session
// ID for n. IDs sort by n: SeqID(a) < SeqID(b) in byte order when a < b,
// for n below 2^48. Useful for tests that need known ids or a known listing
// order; real sessions use session.NewID.
func SeqID(n uint64) session.ID {
	var id session.ID
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	copy(id[0:6], b[2:8]) // the low 48 bits, big-endian
	id[6] = 0x40          // version 4
	id[8] = 0x80          // RFC 4122 variant
	return id
}

// jsonValue returns v encoded as compact JSON. It is for the suite's own
// values, which always encode.
func jsonValue(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}

// ctx returns the context the suite passes to stores.
func ctx(t testing.TB) context.Context { return t.Context() }
