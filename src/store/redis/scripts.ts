/**
 * The Lua the Redis backend runs: every write is one script on one owner's slot (so it is atomic:
 * the existence and `If-Match` checks, the version, `updatedAt`, the indexes and the owner's quota
 * together), and a list is one read-only script (one consistent cut: the page and `total` agree).
 * The rules of `rules.ts` have run in JS before a script sees its arguments; the scripts check
 * only what needs the stored state. `docs/redis.md` describes the keys.
 *
 * KEYS[1] is always a key of the owner (its chat, or its createdAt index), so that Redis Cluster
 * routes the call to the owner's slot; the other keys are built from ARGV[1], the owner's key base
 * (`<prefix>:{<owner tag>}`), and share its hash tag, so they live in the same slot.
 *
 * Sort indexes are sorted sets of score 0 ordered by member (byte order), one a field, read
 * forwards for ascending order and backwards for descending: a member is the sort value, encoded
 * so that byte order is the value's order, then the id. Numbers are 15 digits; a priority is one
 * digit of its rank; a title is its lower-cased form (UTF-8 byte order is code point order) ended
 * by a NUL byte. Ties are broken by id ascending whatever the direction, so a descending walk
 * puts each run of equal values back in id order. To order by several fields, a list makes sort
 * keys in Lua from a chat's hash (`c`, `u`, `p`, `tk`), each value encoded for its direction
 * (descending: a number's complement to 10^15 - 1, a title's bytes complemented to 255 and ended
 * by 0xFF); a write makes the index members from the hash to find the entries it moves.
 *
 * Each script starts with a shebang, so that Redis checks `maxmemory` before it runs rather than at
 * its first growing command (a script without one could remove an index entry, then be refused the
 * new one). A create or an update is refused whole when Redis is out of memory (the store answers
 * `capacity`); a delete and a release only free memory and run anyway (`allow-oom`).
 */

const COMMON = `
local B = ARGV[1]
local MAXN = 999999999999999
local Z = { 'ca', 'ua', 'pa', 'ta' }
local RANK = { low = 0, medium = 1, high = 2 }
local function num (v)
  v = tonumber(v)
  if v < 0 then v = 0 elseif v > MAXN then v = MAXN end
  return string.format('%015d', v)
end
-- The index members' sort values (the id follows): createdAt, updatedAt, priority's rank, title key.
local function encode (c, u, p, tk)
  local ec = num(c)
  return { ca = ec, ua = (u == c) and ec or num(u), pa = tostring(RANK[p]), ta = tk .. '\\0' }
end
local function terms (wt, wd)
  local set = {}
  for w in string.gmatch(wt, '[^ ]+') do set[w] = true end
  for w in string.gmatch(wd, '[^ ]+') do set[w] = true end
  return set
end
-- Adds the chat to each word's postings, and the words to the owner's dictionary in one ZADD a
-- few hundred words at a time (a word already in it stays as it is).
local function addTerms (words, id)
  local dict = {}
  for w in pairs(words) do
    redis.call('SADD', B .. ':w:' .. w, id)
    dict[#dict + 1] = 0
    dict[#dict + 1] = w
    if #dict >= 1000 then redis.call('ZADD', B .. ':words', unpack(dict)); dict = {} end
  end
  if #dict > 0 then redis.call('ZADD', B .. ':words', unpack(dict)) end
end
local function removeTerm (w, id)
  redis.call('SREM', B .. ':w:' .. w, id)
  if redis.call('EXISTS', B .. ':w:' .. w) == 0 then redis.call('ZREM', B .. ':words', w) end
end
-- Appends the change to the owner's stream (B:feed, its entry id the seq), trims it to the last
-- retain (the last dropped seq becomes the floor, B:feed:m f), publishes it on the owner's shard
-- channel (B:ch), and answers the seq (16 digits) and the entry: a JSON array of strings, seq, kind
-- (c: put, d: delete), id, version, at, then for a put title, description, priority, isActive, createdAt.
local function feed (retain, kind, id, v, at, chat)
  local F, M = B .. ':feed', B .. ':feed:m'
  local m = redis.call('HMGET', M, 'l', 'o')
  -- The server's clock in microseconds (16 digits), past the owner's last seq: seqs of writes made
  -- one after another order across owners too (by the primaries' clocks, in a cluster).
  local t = redis.call('TIME')
  local s = math.max(tonumber(t[1]) * 1000000 + tonumber(t[2]), tonumber(m[1] or '0') + 1)
  local seq = string.format('%016d', s)
  local meta = { 'l', seq }
  if not m[2] then meta[3], meta[4] = 'o', string.format('%016d', s - 1) end
  retain = math.max(1, tonumber(retain))
  local n = redis.call('XLEN', F)
  if n >= retain then
    local drop = redis.call('XRANGE', F, '-', '+', 'COUNT', n - retain + 1)
    local lastId = drop[#drop][1]
    meta[#meta + 1] = 'f'
    meta[#meta + 1] = string.format('%016d', tonumber(string.sub(lastId, 1, string.find(lastId, '-', 1, true) - 1)))
  end
  local e = { seq, kind, id, tostring(v), tostring(at) }
  if chat then for _, x in ipairs(chat) do e[#e + 1] = x end end
  local entry = cjson.encode(e)
  redis.call('XADD', F, 'MAXLEN', retain, string.format('%d', s) .. '-0', 'e', entry)
  redis.call('HSET', M, unpack(meta))
  redis.call('SPUBLISH', B .. ':ch', entry)
  return seq, entry
end
local function versionAllowed (current, list)
  if list == '*' then return true end
  for v in string.gmatch(list, '[^,]+') do
    if tonumber(v) == current then return true end
  end
  return false
end
`

/**
 * A create. KEYS[1]: the chat's key. ARGV: base, id, title, description, priority, isActive (1/0),
 * now, title key, title words, description words, the owner's quota (0: none), the changes kept
 * per owner, then the idempotency key ('' for none), its in-flight token, the body's fingerprint,
 * when the key expires (epoch ms, by the store's clock) and how long Redis keeps it (ms).
 * Answers `{ 'ok', seq }`; `{ 'quota' }` when the owner holds their quota; with a key: `{ 'replay',
 * entry }` (the key's kept create: its feed entry), `{ 'reused' }`, `{ 'inflight' }` (another
 * create holds the key). Nothing is written unless `ok`.
 *
 * On one Redis node (not a cluster) KEYS[2] is the global `MAX_ITEMS` counter and ARGV[18] its
 * maximum: the script takes the place itself (`{ 'full' }` when none is free), so a create is one
 * round trip. On a cluster the counter is in another slot, and the store reserves first (RESERVE).
 */
export const CREATE = `#!lua${COMMON}
local id, title, desc, p, a, now, tk, wt, wd = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local quota = tonumber(ARGV[11])
if RANK[p] == nil or (a ~= '1' and a ~= '0') then return redis.error_reply('ERR chat script: invalid priority or isActive') end
local IK = ARGV[13] ~= '' and (B .. ':idem:' .. ARGV[13]) or nil
if IK then
  local h = redis.call('HMGET', IK, 'f', 'c', 'x', 'm')
  if h[2] and tonumber(h[3]) > tonumber(now) then
    if h[1] ~= ARGV[15] then return { 'reused' } end
    return { 'replay', h[2] }
  end
  if h[1] and not h[2] and h[4] ~= ARGV[14] then return { 'inflight' } end
end
if quota > 0 and redis.call('ZCARD', B .. ':z:ca') >= quota then return { 'quota' } end
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('ERR chat script: id in use') end
if KEYS[2] and redis.call('INCR', KEYS[2]) > tonumber(ARGV[18]) then
  redis.call('DECR', KEYS[2])
  return { 'full' }
end
local e = encode(now, now, p, tk)
redis.call('HSET', KEYS[1], 't', title, 'd', desc, 'p', p, 'a', a, 'c', now, 'u', now, 'v', 1, 'tk', tk, 'wt', wt, 'wd', wd)
for _, z in ipairs(Z) do redis.call('ZADD', B .. ':z:' .. z, 0, e[z] .. id) end
redis.call('SADD', B .. ':p:' .. p, id)
redis.call('SADD', B .. ':a:' .. a, id)
addTerms(terms(wt, wd), id)
local seq, entry = feed(ARGV[12], 'c', id, 1, now, { title, desc, p, a, tostring(now) })
if IK then
  redis.call('DEL', IK)
  redis.call('HSET', IK, 'f', ARGV[15], 'c', entry, 'x', ARGV[16])
  redis.call('PEXPIRE', IK, ARGV[17])
end
return { 'ok', seq }
`

const CURRENT = `
local id = ARGV[2]
local cur = redis.call('HMGET', KEYS[1], 't', 'd', 'p', 'a', 'c', 'u', 'v', 'tk', 'wt', 'wd')
if not cur[1] then return { 'notFound' } end
local version = tonumber(cur[7])
if not versionAllowed(version, ARGV[3]) then return { 'version', tostring(version) } end
local old = encode(cur[5], cur[6], cur[3], cur[8])
`

/**
 * An update or a replace: the fields it names replace the stored ones, the rest stay (`mergePatch`).
 * KEYS[1]: the chat's key. ARGV: base, id, the versions If-Match allows (comma list, or `*`), now,
 * then per field a flag (1: given) and its value: title with its key and words, description with its
 * words, priority, isActive. Answers `{ 'ok', title, description, priority, isActive, createdAt,
 * updatedAt, version }`, `{ 'notFound' }`, or `{ 'version', current }`.
 */
export const UPDATE = `#!lua${COMMON}${CURRENT}
local now = tonumber(ARGV[4])
local title, tk, wt = cur[1], cur[8], cur[9]
if ARGV[5] == '1' then title, tk, wt = ARGV[6], ARGV[7], ARGV[8] end
local desc, wd = cur[2], cur[10]
if ARGV[9] == '1' then desc, wd = ARGV[10], ARGV[11] end
local p = cur[3]
if ARGV[12] == '1' then p = ARGV[13] end
local a = cur[4]
if ARGV[14] == '1' then a = ARGV[15] end
if RANK[p] == nil or (a ~= '1' and a ~= '0') then return redis.error_reply('ERR chat script: invalid priority or isActive') end
-- Strictly later than the last update, also within one millisecond or when the clock went back.
local u = math.max(now, tonumber(cur[6]) + 1)
local v = version + 1
local e = encode(cur[5], u, p, tk)
for _, z in ipairs(Z) do
  if old[z] ~= e[z] then
    redis.call('ZREM', B .. ':z:' .. z, old[z] .. id)
    redis.call('ZADD', B .. ':z:' .. z, 0, e[z] .. id)
  end
end
if p ~= cur[3] then
  redis.call('SREM', B .. ':p:' .. cur[3], id)
  redis.call('SADD', B .. ':p:' .. p, id)
end
if a ~= cur[4] then
  redis.call('SREM', B .. ':a:' .. cur[4], id)
  redis.call('SADD', B .. ':a:' .. a, id)
end
if wt ~= cur[9] or wd ~= cur[10] then
  local before, after = terms(cur[9], cur[10]), terms(wt, wd)
  for w in pairs(before) do if not after[w] then removeTerm(w, id) end end
  local added = {}
  for w in pairs(after) do if not before[w] then added[w] = true end end
  addTerms(added, id)
end
redis.call('HSET', KEYS[1], 't', title, 'd', desc, 'p', p, 'a', a, 'u', u, 'v', v, 'tk', tk, 'wt', wt, 'wd', wd)
local hmax = tonumber(ARGV[17])
if hmax >= 2 then
  local H = B .. ':h:' .. id
  redis.call('RPUSH', H, cjson.encode({ cur[7], cur[1], cur[2], cur[3], cur[4], cur[5], cur[6] }))
  redis.call('LTRIM', H, 1 - hmax, -1)
end
local seq = feed(ARGV[16], 'c', id, v, u, { title, desc, p, a, cur[5] })
return { 'ok', title, desc, p, a, cur[5], tostring(u), tostring(v), seq }
`

/**
 * A delete. KEYS[1]: the chat's key. ARGV: base, id, the versions If-Match allows (or `*`), now,
 * the changes kept per owner. The chat's older versions go with it. On one Redis node KEYS[2] is
 * the global `MAX_ITEMS` counter, which the script counts down (a cluster's store releases the place itself).
 * Answers `{ 'ok', seq }`, `{ 'notFound' }`, or `{ 'version', current }`.
 */
export const DELETE = `#!lua flags=allow-oom${COMMON}${CURRENT}
for _, z in ipairs(Z) do redis.call('ZREM', B .. ':z:' .. z, old[z] .. id) end
redis.call('SREM', B .. ':p:' .. cur[3], id)
redis.call('SREM', B .. ':a:' .. cur[4], id)
for w in pairs(terms(cur[9], cur[10])) do removeTerm(w, id) end
redis.call('DEL', KEYS[1])
redis.call('DEL', B .. ':h:' .. id)
if KEYS[2] and tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
local seq = feed(ARGV[5], 'd', id, version, math.max(tonumber(ARGV[4]), tonumber(cur[6])))
return { 'ok', seq }
`

/**
 * A page of the owner's feed, on the primary (a replica's could be behind a position the primary
 * gave). KEYS[1]: the owner's stream. ARGV: base, after (16 digits, '' for the oldest kept), limit.
 * Answers `{ 'ok', head, entry… }` (head: the owner's last seq, zeros with no feed), or
 * `{ 'expired', why }`: `after` is past the head (another store's, or a lost one's), below the floor
 * (changes after it were dropped), or below the feed's origin (a position of a history Redis lost).
 */
export const CHANGES = `#!lua flags=no-writes
local B = ARGV[1]
local m = redis.call('HMGET', B .. ':feed:m', 'o', 'f', 'l')
local head = m[3] or '0000000000000000'
local o, f, l = tonumber(m[1] or '0'), tonumber(m[2] or '0'), tonumber(head)
local from = '-'
if ARGV[2] ~= '' then
  local a = tonumber(ARGV[2])
  if a > l then return { 'expired', 'ahead' } end
  if a < f then return { 'expired', 'dropped' } end
  if a ~= 0 and a < o then return { 'expired', 'origin' } end
  from = '(' .. string.format('%d', a) .. '-0'
end
local out = { 'ok', head }
local limit = tonumber(ARGV[3])
if limit == 0 then return out end
for _, it in ipairs(redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', limit)) do out[#out + 1] = it[2][2] end
return out
`

/**
 * A chat's history. KEYS[1]: the chat's key. ARGV: base, id. Answers `{ 'notFound' }`, or
 * `{ 'ok', title, description, priority, isActive, createdAt, updatedAt, version, older… }`, each
 * older version a JSON array of strings: version, title, description, priority, isActive, createdAt, updatedAt.
 */
export const HISTORY = `#!lua flags=no-writes
local c = redis.call('HMGET', KEYS[1], 't', 'd', 'p', 'a', 'c', 'u', 'v')
if not c[1] then return { 'notFound' } end
local out = { 'ok', c[1], c[2], c[3], c[4], c[5], c[6], c[7] }
for _, v in ipairs(redis.call('LRANGE', ARGV[1] .. ':h:' .. ARGV[2], 0, -1)) do out[#out + 1] = v end
return out
`

/**
 * The first step of a create with an idempotency key (before the MAX_ITEMS reservation, which is
 * in another slot): KEYS[1]: the key (B:idem:<key>). ARGV: fingerprint, token, now (the store's
 * clock), how long the in-flight marker lives (ms). A kept, unexpired answer: `{ 'replay', entry }`
 * or `{ 'reused' }`; a marker of another create: `{ 'inflight' }`; else the marker is set: `{ 'begun' }`.
 */
export const IDEM_BEGIN = `#!lua
local h = redis.call('HMGET', KEYS[1], 'f', 'c', 'x')
if h[2] and tonumber(h[3]) > tonumber(ARGV[3]) then
  if h[1] ~= ARGV[1] then return { 'reused' } end
  return { 'replay', h[2] }
end
if h[1] and not h[2] then return { 'inflight' } end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'f', ARGV[1], 'm', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return { 'begun' }
`

/** A keyed create that failed: its marker goes (unless the key was answered meanwhile). KEYS[1]: the key. ARGV[1]: the token. */
export const IDEM_ABORT = `#!lua flags=allow-oom
if redis.call('HGET', KEYS[1], 'm') == ARGV[1] and redis.call('HEXISTS', KEYS[1], 'c') == 0 then redis.call('DEL', KEYS[1]) end
return 1
`

/**
 * The global `MAX_ITEMS` counter (its own key, in whatever slot it hashes to): a reservation takes
 * one place when one is free. KEYS[1]: the counter. ARGV[1]: the maximum. Answers 1 (reserved) or 0 (full).
 */
export const RESERVE = `#!lua
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
return 1
`

/** Gives a reservation back (never below 0). KEYS[1]: the counter. */
export const RELEASE = `#!lua flags=allow-oom
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return n
`

/**
 * A list page, read-only (so it may run on a replica). KEYS[1]: the owner's createdAt index.
 * ARGV: base; the sort as index names (`ca,pd`: createdAt ascending, then priority descending);
 * limit; offset (empty with a cursor); the cursor's position as the raw values of the sort fields,
 * then the id, joined by NUL bytes (empty: none); priorities (comma list, empty: any); isActive
 * (1, 0 or empty); createdFrom, createdTo (empty: open); the query's words (space-separated, empty: no q);
 * the owner's last seq when the caller's cached page was read (empty: none).
 *
 * Answers `{ seq }` alone when that seq is still the owner's last (no write since: the cached page
 * stands), else `{ seq, total, id, title, description, priority, isActive, createdAt, updatedAt, version,
 * titleKey, id, … }` with up to limit + 1 chats (one more than the page: more follow).
 *
 * Plan: without filters, the total is the owner's count and the page a range of the sort's first
 * index (by rank with an offset, by member after a cursor). With filters, the matches are gathered
 * from the narrowest source (the text index, the createdAt range, the priority or isActive sets),
 * intersected in Redis with the other one-set filters and checked against the rest by chunks;
 * then the page is either a walk of the first index skipping what does not match (few entries to
 * pass over) or a sort of the matches (few matches). Runs of equal first keys are ordered by the
 * rest of the sort and the id.
 */
export const LIST = `#!lua flags=no-writes
local B = ARGV[1]
local MAXN = 999999999999999
local RANK = { low = 0, medium = 1, high = 2 }
local CHUNK = 256
local ID = 36
local sort = {}
for z in string.gmatch(ARGV[2], '[^,]+') do sort[#sort + 1] = z end
local limit = tonumber(ARGV[3])
local offset = tonumber(ARGV[4]) or 0
local want = limit + 1

-- Byte order (Lua's own < on strings follows the server's collation locale).
local function lt (a, b)
  if a == b then return false end
  local n = math.min(#a, #b)
  local i = 1
  while i + 7 <= n and string.sub(a, i, i + 7) == string.sub(b, i, i + 7) do i = i + 8 end
  while i <= n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
    i = i + 1
  end
  return #a < #b
end
local function num (v, desc)
  v = tonumber(v)
  if v < 0 then v = 0 elseif v > MAXN then v = MAXN end
  if desc then v = MAXN - v end
  return string.format('%015d', v)
end
local function complement (s)
  local b = { string.byte(s, 1, -1) }
  for i = 1, #b do b[i] = 255 - b[i] end
  return string.char(unpack(b))
end
local function encodeOne (z, raw)
  local f, d = string.sub(z, 1, 1), string.sub(z, 2, 2) == 'd'
  if f == 'c' or f == 'u' then return num(raw, d) end
  if f == 'p' then local r = tonumber(raw); return tostring(d and 2 - r or r) end
  if d then return complement(raw) .. '\\255' end
  return raw .. '\\0'
end
-- A sort's encoding from the chat's hash field (FIELD): createdAt, updatedAt, priority (its name), title key.
local FIELD = { c = 'c', u = 'u', p = 'p', t = 'tk' }
local function encodeStored (z, stored)
  if string.sub(z, 1, 1) == 'p' then stored = RANK[stored] end
  return encodeOne(z, stored)
end

-- The first sort field's index (one a field, read backwards for descending order).
local desc = string.sub(sort[1], 2, 2) == 'd'
local ascending = string.sub(sort[1], 1, 1) .. 'a'
-- A run's sort value in the index (ascending) as the first part of a sort key in its direction.
local function headKey (indexHead)
  if not desc then return indexHead end
  if ascending == 'ta' then return encodeOne(sort[1], string.sub(indexHead, 1, -2)) end
  return encodeOne(sort[1], indexHead)
end

-- The cursor's position as a full sort key, and its first value as the index encodes it.
local cursor, cursorHead
if ARGV[5] ~= '' then
  local parts = {}
  local s = ARGV[5] .. '\\0'
  local from = 1
  for i = 1, #sort + 1 do
    local at = string.find(s, '\\0', from, true)
    parts[i] = string.sub(s, from, at - 1)
    from = at + 1
  end
  cursorHead = encodeOne(ascending, parts[1])
  cursor = encodeOne(sort[1], parts[1])
  for i = 2, #sort do cursor = cursor .. encodeOne(sort[i], parts[i]) end
  cursor = cursor .. parts[#sort + 1]
  offset = 0
end

-- Filters.
local prios = nil
if ARGV[6] ~= '' then
  prios = {}
  for p in string.gmatch(ARGV[6], '[^,]+') do prios[#prios + 1] = p end
  if #prios == 3 then prios = nil end
end
local active = ARGV[7] ~= '' and ARGV[7] or nil
local from = ARGV[8] ~= '' and tonumber(ARGV[8]) or nil
local to = ARGV[9] ~= '' and tonumber(ARGV[9]) or nil
local words = nil
if ARGV[10] ~= '' then
  words = {}
  for w in string.gmatch(ARGV[10], '[^ ]+') do words[#words + 1] = w end
end
-- The owner's last seq (empty: never written); the same as the caller's page had: nothing changed.
local seq = redis.call('HGET', B .. ':feed:m', 'l') or ''
if seq ~= '' and seq == ARGV[11] then return { seq } end
local owned = redis.call('ZCARD', KEYS[1])

local matches = nil
local total = owned
if prios or active or from or to or words then
  -- Every filter but the createdAt range is a union of sets: a word of q the sets of the terms it
  -- begins, the priorities theirs, isActive one. The narrowest filter (by SCARD, or ZLEXCOUNT for
  -- the range) gives the candidates: from one set, intersected in Redis with every other filter
  -- that is one set (SINTER); then the rest are checked a chunk of candidates at a time
  -- (SMISMEMBER), the range by each candidate's createdAt. No call per candidate and filter.
  local groups = {}
  if words then
    for _, w in ipairs(words) do
      local keys = {}
      for _, term in ipairs(redis.call('ZRANGEBYLEX', B .. ':words', '[' .. w, '(' .. w .. '\\255')) do keys[#keys + 1] = B .. ':w:' .. term end
      groups[#groups + 1] = keys
    end
  end
  if prios then
    local keys = {}
    for _, p in ipairs(prios) do keys[#keys + 1] = B .. ':p:' .. p end
    groups[#groups + 1] = keys
  end
  if active then groups[#groups + 1] = { B .. ':a:' .. active } end
  -- createdAt is whole milliseconds: c >= from and c < to hold as c >= ceil(from) and c < ceil(to).
  local lo = from and ('[' .. num(math.ceil(from), false)) or '-'
  local hi = to and ('(' .. num(math.ceil(to), false)) or '+'
  local source, size = nil, math.huge
  if from or to then source, size = 'range', redis.call('ZLEXCOUNT', B .. ':z:ca', lo, hi) end
  local sizes = {}
  for g, keys in ipairs(groups) do
    local n = 0
    for _, key in ipairs(keys) do n = n + redis.call('SCARD', key) end
    sizes[g] = n
    if n < size then source, size = g, n end
  end
  local ids = {}
  local rest = {}
  if size > 0 then
    if source == 'range' then
      for _, m in ipairs(redis.call('ZRANGEBYLEX', B .. ':z:ca', lo, hi)) do ids[#ids + 1] = string.sub(m, -ID) end
      for g = 1, #groups do rest[#rest + 1] = g end
    elseif #groups[source] == 1 then
      local single = {}
      for g, keys in ipairs(groups) do
        if #keys == 1 then single[#single + 1] = keys[1] else rest[#rest + 1] = g end
      end
      ids = redis.call('SINTER', unpack(single))
    else
      local seen = {}
      for _, key in ipairs(groups[source]) do
        for _, id in ipairs(redis.call('SMEMBERS', key)) do
          if not seen[id] then seen[id] = true; ids[#ids + 1] = id end
        end
      end
      for g = 1, #groups do if g ~= source then rest[#rest + 1] = g end end
    end
  end
  -- Keeps the ids in any set of group g: SMISMEMBER by chunks, each set asked about what no set
  -- before took; or, when the group's sets hold fewer ids than that would ask (a short word of q
  -- begins many terms), their ids read once into a table.
  local CHECK = 1000
  local function within (list, g)
    local keys = groups[g]
    if sizes[g] < #list * #keys then
      local union = {}
      for _, key in ipairs(keys) do
        for _, id in ipairs(redis.call('SMEMBERS', key)) do union[id] = true end
      end
      local kept = {}
      for _, id in ipairs(list) do if union[id] then kept[#kept + 1] = id end end
      return kept
    end
    local kept, left = {}, list
    for _, key in ipairs(keys) do
      if #left == 0 then break end
      local missed = {}
      for i = 1, #left, CHECK do
        local chunk = { unpack(left, i, math.min(i + CHECK - 1, #left)) }
        local found = redis.call('SMISMEMBER', key, unpack(chunk))
        for j = 1, #chunk do
          if found[j] == 1 then kept[#kept + 1] = chunk[j] else missed[#missed + 1] = chunk[j] end
        end
      end
      left = missed
    end
    return kept
  end
  for _, g in ipairs(rest) do
    if #ids == 0 then break end
    ids = within(ids, g)
  end
  if source ~= 'range' and (from or to) then
    local inRange = {}
    for _, id in ipairs(ids) do
      local c = tonumber(redis.call('HGET', B .. ':chat:' .. id, 'c'))
      if not (from and c < from) and not (to and c >= to) then inRange[#inRange + 1] = id end
    end
    ids = inRange
  end
  matches = {}
  for _, id in ipairs(ids) do matches[id] = true end
  total = #ids
end

local page = {}
local fields = {}
for i = 2, #sort do fields[#fields + 1] = FIELD[string.sub(sort[i], 1, 1)] end
local function fullKey (head, id)
  if #fields == 0 then return head .. id end
  local stored = redis.call('HMGET', B .. ':chat:' .. id, unpack(fields))
  local parts = { head }
  for i = 2, #sort do parts[i] = encodeStored(sort[i], stored[i - 1]) end
  parts[#parts + 1] = id
  return table.concat(parts)
end
-- Takes the items of one run (or of all matches) in order: after the cursor, past the offset.
local skip = offset
local function take (items)
  for _, it in ipairs(items) do
    if #page >= want then return end
    if cursor == nil or lt(cursor, it.key) then
      if skip > 0 then skip = skip - 1 else page[#page + 1] = it.id end
    end
  end
end
local byKey = function (a, b) return lt(a.key, b.key) end

if total > 0 and offset < total then
  local index = B .. ':z:' .. ascending
  local walkCost = want + offset
  if matches then walkCost = math.min(owned, (want + offset) * owned / total) end
  if matches and total * 4 < walkCost then
    -- Few matches next to what a walk would pass over: sort the matches.
    local items = {}
    local first = FIELD[string.sub(sort[1], 1, 1)]
    for id in pairs(matches) do
      local head = encodeStored(sort[1], redis.call('HGET', B .. ':chat:' .. id, first))
      items[#items + 1] = { id = id, key = fullKey(head, id) }
    end
    table.sort(items, byKey)
    take(items)
  elseif matches == nil and #sort == 1 and not desc then
    -- The first index is the whole order: a range by rank, or after the cursor's member.
    local range
    if cursor then range = redis.call('ZRANGEBYLEX', index, '(' .. cursor, '+', 'LIMIT', 0, want)
    else range = redis.call('ZRANGEBYLEX', index, '-', '+', 'LIMIT', offset, want) end
    for _, m in ipairs(range) do page[#page + 1] = string.sub(m, -ID) end
  else
    -- Walk the first index (backwards for descending) in runs of equal first values; each run in
    -- the order of the rest of the sort and the id. Index members are the value then the id, and
    -- an id has no 0xFF byte: '[' .. value .. '\\255' is past every member of the value's run.
    local RANGE, stop = 'ZRANGEBYLEX', '+'
    local function runStart (h) return '[' .. h end
    if desc then
      RANGE, stop = 'ZREVRANGEBYLEX', '-'
      runStart = function (h) return '[' .. h .. '\\255' end
    end
    local pos = cursorHead and runStart(cursorHead) or (desc and '+' or '-')
    if matches == nil and skip > 0 then
      -- Without filters the offset is a rank: start at the run of the chat at it, past the runs before.
      local at = redis.call(desc and 'ZREVRANGE' or 'ZRANGE', index, skip, skip)[1]
      local h = string.sub(at, 1, #at - ID)
      skip = skip - (desc and redis.call('ZLEXCOUNT', index, '(' .. h .. '\\255', '+') or redis.call('ZLEXCOUNT', index, '-', '(' .. h))
      pos = runStart(h)
    end
    local runHead, runKey, run = nil, nil, {}
    local function flush ()
      for _, it in ipairs(run) do it.key = fullKey(it.head, it.id) end
      table.sort(run, byKey)
      take(run)
      run = {}
    end
    local done = false
    while not done do
      local batch = redis.call(RANGE, index, pos, stop, 'LIMIT', 0, CHUNK)
      for _, m in ipairs(batch) do
        local head, id = string.sub(m, 1, #m - ID), string.sub(m, -ID)
        if #fields == 0 and not desc then
          -- One ascending sort key: the index order is the whole order.
          if matches == nil or matches[id] then take({ { id = id, key = m } }) end
          if #page >= want then done = true; break end
        else
          if head ~= runHead then
            flush()
            if #page >= want then done = true; break end
            runHead, runKey = head, headKey(head)
          end
          if matches == nil or matches[id] then run[#run + 1] = { id = id, head = runKey } end
        end
      end
      if #batch < CHUNK then done = true else pos = '(' .. batch[#batch] end
    end
    flush()
  end
end

local out = { seq, total }
for _, id in ipairs(page) do
  local c = redis.call('HMGET', B .. ':chat:' .. id, 't', 'd', 'p', 'a', 'c', 'u', 'v', 'tk')
  out[#out + 1] = id
  for i = 1, 8 do out[#out + 1] = c[i] end
end
return out
`
