package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sesbolt/sesbolt/pkg/flasksession"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// flaskPingTimeout bounds the check, at startup, that Redis answers.
const flaskPingTimeout = 10 * time.Second

// checkFlaskFlags checks the flags of the Flask mode: -flask-secret-file
// with -redis, and none of the flags that mean nothing there. set names
// the flags given; bad reports a bad command line.
func checkFlaskFlags(o options, set map[string]bool, bad func(string, ...any) (options, error)) (options, error) {
	if o.flaskSecret == "" {
		if set["flask-user-key"] {
			return bad("-flask-user-key needs -flask-secret-file")
		}
		return o, nil
	}
	switch {
	case o.redis == "":
		return bad("-flask-secret-file needs -redis URL: the Redis the Flask app keeps its sessions in")
	case o.flaskUserKey == "":
		return bad("-flask-user-key must not be empty")
	case set["keys"]:
		return bad("-keys does not apply with -flask-secret-file: the Flask app's secret signs the cookies, and the recipe's layout has no seals")
	case set["lifetime"]:
		return bad("-lifetime does not apply with -flask-secret-file: the recipe's layout has no absolute lifetime; -idle is the Flask app's permanent_session_lifetime")
	case o.maxSessions > 0:
		return bad("-max-sessions does not apply with -flask-secret-file: the recipe's layout has no per-user index to find a user's sessions")
	}
	return o, nil
}

// openFlask opens the sessions of a Flask app that follows the recipe: a
// redisstore.FlaskStore on the Redis at -redis, whose TTL is -idle (the
// app's permanent_session_lifetime) and whose user is under
// -flask-user-key, on a client of its own that the backend's close closes
// after the store; and the app's cookie, signed with the secrets in
// -flask-secret-file. The store reports to observer. It fails when the
// secret file does not read or Redis does not answer within
// flaskPingTimeout, in one error; afterwards go-redis's own log lines go
// to log.
func openFlask(o options, log *slog.Logger, observer session.StoreObserver) (*backend, *flaskMode, error) {
	secrets, err := flasksession.LoadSecretFile(o.flaskSecret)
	if err != nil {
		return nil, nil, fmt.Errorf("flask secret: %w", err) // the error names the file
	}
	codec, err := flasksession.NewCodec(secrets, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("flask secret %s: %w", o.flaskSecret, err)
	}
	name := redisstore.RedactURL(o.redis)
	client, err := redisstore.NewClient(o.redis)
	if err != nil {
		return nil, nil, fmt.Errorf("-redis: %w", err) // names the URL without its password
	}
	redisstore.SetClientLogger(nil) // the ping's error says it all
	store, err := redisstore.NewFlask(client, &redisstore.FlaskOptions{UserKey: o.flaskUserKey, Lifetime: o.idle, Logger: log, Observer: observer})
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("sessions in Redis at %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), flaskPingTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("sessions in Redis at %s: %w (is Redis running there, and is -redis right?)", name, err)
	}
	redisstore.SetClientLogger(log)
	be := &backend{
		store: store,
		close: func() error {
			if err := errors.Join(store.Close(), client.Close()); err != nil {
				return fmt.Errorf("closing the Redis client of %s: %w", name, err)
			}
			return nil
		},
		attrs: []any{"redis", name, "layout", "flask", "flask_secret_file", o.flaskSecret, "flask_user_key", o.flaskUserKey},
	}
	return be, &flaskMode{Codec: codec, UserKey: o.flaskUserKey}, nil
}
