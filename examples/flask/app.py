#!/usr/bin/python3
"""A Flask app whose sessions a Go service with sesbolt can share.

It follows the recipe in shared/seed/ (a custom SessionInterface: a uuid4
session id signed by itsdangerous in the "session" cookie, the session dict
stored as JSON under the bare id) with its Redis lines switched on, and
without its defects:

  - every change is written (the recipe's in-memory variant used setdefault,
    which never updated a stored session), and every write sets the TTL
    (permanent_session_lifetime); a request that changes nothing still
    refreshes the TTL, with EXPIRE, so it cannot overwrite another writer;
  - an id that is not stored (expired, logged out, forged by someone who
    holds the secret) is never adopted: the request gets a new id;
  - logging in gives the session a new id (no session fixation), and
    logging out deletes the key and the cookie;
  - a visitor who stores nothing gets no key and no cookie.

Environment:
  FLASK_SECRET_FILE  secret file: one secret per line, oldest first, newest
                     last (the newest signs); required. Same format as
                     sesbolt's flasksession.LoadSecretFile.
  REDIS_URL          redis://host:port/db or unix:///path/to.sock
                     (default redis://127.0.0.1:6379/0)
  SESSION_LIFETIME   permanent_session_lifetime in seconds (default 1800)
  COOKIE_SECURE      1 to set the Secure attribute (default off: plain HTTP)
  HOST, PORT         where to listen (default 127.0.0.1:5000; PORT=0 picks
                     a free port)

It prints "listening on http://HOST:PORT" once it accepts connections.

Routes (JSON in and out; no redirects):
  POST   /login              form or JSON {"user": "..."}: binds user_id
  POST   /logout             ends the session
  GET    /api/session        {"id", "user", "data"} (data without user_id)
  GET    /api/session/<key>  the value, or 404
  PUT    /api/session/<key>  JSON body: sets the value
  DELETE /api/session/<key>  deletes the value

Run with Debian's interpreter, which sees python3-flask, python3-redis and
python3-itsdangerous: /usr/bin/python3 examples/flask/app.py
"""

import json
import os
import uuid
from datetime import timedelta

import redis
from flask import Flask, abort, jsonify, request, session
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, Signer
from werkzeug.serving import make_server

USER_KEY = "user_id"  # the data key that binds a user; the Go side is told


class RedisSession(dict, SessionMixin):
    """The session dict, its id and what the request did to it."""

    def __init__(self, initial=None, sid=None, stored=False):
        super().__init__(initial or ())
        self.sid = sid
        self.stored = stored  # sid is a key in Redis
        self.loaded = self._dump()  # to tell whether the request changed it
        self.old_sid = None  # set by renew: delete that key on save
        self.ended = False

    def _dump(self):
        return json.dumps(self, sort_keys=True)

    def changed(self):
        return self._dump() != self.loaded

    def renew(self):
        """Give the session a new id, keeping its data (at login)."""
        if self.stored and self.old_sid is None:
            self.old_sid = self.sid
        self.sid = str(uuid.uuid4())
        self.stored = False

    def end(self):
        """Log out: delete the stored session and the cookie."""
        self.clear()
        self.ended = True


class RedisSessionInterface(SessionInterface):
    session_class = RedisSession

    def __init__(self, client):
        self.redis = client

    def _signer(self, app):
        return Signer(app.secret_key, salt="flask-session", key_derivation="hmac")

    def open_session(self, app, request):
        cookie = request.cookies.get(self.get_cookie_name(app))
        if cookie:
            try:
                sid = self._signer(app).unsign(cookie).decode()
            except (BadSignature, UnicodeDecodeError):
                sid = None
            value = self.redis.get(sid) if sid else None
            if value is not None:
                try:
                    data = json.loads(value)
                except ValueError:
                    data = None
                if isinstance(data, dict):
                    return self.session_class(data, sid=sid, stored=True)
        return self.session_class(sid=str(uuid.uuid4()))

    def save_session(self, app, session, response):
        name = self.get_cookie_name(app)
        domain, path = self.get_cookie_domain(app), self.get_cookie_path(app)
        if session.old_sid is not None:  # renewed: the old id ends
            self.redis.delete(session.old_sid)
        if session.ended:
            if session.stored:
                self.redis.delete(session.sid)
            if request.cookies.get(name):
                response.delete_cookie(name, domain=domain, path=path)
            return
        ttl = int(app.permanent_session_lifetime.total_seconds())
        if session.changed() or session.old_sid is not None:
            self.redis.setex(session.sid, ttl, json.dumps(dict(session)))
        elif session.stored:
            self.redis.expire(session.sid, ttl)
            return
        else:
            return  # nothing stored, nothing to remember
        if not session.stored:  # a new or renewed id: tell the browser
            response.set_cookie(
                name,
                self._signer(app).sign(session.sid.encode()).decode(),
                expires=self.get_expiration_time(app, session),
                httponly=self.get_cookie_httponly(app),
                domain=domain,
                path=path,
                secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app),
            )


def read_secrets(path):
    """One secret per line, oldest first; empty lines skipped."""
    with open(path, "rb") as f:
        lines = [line.removesuffix(b"\r") for line in f.read().split(b"\n")]
    secrets = [line for line in lines if line]
    if not secrets:
        raise SystemExit(f"{path}: no secret")
    return secrets


def create_app():
    app = Flask(__name__)
    app.secret_key = read_secrets(os.environ["FLASK_SECRET_FILE"])
    app.permanent_session_lifetime = timedelta(
        seconds=int(os.environ.get("SESSION_LIFETIME", "1800"))
    )
    app.config.update(
        SESSION_COOKIE_NAME="session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("COOKIE_SECURE") == "1",
    )
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    app.session_interface = RedisSessionInterface(client)

    def view():
        data = {k: v for k, v in session.items() if k != USER_KEY}
        return jsonify(id=session.sid if session.stored or session.changed() else None,
                       user=session.get(USER_KEY), data=data)

    @app.post("/login")
    def login():
        body = request.get_json(silent=True) if request.is_json else request.form
        user = (body or {}).get("user")
        if not isinstance(user, str) or not user.strip():
            return jsonify(error="user is required"), 400
        if session.get(USER_KEY) not in (None, user):
            session.clear()  # another user's data is not this user's
        session.renew()
        session[USER_KEY] = user
        return view()

    @app.post("/logout")
    def logout():
        session.end()
        return "", 204

    @app.get("/api/session")
    def get_session():
        return view()

    @app.route("/api/session/<key>", methods=["GET", "PUT", "DELETE"])
    def value(key):
        if request.method == "GET":
            if key not in session:
                abort(404)
            return jsonify(session[key])
        if key == USER_KEY:
            return jsonify(error=f"{USER_KEY} changes only by logging in or out"), 400
        if request.method == "DELETE":
            session.pop(key, None)
            return "", 204
        body = request.get_json(silent=True, force=True)
        if body is None and request.get_data() != b"null":
            return jsonify(error="the body must be JSON"), 400
        session[key] = body
        return "", 204

    return app


def main():
    app = create_app()
    host = os.environ.get("HOST", "127.0.0.1")
    server = make_server(host, int(os.environ.get("PORT", "5000")), app, threaded=True)
    print(f"listening on http://{host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
