-- sesbolt redisstore: run one program of guards and operations atomically.
--
-- ARGV[1] is the number of guards; the guards follow, then the operations,
-- each an opcode and its arguments. A key argument is an index into KEYS.
-- Every guard is checked before any operation runs; the first that fails
-- ends the script, writing nothing, and its 1-based number is returned. 0
-- means every operation was applied.
--
-- Guards:
--   eq   key value      GET key returns exactly value
--   none key            key does not exist
--   free key at         key (a tombstone, whose value is when it ends) does
--                       not exist or ends at or before at; both times are
--                       unix nanoseconds in 20 digits
--   members key n m...  the sorted set key has exactly the n members m...
-- Operations:
--   put  rec ids exp id value retain   store a record until retain (unix ms)
--                                      and index it; a retain not in the
--                                      future deletes it instead
--   del  rec ids exp id                delete a record and its index entries
--   rewrite rec ids exp id value retain moved
--                                      replace a stored record of the same
--                                      id and user until retain; its index
--                                      entries stay, and only when moved
--                                      is "1" (retain changed) does its
--                                      expiry index entry follow
--   mark key value until               SET key value PXAT until (a
--                                      tombstone, or a session of the
--                                      Flask layout); an until not in the
--                                      future deletes it instead
--   ttl  key until                     PEXPIREAT key until (a session of
--                                      the Flask layout); an until not in
--                                      the future deletes it instead
--   drop key                           DEL key
--   uadd uz uv reg user id retain version exact
--                                      list id in user's index with a score
--                                      of retain (exact = "1") or at least
--                                      retain, noting version
--   urem uz uv reg user id version     drop id from user's index unless a
--                                      later version (re)listed it
--   ulater uz uv reg user id retain version exact
--                                      move id's entry in user's index to
--                                      the later retain (exactly, or at
--                                      least); an entry found missing is
--                                      listed as uadd does
--
-- The user index of user is the sorted set uz (id -> retain) and the hash uv
-- (id -> version of the change that last listed it); reg is the registry of
-- the users of one bucket (user -> the largest retain in uz). Entries whose
-- retain has passed belong to records Redis has expired; they are dropped
-- whenever the index is written, and uz and uv expire with their last entry.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local pos = 1
local function arg()
  local v = ARGV[pos]
  pos = pos + 1
  return v
end
local function key()
  return KEYS[tonumber(arg())]
end

-- prune drops up to two members whose retain has passed from the sorted
-- set z (and from also, when given): every write cleans a little, so an
-- index that is written keeps itself clean.
local function prune(z, also)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', '(' .. now, 'LIMIT', 0, 2)
  for _, m in ipairs(gone) do
    redis.call('ZREM', z, m)
    if also then
      redis.call('ZREM', also, m)
    end
  end
end

local function del(rec, ids, exp, id)
  redis.call('DEL', rec)
  redis.call('ZREM', ids, id)
  redis.call('ZREM', exp, id)
  prune(exp, ids)
end

local function put(rec, ids, exp, id, value, retain)
  if tonumber(retain) <= now then
    del(rec, ids, exp, id)
    return
  end
  redis.call('SET', rec, value, 'PXAT', retain)
  redis.call('ZADD', ids, 0, id)
  redis.call('ZADD', exp, retain, id)
  prune(exp, ids)
end

-- rewrite replaces the record of id, stored and indexed before with the
-- same user, leaving its index entries alone unless moved: the change that
-- needs no other index work (most updates) costs a SET and, when the
-- expiry moved, a ZADD. An entry found missing is restored.
local function rewrite(rec, ids, exp, id, value, retain, moved)
  if tonumber(retain) <= now then
    del(rec, ids, exp, id)
    return
  end
  redis.call('SET', rec, value, 'PXAT', retain)
  if moved == '1' and redis.call('ZADD', exp, retain, id) == 1 then
    redis.call('ZADD', ids, 0, id)
  end
end

-- settle drops the entries of expired records from a user's index, makes
-- its keys expire with its last entry, and records (or removes) the user in
-- the registry (and prunes the registry of users whose keys expired).
local function settle(uz, uv, reg, user)
  prune(reg, nil)
  local gone = redis.call('ZRANGEBYSCORE', uz, '-inf', '(' .. now)
  for _, id in ipairs(gone) do
    redis.call('ZREM', uz, id)
    redis.call('HDEL', uv, id)
  end
  local top = redis.call('ZRANGE', uz, -1, -1, 'WITHSCORES')
  if #top == 0 then
    redis.call('DEL', uz, uv)
    redis.call('ZREM', reg, user)
    return
  end
  redis.call('PEXPIREAT', uz, top[2])
  redis.call('PEXPIREAT', uv, top[2])
  redis.call('ZADD', reg, top[2], user)
end

local function uadd(uz, uv, reg, user, id, retain, version, exact)
  if exact == '1' then
    redis.call('ZADD', uz, retain, id)
  else
    redis.call('ZADD', uz, 'GT', retain, id)
  end
  local v = redis.call('HGET', uv, id)
  if not v or tonumber(v) < tonumber(version) then
    redis.call('HSET', uv, id, version)
  end
  settle(uz, uv, reg, user)
end

-- ulater moves id's entry in user's index to retain, later than the
-- entry's, and the index keys' expiry and the registry with it (GT: they
-- only ever move later here). The version is noted only when the entry was
-- missing: a urem that must spare this entry comes from a change before
-- the one that listed it again (the user was bound since), whose version
-- the hash already holds; a urem from a change after this one carries a
-- later version anyway.
local function ulater(uz, uv, reg, user, id, retain, version, exact)
  local added
  if exact == '1' then
    added = redis.call('ZADD', uz, retain, id)
  else
    added = redis.call('ZADD', uz, 'GT', retain, id)
  end
  if added == 1 then
    uadd(uz, uv, reg, user, id, retain, version, exact)
    return
  end
  redis.call('PEXPIREAT', uz, retain, 'GT')
  redis.call('PEXPIREAT', uv, retain, 'GT')
  redis.call('ZADD', reg, 'GT', retain, user)
end

local function urem(uz, uv, reg, user, id, version)
  local v = redis.call('HGET', uv, id)
  if v and tonumber(v) > tonumber(version) then
    return
  end
  redis.call('ZREM', uz, id)
  redis.call('HDEL', uv, id)
  settle(uz, uv, reg, user)
end

-- lasts reports whether the tombstone value v ends after at. Both are 20
-- digits; they are compared in two halves, each exact as a Lua number. A
-- value of another form is no tombstone.
local function lasts(v, at)
  if not v or #v ~= 20 or #at ~= 20 then
    return false
  end
  local vh, ah = tonumber(string.sub(v, 1, 10)), tonumber(string.sub(at, 1, 10))
  local vl, al = tonumber(string.sub(v, 11)), tonumber(string.sub(at, 11))
  if not (vh and ah and vl and al) then
    return false
  end
  return vh > ah or (vh == ah and vl > al)
end

local guards = tonumber(arg())
for g = 1, guards do
  local kind = arg()
  local k = key()
  if kind == 'eq' then
    if redis.call('GET', k) ~= arg() then
      return g
    end
  elseif kind == 'none' then
    if redis.call('EXISTS', k) == 1 then
      return g
    end
  elseif kind == 'free' then
    local at = arg()
    if lasts(redis.call('GET', k), at) then
      return g
    end
  elseif kind == 'members' then
    local n = tonumber(arg())
    if redis.call('ZCARD', k) ~= n then
      return g
    end
    for _ = 1, n do
      if not redis.call('ZSCORE', k, arg()) then
        return g
      end
    end
  else
    return redis.error_reply('sesbolt: unknown guard ' .. tostring(kind))
  end
end

-- Arguments are read one statement at a time: Lua leaves the evaluation
-- order of a call's arguments, and of an expression list, unspecified.
local function keys(n)
  local out = {}
  for j = 1, n do
    out[j] = key()
  end
  return out
end
local function args(n)
  local out = {}
  for j = 1, n do
    out[j] = arg()
  end
  return out
end

while pos <= #ARGV do
  local op = arg()
  if op == 'put' then
    local k = keys(3)
    local a = args(3)
    put(k[1], k[2], k[3], a[1], a[2], a[3])
  elseif op == 'rewrite' then
    local k = keys(3)
    local a = args(4)
    rewrite(k[1], k[2], k[3], a[1], a[2], a[3], a[4])
  elseif op == 'del' then
    local k = keys(3)
    del(k[1], k[2], k[3], arg())
  elseif op == 'mark' then
    local k = key()
    local a = args(2)
    if tonumber(a[2]) <= now then
      redis.call('DEL', k)
    else
      redis.call('SET', k, a[1], 'PXAT', a[2])
    end
  elseif op == 'ttl' then
    local k = key()
    local at = arg()
    if tonumber(at) <= now then
      redis.call('DEL', k)
    else
      redis.call('PEXPIREAT', k, at)
    end
  elseif op == 'drop' then
    redis.call('DEL', key())
  elseif op == 'uadd' then
    local k = keys(3)
    local a = args(5)
    uadd(k[1], k[2], k[3], a[1], a[2], a[3], a[4], a[5])
  elseif op == 'ulater' then
    local k = keys(3)
    local a = args(5)
    ulater(k[1], k[2], k[3], a[1], a[2], a[3], a[4], a[5])
  elseif op == 'urem' then
    local k = keys(3)
    local a = args(3)
    urem(k[1], k[2], k[3], a[1], a[2], a[3])
  else
    return redis.error_reply('sesbolt: unknown operation ' .. tostring(op))
  end
end
return 0
