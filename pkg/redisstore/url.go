package redisstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// NewClient returns a go-redis client for the Redis that rawURL names,
// configured as New requires (ContextTimeoutEnabled), so that programs
// taking a Redis address as one string (sesctl --redis, sesdemo -redis)
// share one syntax:
//
//	redis://[user:password@]host[:port][/db][?option=value&...]  one server (port 6379 by default, database 0)
//	rediss://...                                                 one server, over TLS
//	unix://[user:password@]/path/to/redis.sock[?db=N&...]        one server, on a Unix socket
//	redis://host1:port1,host2:port2,...                          a Redis Cluster, by two or more of its nodes
//
// Options are go-redis's URL query parameters (dial_timeout, read_timeout,
// max_retries, pool_size, ...; see redis.ParseURL and
// redis.ParseClusterURL). In a Cluster list the first entry carries the
// scheme, credentials and options; each later entry is host:port, or a
// URL of the same scheme with nothing but host and port. A Cluster has only
// database 0, is reached over TCP (redis:// or rediss://), and needs at
// least two of its nodes named: one URL is always one server. A password
// holding a comma must be percent-encoded (%2C).
//
// The client connects on first use, so a Redis that is down fails the
// first call (New's), not NewClient. The caller closes the client, after
// the stores using it. A malformed URL fails with an error wrapping
// ErrConfig, which never contains the URL's password.
func NewClient(rawURL string) (redis.UniversalClient, error) {
	entries := strings.Split(strings.TrimSpace(rawURL), ",")
	first, err := parseURL(entries[0])
	if err != nil {
		return nil, err
	}
	if len(entries) == 1 {
		opts, err := redis.ParseURL(strings.TrimSpace(entries[0]))
		if err != nil {
			return nil, urlError(rawURL, err)
		}
		opts.ContextTimeoutEnabled = true
		return redis.NewClient(opts), nil
	}
	if first.Scheme == "unix" {
		return nil, urlError(rawURL, errors.New("a Cluster is reached over TCP: list redis:// or rediss:// nodes"))
	}
	if p := strings.Trim(first.Path, "/"); p != "" && p != "0" {
		return nil, urlError(rawURL, fmt.Errorf("a Cluster has only database 0, not %q", p))
	}
	q := first.Query()
	for _, e := range entries[1:] {
		addr, err := nodeAddr(e, first.Scheme)
		if err != nil {
			return nil, urlError(rawURL, err)
		}
		q.Add("addr", addr)
	}
	first.Path, first.RawQuery = "", q.Encode()
	opts, err := redis.ParseClusterURL(first.String())
	if err != nil {
		return nil, urlError(rawURL, err)
	}
	opts.ContextTimeoutEnabled = true
	return redis.NewClusterClient(opts), nil
}

// RedactURL returns rawURL (one URL or a NewClient Cluster list) with every
// password replaced by "xxxxx", for logs and messages.
func RedactURL(rawURL string) string {
	entries := strings.Split(strings.TrimSpace(rawURL), ",")
	for i, e := range entries {
		if u, err := url.Parse(e); err == nil && u.Opaque == "" {
			entries[i] = u.Redacted()
			continue
		}
		// Not a URL with a host: drop whatever precedes an '@' after the
		// scheme.
		if at := strings.LastIndex(e, "@"); at >= 0 {
			scheme, _, found := strings.Cut(e, "://")
			if !found {
				scheme = ""
			} else {
				scheme += "://"
			}
			entries[i] = scheme + "xxxxx" + e[at:]
		}
	}
	return strings.Join(entries, ",")
}

// parseURL parses the first (or only) entry of a NewClient URL and checks
// its scheme.
func parseURL(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty Redis URL", ErrConfig)
	}
	u, err := url.Parse(s)
	if err != nil {
		// url's errors quote the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, urlError(s, err)
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
		return u, nil
	case "":
		return nil, urlError(s, errors.New("no scheme: start it with redis://, rediss:// or unix://"))
	}
	return nil, urlError(s, fmt.Errorf("scheme %q: use redis://, rediss:// or unix://", u.Scheme))
}

// nodeAddr returns the host:port of a later entry of a Cluster list: bare
// host[:port], or a URL of scheme with only host and port.
func nodeAddr(entry, scheme string) (string, error) {
	entry = strings.TrimSpace(entry)
	host := entry
	if before, after, found := strings.Cut(entry, "://"); found {
		if before != scheme {
			return "", fmt.Errorf("node %q: every node of a Cluster list has the first one's scheme, %s://", before+"://…", scheme)
		}
		u, err := url.Parse(entry)
		if err != nil || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			return "", fmt.Errorf("node %q: give only host and port after the first node, whose credentials and options apply to all", redactHost(after))
		}
		host = u.Host
	}
	if host == "" {
		return "", errors.New("an empty node in the Cluster list")
	}
	if strings.ContainsAny(host, "/?@#") {
		return "", fmt.Errorf("node %q: give host:port", redactHost(host))
	}
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		// No port: the default one.
		h, p = strings.Trim(host, "[]"), "6379"
	}
	if h == "" {
		return "", fmt.Errorf("node %q has no host", host)
	}
	return net.JoinHostPort(h, p), nil
}

// redactHost drops whatever precedes an '@' in a node entry.
func redactHost(s string) string {
	if at := strings.LastIndex(s, "@"); at >= 0 {
		return "xxxxx" + s[at:]
	}
	return s
}

// urlError wraps ErrConfig with why rawURL (named without its password)
// is not a Redis URL.
func urlError(rawURL string, err error) error {
	return fmt.Errorf("%w: Redis URL %s: %w", ErrConfig, RedactURL(rawURL), err)
}
