-- wrk script: one-key PUTs only, for profiling sesdemo's write path.
--
--   wrk -t 64 -c 64 -d 20s -s scripts/put.lua http://127.0.0.1:PORT
--
-- Each thread (one connection) first PUTs without a cookie, which creates
-- its session, then PUTs the same key into that session with the cookie the
-- server set, over and over: every request is a one-key change of an
-- existing session, fsynced before its 204.
cookie = nil
n = 0
bad = 0

function request()
	n = n + 1
	local headers = { ["Content-Type"] = "application/json" }
	if cookie then headers["Cookie"] = cookie end
	return wrk.format("PUT", "/api/session/k", headers, '"value ' .. n .. '"')
end

function response(status, headers, body)
	if status ~= 204 then bad = bad + 1 end
	local sc = headers["Set-Cookie"]
	if sc then
		local v = sc:match("^([^=]+=[^;]*)")
		if v then cookie = v end
	end
end
