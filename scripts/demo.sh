#!/usr/bin/env bash
# A two-minute tour of sesbolt through its demo app (cmd/sesdemo).
#
# Builds the demo into a temporary directory, runs it in the background on a
# free port with a throwaway database and key file, and plays two devices of
# one user ("alice" on a laptop and a phone) with curl: log in, store data,
# list and revoke sessions, restart the server, log out everywhere, and
# read the metrics (GET /metrics). Every
# request is printed with its status and JSON answer; any unexpected status
# stops the tour with exit status 1. The server is always stopped on exit.
#
# Needs: go, curl. The operator's side is shown with sesctl. Uses jq (or python3) to pretty-print JSON when present.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sesdemo-tour.XXXXXX")
pid=""
stop_server() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		local status=0
		wait "$pid" || status=$?
		pid=""
		return "$status"
	fi
	pid=""
}
cleanup() {
	stop_server || true
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ -t 1 ]; then bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'; else bold="" dim="" off=""; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
say() { printf '%s\n' "$*"; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }

# pretty pretty-prints JSON from stdin; anything else is printed as it is.
pretty() {
	local in
	in=$(cat)
	if command -v jq >/dev/null && printf '%s' "$in" | jq . 2>/dev/null; then return; fi
	if command -v python3 >/dev/null && printf '%s' "$in" | python3 -m json.tool 2>/dev/null; then return; fi
	printf '%s\n' "$in"
}

user_agent() {
	case $1 in
	laptop) echo "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0" ;;
	phone) echo "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1" ;;
	*) echo "curl" ;;
	esac
}

# request DEVICE WANT METHOD PATH [CURL-ARGS...]
# Sends a request as DEVICE (its own cookie jar and User-Agent), prints it,
# its status and its JSON body, and fails unless the status is WANT.
# The body is kept in $body.
request() {
	local dev=$1 want=$2 method=$3 path=$4
	shift 4
	printf '%s%s$ curl -X %s %s%s%s\n' "$dim" "$dev" "$method" "$path" "$(shquote "$@")" "$off"
	local out status
	out=$(curl -sS -X "$method" -c "$tmp/$dev.jar" -b "$tmp/$dev.jar" -A "$(user_agent "$dev")" \
		-w '\n%{http_code}' "$@" "$base$path")
	status=${out##*$'\n'}
	body=${out%"$status"}
	body=${body%$'\n'}
	printf '  -> %s\n' "$status"
	if [ -n "$body" ]; then printf '%s\n' "$body" | pretty | sed 's/^/     /'; fi
	[ "$status" = "$want" ] || die "expected status $want for $method $path, got $status"
}

# shquote prints its arguments as a shell would need them typed.
shquote() {
	local a
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=@-]+$ ]]; then printf ' %s' "$a"
		else printf " '%s'" "${a//\'/\'\\\'\'}"; fi
	done
}

# json_id prints the first "id" of the JSON in $body.
json_id() { printf '%s' "$body" | grep -o '"id":"[^"]*"' | head -n 1 | cut -d'"' -f4; }

# sesctl ARGS... runs the admin CLI on the demo's database and prints it.
sesctl() {
	printf '%s$ sesctl --db demo.db %s%s\n' "$dim" "$*" "$off"
	"$tmp/sesctl" --db "$tmp/demo.db" "$@" | sed 's/^/     /'
}

start_server() {
	: >"$tmp/server.log"
	"$tmp/sesdemo" -addr 127.0.0.1:0 -db "$tmp/demo.db" -keys "$tmp/demo.keys" 2>>"$tmp/server.log" &
	pid=$!
	addr=""
	for _ in $(seq 100); do
		addr=$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$tmp/server.log")
		[ -n "$addr" ] && break
		kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log" >&2; die "sesdemo did not start"; }
		sleep 0.1
	done
	[ -n "$addr" ] || die "sesdemo did not report its address"
	base="http://$addr"
	say "sesdemo (pid $pid) is serving $base, sessions in $tmp/demo.db"
}

step "Build and start the demo"
say "go build -o \$TMP/ ./cmd/sesdemo ./cmd/sesctl"
go build -o "$tmp/" ./cmd/sesdemo ./cmd/sesctl
start_server
say "Requests below go to $base (a new port after the restart)."
say "Its startup log:"
sed 's/^/     /' "$tmp/server.log"
say "On first run it created the key file (mode 0600). The keys sign cookies and"
say "seal records; they never go into the database:"
ls -l "$tmp/demo.keys" | sed 's/^/     /'

step "An anonymous visit stores nothing"
request laptop 200 GET /api/session
say "A new session lives only in this request until something is stored in it:"
say "no cookie was set, no record written."

step "Alice logs in on her laptop"
request laptop 303 POST /login -d user=alice
say "Login gives the session a new id (against session fixation). The cookie holds"
say "only that id and an HMAC tag; the data stays on the server:"
awk -F'\t' 'NF == 7 { print "     cookie " $6 " = " $7 }' "$tmp/laptop.jar"

step "She stores some data (any JSON value, one key per request)"
request laptop 204 PUT /api/session/theme --data '"dark"'
request laptop 204 PUT /api/session/cart --data '["apple","pear"]'
request laptop 200 GET /api/session
laptop_id=$(json_id)

step "Alice logs in on her phone too"
request phone 303 POST /login -d user=alice
request phone 200 GET /api/session
phone_id=$(json_id)

step "Her active sessions, as the laptop sees them"
request laptop 200 GET /api/sessions
say "The device comes from the User-Agent; 'current' marks the asking session."

step "The operator's view: sesctl, while the app holds the file"
sesctl list
say "bbolt locks the file while sesdemo runs, so sesctl went through the app's"
say "admin socket ($tmp/demo.db.sock, mode 0600) without being told to."
sesctl stats

step "Restart the server: sessions live in the bbolt file, not in memory"
stop_server || die "sesdemo did not exit cleanly"
say "Stopped with SIGTERM (graceful: in-flight requests finish, the file is closed)."
start_server
request laptop 200 GET /api/session
[ "$(json_id)" = "$laptop_id" ] || die "the laptop's session id changed across the restart"
say "Same session id ($laptop_id), same data, on a new port."

step "Bad input is refused"
request laptop 400 PUT /api/session/theme --data '{"oops":'
request laptop 403 POST /logout -H 'Sec-Fetch-Site: cross-site'
say "A cross-site form post (CSRF) is refused before the session is even loaded."

step "From the laptop, Alice revokes her phone"
request laptop 204 DELETE "/api/sessions/$phone_id"
request phone 200 GET /api/session
say "The phone's cookie now points at nothing: it gets a fresh, anonymous session."

step "She logs the phone back in, then logs out everywhere from the laptop"
request phone 303 POST /login -d user=alice
request laptop 303 POST /logout-everywhere
request phone 200 GET /api/session
request laptop 401 GET /api/sessions
say "Every session of alice ended, through the store's per-user index."

step "The request log"
say "One line per request; sessions appear as a short hash of their id, never the cookie:"
grep 'msg=request' "$tmp/server.log" | tail -n 5 | sed 's/^/     /'

step "An operator ends a session from the shell"
request phone 303 POST /login -d user=bob
request phone 200 GET /api/session
bob_id=$(json_id)
sesctl expire "$bob_id"
request phone 200 GET /api/session
[ "$(json_id)" != "$bob_id" ] || die "the expired session still works"
say "Gone for the app at once: the phone's next request got a fresh session."

step "Metrics for Prometheus: GET /metrics"
say "Counters of what happened since the restart, by reason, and gauges read from"
say "the store when scraped (docs/metrics.md lists them all):"
printf '%s$ curl %s/metrics | grep ...%s\n' "$dim" "$base" "$off"
curl -sS "$base/metrics" >"$tmp/metrics.txt" || die "GET /metrics failed"
grep -E '^sesbolt_(sessions_(created_total|live)|logins_total|sessions_ended_total\{reason="(logout|logout_everywhere|revoked)"\}|cookies_rejected_total\{reason="unknown_id"\}|store_commit_duration_seconds_count)' \
	"$tmp/metrics.txt" | sed 's/^/     /' || die "no sesbolt_ metrics in GET /metrics"
say "The demo also logs each ended session with its reason (a hook on the store):"
grep 'msg="session ended"' "$tmp/server.log" | tail -n 3 | sed 's/^/     /'

step "Done"
say "Run it yourself: go run ./cmd/sesdemo  (then open http://127.0.0.1:8080)"
