-- wrk script of scripts/load.sh: a mixed load on sesdemo.
--
-- wrk runs it with as many threads as connections, so each thread (its own
-- Lua state) owns exactly one connection: requests and responses alternate,
-- and response() always answers the thread's last request(). That is what
-- lets the script know exactly which writes the server acknowledged.
--
-- The mix, per request:
--    7%  new session: PUT /api/session/KEY without a cookie (a new session
--        stored with its first key)
--    3%  login: POST /login user=... without a cookie (a new session bound
--        to a user: 303 and a cookie)
--   35%  write: PUT /api/session/KEY with a cookie of this thread
--   55%  read: GET /api/session with a cookie of this thread
-- Every write puts a distinct key: "t<thread>-<n>", n counting from 1 per
-- thread, with the value "t<thread>-<n>|<cookie>|xxx..." (the cookie it was
-- sent with, "new" without), so the verifier can tell that each key landed
-- in the session its cookie names.
--
-- Cookies come from the responses' Set-Cookie (each new session sets one);
-- a thread keeps the latest 512. done() writes what happened to the JSON
-- file named by $LOAD_RESULT.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("id", #threads)
end

-- Per thread (globals, so done() can read them with thread:get).
sent = 0      -- writes sent: keys t<id>-1 .. t<id>-<sent>
unacked = {}  -- numbers of writes not answered with 204
reads, news, logins, writes = 0, 0, 0, 0
s2xx, s204, s303, sother = 0, 0, 0, 0
cleared = 0   -- Set-Cookie headers that dropped the cookie
others = {}   -- the first unexpected statuses

pending = nil -- the number of the write awaiting its answer
local pool, pool_n, pool_next, pool_cap = {}, 0, 1, 512
local pad = string.rep("x", 32)

function init(args)
	math.randomseed(id * 7919 + os.time())
end

local function pick()
	return pool[math.random(pool_n)]
end

local function write(cookie)
	if pending then table.insert(unacked, pending) end -- never answered
	sent = sent + 1
	pending = sent
	local key = "t" .. id .. "-" .. sent
	local headers = { ["Content-Type"] = "application/json" }
	local tag = "new"
	if cookie then
		headers["Cookie"] = cookie
		tag = cookie:sub(9) -- after "session="
	end
	return wrk.format("PUT", "/api/session/" .. key, headers, '"' .. key .. "|" .. tag .. "|" .. pad .. '"')
end

function request()
	local r = math.random(100)
	if pool_n == 0 or r <= 7 then
		news = news + 1
		return write(nil)
	end
	if pending then table.insert(unacked, pending); pending = nil end
	if r <= 10 then
		logins = logins + 1
		return wrk.format("POST", "/login", { ["Content-Type"] = "application/x-www-form-urlencoded" },
			"user=u" .. id .. "-" .. (logins % 50))
	elseif r <= 45 then
		writes = writes + 1
		return write(pick())
	end
	reads = reads + 1
	return wrk.format("GET", "/api/session", { ["Cookie"] = pick() })
end

function response(status, headers, body)
	if status >= 200 and status < 300 then
		s2xx = s2xx + 1
		if status == 204 then s204 = s204 + 1 end
	elseif status == 303 then
		s303 = s303 + 1
	else
		sother = sother + 1
		if #others < 5 then table.insert(others, status .. " " .. (body or ""):sub(1, 200)) end
	end
	if pending then
		if status ~= 204 then table.insert(unacked, pending) end
		pending = nil
	end
	local sc = headers["Set-Cookie"]
	if sc then
		local v = sc:match("^session=([^;]*)")
		if v == nil or v == "" then
			cleared = cleared + 1
		else
			if pool_n < pool_cap then pool_n = pool_n + 1 end
			pool[pool_next] = "session=" .. v
			pool_next = pool_next % pool_cap + 1
		end
	end
end

local function jsonstr(s)
	return '"' .. tostring(s):gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
	local out = {}
	local function add(s) table.insert(out, s) end
	add('{"duration_us":' .. summary.duration .. ',"requests":' .. summary.requests .. ',"bytes":' .. summary.bytes)
	local e = summary.errors
	add(',"errors":{"connect":' .. e.connect .. ',"read":' .. e.read .. ',"write":' .. e.write ..
		',"status":' .. e.status .. ',"timeout":' .. e.timeout .. '}')
	add(',"latency_us":{"mean":' .. latency.mean .. ',"max":' .. latency.max)
	for _, p in ipairs({ 50, 90, 99, 99.9 }) do
		add(',"p' .. p .. '":' .. latency:percentile(p))
	end
	add('},"threads":[')
	for i, t in ipairs(threads) do
		if i > 1 then add(",") end
		add('{"id":' .. t:get("id") .. ',"sent":' .. t:get("sent"))
		for _, k in ipairs({ "reads", "news", "logins", "writes", "s2xx", "s204", "s303", "sother", "cleared" }) do
			add(',"' .. k .. '":' .. t:get(k))
		end
		local u = {}
		for _, n in ipairs(t:get("unacked")) do table.insert(u, tostring(n)) end
		local pend = t:get("pending")
		if pend then table.insert(u, tostring(pend)) end -- sent, never answered
		add(',"unacked":[' .. table.concat(u, ",") .. ']')
		local o = {}
		for _, s in ipairs(t:get("others")) do table.insert(o, jsonstr(s)) end
		add(',"others":[' .. table.concat(o, ",") .. ']}')
	end
	add("]}\n")
	local path = os.getenv("LOAD_RESULT")
	if path then
		local f = assert(io.open(path, "w"))
		f:write(table.concat(out))
		f:close()
	end
end
