package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// The layout of the Flask recipe (shared/seed/, examples/flask, read by
// redisstore.FlaskStore): in a Redis database, each session under its bare
// id, the session dict as JSON with the user id as one of its keys, the
// TTL the app's permanent_session_lifetime.

// runImportFlask imports the sessions of the recipe's layout in the Redis
// at source: two passes over its keys (FlaskStore.Each), the first to
// validate, the second to import in atomic batches.
func (a *app) runImportFlask(ctx context.Context, o *importOptions, source string) (err error) {
	name := redisstore.RedactURL(source)
	client, err := redisstore.NewClient(source)
	if err != nil {
		return usageErrorf("--from %s: %v", fromFlaskRedis, err) // names the URL without its password
	}
	defer client.Close()
	redisstore.SetClientLogger(nil) // errors come back from the calls
	src, err := redisstore.NewFlask(client, &redisstore.FlaskOptions{UserKey: o.userKey, ReadOnly: true})
	if err != nil {
		return err
	}
	defer src.Close()

	target, err := a.openImportDest(ctx, o.dryRun)
	if err != nil {
		return err
	}
	defer func() { err = joinErr(err, target.release()) }()

	now := a.now().UTC()
	// Pass 1: convert every session, to report the invalid ones before
	// anything is written.
	v := newValidation(a.stderr, name, "session")
	bad := map[session.ID]bool{}
	n := 0
	err = src.Each(ctx, now, func(id session.ID, r *session.Record, err error) error {
		n++
		if err == nil {
			_, err = convertFlask(r, now, o.lifetime)
		}
		if err != nil {
			bad[id] = true
			err = fmt.Errorf("%s: %w", id, err)
		}
		v.check(n, err)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := v.verdict(o.skipInvalid); err != nil {
		return err
	}
	res := importResult{Read: v.valid, Invalid: len(v.bad), DryRun: o.dryRun}
	if o.dryRun {
		return a.printer().Imported(res)
	}

	// Pass 2: import in atomic batches. The sessions live on meanwhile:
	// those that ended since pass 1 are not imported, those that became
	// invalid are left out and reported, those that began are imported.
	if err := target.open(); err != nil {
		return err
	}
	b := newBatcher(ctx, target.svc, o.batch, a.progress(int64(v.valid), "importing", false), "sessions")
	n = 0
	err = src.Each(ctx, now, func(id session.ID, r *session.Record, err error) error {
		if bad[id] {
			return nil
		}
		n++
		if err == nil {
			r, err = convertFlask(r, now, o.lifetime)
		}
		if err != nil {
			fmt.Fprintf(a.stderr, "sesctl: %s: session %s changed since it was validated and is now invalid (%s); left out\n",
				printable(name), id, userText(err.Error()))
			return nil
		}
		return b.add(n, r, recordSize(r))
	})
	err = joinErr(err, b.flush())
	b.bar.Done()
	if err != nil {
		return b.failed(name, err)
	}
	res.Imported = b.imported
	res.Skipped = max(0, res.Read-b.imported)
	return a.printer().Imported(res)
}

// convertFlask turns a session of the recipe's layout (as
// redisstore.FlaskStore reads it) into a session record of sesbolt's
// format. The id stays: the recipe's ids are random UUIDs in canonical
// form, as sesbolt's are, so cookies that name a session still do
// (flasksession.Codec.MigrateTo). The user and the data are carried over
// as they are. The layout keeps no creation time and no absolute
// lifetime, so the session is created and last seen now, with a deadline
// lifetime from now, and its idle expiry is the key's expiry (its TTL), or
// the deadline if that comes first or the key has no TTL.
func convertFlask(r *session.Record, now time.Time, lifetime time.Duration) (*session.Record, error) {
	out := &session.Record{
		ID:          r.ID,
		UserID:      r.UserID,
		Created:     now,
		LastSeen:    now,
		IdleExpires: r.IdleExpires,
		Deadline:    now.Add(lifetime),
		Data:        r.Data,
		Version:     1,
	}
	if out.IdleExpires.After(out.Deadline) {
		out.IdleExpires = out.Deadline
	}
	if err := out.Validate(); err != nil {
		if errors.Is(err, session.ErrInvalid) {
			// Record.Validate names the id, which the caller prints.
			return nil, errors.New(trimRecordPrefix(err.Error(), r.ID))
		}
		return nil, err
	}
	if err := checkStoreLimits(out); err != nil {
		return nil, err
	}
	return out, nil
}

// trimRecordPrefix drops what Record.Validate's message says before its
// reason ("session: invalid input: record: <id>: ").
func trimRecordPrefix(msg string, id session.ID) string {
	for _, p := range []string{session.ErrInvalid.Error() + ": record: " + id.String() + ": ", session.ErrInvalid.Error() + ": record: "} {
		if len(msg) > len(p) && msg[:len(p)] == p {
			return msg[len(p):]
		}
	}
	return msg
}

// recordSize is about the size of r's JSON, for batching by bytes.
func recordSize(r *session.Record) int {
	n := 256 + len(r.UserID)
	for k, v := range r.Data {
		n += len(k) + len(v) + 4
	}
	return n
}
