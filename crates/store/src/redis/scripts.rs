//! The Lua scripts of the Redis store. They are storage primitives only (read together, compare and
//! set, count and hold slots); every rule runs in Rust, in `hourglass_core::step`, and every limit comes
//! from there with the claim.
//!
//! Each script touches the keys of one hash tag, so it runs on one cluster node as one atomic unit;
//! `READ_THREAD` (with counters) and `COMPARE_AND_SET_ALL`, for a single node, touch several.
//! Missing values come back as nil (Lua `false`), never as holes in a reply array.

use std::sync::LazyLock;

use redis::Script;

/// What the thread scripts share: the thread hash's state kept in chunks and its answers kept as
/// fields.
///
/// The hash holds `v`, the version; the state in chunks of at most `CHUNK` bytes (`s`, then `s1`, `s2`,
/// …; a chunk of `CHUNK` bytes is followed by the next, if there is one), so that a hash whose values
/// all stay within Redis's `hash-max-listpack-value` (64 by default) stays a listpack, a few bytes per
/// field; and one field `m<message id>` per answer, its expiry on the Redis clock (6 bytes, big-endian
/// milliseconds, `stamp`) then its record. An answer past its expiry reads as absent and is deleted
/// by a later write (`prune`); the hash itself lives at least as long as its latest answer. An
/// answer written before the answers moved into the hash is a string key of its own (the legacy key,
/// `…:msg:<message id>`), read when the hash has none, until it expires. The scripts never look
/// inside a state or an answer record: they are bytes. Every `redis.call` costs a script about a
/// microsecond beside the command's own work, so the scripts read several fields with one `HMGET`
/// where they can (`read_state` takes the first four chunks so, `READ_THREAD` the version too).
const THREAD_LIB: &str = r"
local CHUNK = 64
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local CHUNKS_READ = {'s', 's1', 's2', 's3'}
local function read_state(key, first)
  first = first or redis.call('HMGET', key, unpack(CHUNKS_READ))
  local state = first[1]
  local part, i = state, 1
  while part and #part == CHUNK do
    if i < #CHUNKS_READ then part = first[i + 1] else part = redis.call('HGET', key, 's' .. i) end
    if part then state = state .. part end
    i = i + 1
  end
  return state
end
local function stamp(at)
  local bytes = {}
  for i = 6, 1, -1 do
    bytes[i] = at % 256
    at = math.floor(at / 256)
  end
  return string.char(unpack(bytes))
end
local function expiry(value)
  local at = 0
  for i = 1, 6 do at = at * 256 + string.byte(value, i) end
  return at
end
local function answer_of(value, legacy)
  if value then
    if expiry(value) > clock() then return string.sub(value, 7) end
    return false
  end
  return redis.call('GET', legacy)
end
local function answer(key, field, legacy)
  return answer_of(redis.call('HGET', key, field), legacy)
end
local function prune(key, now, mark)
  local fields = redis.call('HLEN', key)
  if fields < 2 * (tonumber(mark) or 0) + 8 then return end
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 1) == 'm' and expiry(all[i + 1]) <= now then
      redis.call('HDEL', key, all[i])
      fields = fields - 1
    end
  end
  redis.call('HSET', key, 'p', fields)
end";

/// Reads a thread for a step, with the registry entries of its customer (under the same hash tag) and,
/// on a single node, where a script may touch keys of any hash tag, the counters the step needs
/// (`COUNT_LIB`), in one round trip.
///
/// KEYS: thread hash, legacy answer key, the hashes of `n` registry entries (`entries::WRITE_ENTRY`'s
/// `v` and `d`), the registry's generation when asked for (single node), then three keys for each
/// counter (`count`'s two and a stand-in, `count_windowed`'s or `count_weighted`'s three). ARGV: the
/// answer's field, or an empty string to read no answer; `n`; now (milliseconds); `1` when the
/// generation is asked for, else `0`; then for each counter its kind (`c`, `w` for windowed, `g` for
/// weighted), the instant and the slot asked about (windowed; empty otherwise).
/// Returns `{version or nil, state or nil, answer or nil}`, then for each entry its version and record
/// (each nil when never written), then the generation (nil when never advanced) when asked for, then
/// each counter's three values.
pub(crate) static READ_THREAD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{THREAD_LIB}{COUNT_LIB}
local fields = {{'v', unpack(CHUNKS_READ)}}
if ARGV[1] ~= '' then table.insert(fields, ARGV[1]) end
local got = redis.call('HMGET', KEYS[1], unpack(fields))
local prior = false
if ARGV[1] ~= '' then prior = answer_of(got[#fields], KEYS[2]) end
local reply = {{got[1], read_state(KEYS[1], {{got[2], got[3], got[4], got[5]}}), prior}}
local entries = tonumber(ARGV[2])
for i = 3, 2 + entries do
  local entry = redis.call('HMGET', KEYS[i], 'v', 'd')
  table.insert(reply, entry[1])
  table.insert(reply, entry[2])
end
local k = 3 + entries
if ARGV[4] == '1' then
  table.insert(reply, redis.call('GET', KEYS[k]))
  k = k + 1
end
for a = 5, #ARGV, 3 do
  local counted
  if ARGV[a] == 'w' then
    counted = count_windowed(KEYS[k], KEYS[k + 1], KEYS[k + 2], ARGV[3], ARGV[a + 1], ARGV[a + 2])
  elseif ARGV[a] == 'g' then
    counted = count_weighted(KEYS[k], KEYS[k + 1], KEYS[k + 2], ARGV[3])
  else
    counted = count(KEYS[k], KEYS[k + 1], ARGV[3])
  end
  for i = 1, 3 do table.insert(reply, counted[i]) end
  k = k + 3
end
return reply
"
    ))
});

/// Writes a step's outcome if the thread is still at the version the step read (compare and set).
///
/// KEYS: thread hash, legacy answer key, and a receipt for each slot the step holds.
/// ARGV: expected version (0 for a thread never written), state record, answer record, thread TTL,
/// answer TTL, receipt TTL (milliseconds), the answer's field. TTLs only ever grow.
///
/// Returns `{1, nil, nil, nil}` when written, else `{0, version, state, answer}`: what a retry needs,
/// so that it does not read again.
pub(crate) static COMPARE_AND_SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{THREAD_LIB}{CHECK_VERSION}{WRITE_THREAD}
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], '1', 'PX', ARGV[6])
end
return {{1, false, false, false}}
"
    ))
});

/// The compare both compare-and-set scripts begin with: returns the current version, state and answer
/// when the thread is no longer at `ARGV[1]`, and defines `now` (the Redis clock), `version`,
/// `chunks` (of the state `ARGV[2]`) and `head` (the fields `v`, `p` — the answers counted at the
/// last prune — and the first chunk past the new state's, if the old state had one), read together.
const CHECK_VERSION: &str = r"
local now = clock()
local chunks = math.max(1, math.ceil(#ARGV[2] / CHUNK))
local head = redis.call('HMGET', KEYS[1], 'v', 'p', 's' .. chunks)
local current = head[1]
local version = tonumber(current) or 0
if version ~= tonumber(ARGV[1]) then
  return {0, current, read_state(KEYS[1]), answer(KEYS[1], ARGV[7], KEYS[2])}
end";

/// The set that follows `CHECK_VERSION`: writes the state `ARGV[2]` and the answer `ARGV[3]` (as field
/// `ARGV[7]`, expiring in `ARGV[5]`), deletes expired answers now and then, grows the hash's TTL to
/// `ARGV[4]` and `ARGV[5]`, and defines `keep(key, ttl)`, which grows a key's TTL.
const WRITE_THREAD: &str = r"
prune(KEYS[1], now, head[2])
local fields = {'v', version + 1, ARGV[7], stamp(now + tonumber(ARGV[5])) .. ARGV[3]}
for i = 0, chunks - 1 do
  local name = 's'
  if i > 0 then name = 's' .. i end
  table.insert(fields, name)
  table.insert(fields, string.sub(ARGV[2], i * CHUNK + 1, (i + 1) * CHUNK))
end
redis.call('HSET', KEYS[1], unpack(fields))
if head[3] then
  local stale = chunks
  while redis.call('HDEL', KEYS[1], 's' .. stale) == 1 do stale = stale + 1 end
end
local function keep(key, ttl)
  if redis.call('PTTL', key) < tonumber(ttl) then redis.call('PEXPIRE', key, ttl) end
end
keep(KEYS[1], math.max(tonumber(ARGV[4]), tonumber(ARGV[5])))";

/// `COMPARE_AND_SET` with the step's claims and what follows the write done in the same script, for a
/// single Redis node, where a script may touch keys of any hash tag: the step's claims taken
/// (`CLAIM_LIB`, all or none, and only with the write), the confirmation of every slot the step already
/// holds (its pending claim removed), and the step's prediction with its usage row
/// (`deliveries::PUT_PREDICTION`'s work). A Redis Cluster keeps them apart, since they live in other
/// slots: the ledger claims first, and `commit` sends the rest after.
///
/// KEYS: thread hash, legacy answer key, a receipt for each of the `h` holds, the pending set of each
/// hold, the three keys of each of the `c` claims (`CLAIM`'s), then, with a prediction, its day hash,
/// day set, and the usage hash if any.
/// ARGV: expected version, state record, answer record, thread TTL, answer TTL, receipt TTL, the
/// answer's field, `h`, the pending member of each hold, `c`, now (the server clock, milliseconds),
/// eight values for each claim (its kind, slot, limit, weight, window start, window end, forget-before
/// and TTL, as `CLAIM` takes them), then `1` and the prediction's message, record and TTL, and the
/// usage hash's TTL with its field and increment pairs; or `0` without a prediction.
///
/// Returns what `COMPARE_AND_SET` returns, or `{2, i, pending, pending past lease}` when the thread
/// is at the version but claim `i` (from 1) finds no room: then nothing is written. The claims must be
/// of distinct counters, since each is checked before any is taken.
pub(crate) static COMPARE_AND_SET_ALL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{THREAD_LIB}{CLAIM_LIB}{CHECK_VERSION}
local holds = tonumber(ARGV[8])
local c = 9 + holds
local claims, first = tonumber(ARGV[c]), 3 + 2 * holds
local function claim(i)
  local k, a = first + 3 * (i - 1), c + 2 + 8 * (i - 1)
  return KEYS[k], KEYS[k + 1], KEYS[k + 2], a
end
local fresh = {{}}
for i = 1, claims do
  local slots, pending, third, a = claim(i)
  local fits
  fits, fresh[i] = room(ARGV[a], slots, third, ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4],
    ARGV[a + 6])
  if not fits then
    return {{2, i, redis.call('ZCARD', pending), redis.call('ZCOUNT', pending, '-inf', ARGV[c + 1])}}
  end
end
{WRITE_THREAD}
for i = 1, holds do
  redis.call('SET', KEYS[2 + i], '1', 'PX', ARGV[6])
  redis.call('ZREM', KEYS[2 + holds + i], ARGV[8 + i])
end
for i = 1, claims do
  local slots, _, third, a = claim(i)
  take(ARGV[a], slots, third, ARGV[a + 1], ARGV[a + 3], ARGV[a + 5], ARGV[a + 7], fresh[i])
end
local a = c + 2 + 8 * claims
if ARGV[a] == '1' then
  local day = first + 3 * claims
  local new = redis.call('HSETNX', KEYS[day], 'p:' .. ARGV[a + 1], ARGV[a + 2])
  redis.call('ZADD', KEYS[day + 1], 0, ARGV[a + 1])
  keep(KEYS[day], ARGV[a + 3])
  keep(KEYS[day + 1], ARGV[a + 3])
  if new == 1 and KEYS[day + 2] then
    for i = a + 5, #ARGV, 2 do
      redis.call('HINCRBY', KEYS[day + 2], ARGV[i], ARGV[i + 1])
    end
    keep(KEYS[day + 2], ARGV[a + 4])
  end
end
return {{1, false, false, false}}
"
    ))
});

/// How a slot of a counter is taken, as Lua functions that `CLAIM` and `COMPARE_AND_SET_ALL` share. A
/// counter's kind is `c` (slots), `w` (windowed: `Claim::window`) or `g` (weighted:
/// `CounterKey::is_weighted`); its third key is its until set (windowed), its weights hash (weighted),
/// or unread.
///
/// - `room(kind, slots, third, slot, limit, weight, start, forget)`: whether a claim may take `slot`:
///   the slot is taken already (windowed: live at the window's `start`, its end in the until set
///   after it), or fewer than `limit` slots are (windowed: live), or the weights taken plus `weight`
///   stay within `limit`; and, second, whether the slot is fresh (not taken, or not live). Sums are
///   added and compared as decimal strings (`sum`, `above`), since Lua's numbers are exact only up to
///   2^53 and Redis's integers go to 2^63. A windowed counter forgets a few slots that ended before
///   `forget` first.
/// - `take(kind, slots, third, slot, weight, ends, ttl, fresh)`: takes `slot` for a claim that has
///   room, with what `room` said of it just before: one more claim holds it; a fresh windowed slot
///   starts again from this claim, and lives until `ends` or its later end; a fresh weighted slot
///   adds its weight to the total (the weights hash's field `=total`). The counter's keys expire in
///   `ttl` (milliseconds).
const CLAIM_LIB: &str = r"
local function above(a, b)
  return #a > #b or (#a == #b and a > b)
end
local function sum(a, b)
  local digits, carry, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local d = carry
    if i > 0 then d, i = d + string.byte(a, i) - 48, i - 1 end
    if j > 0 then d, j = d + string.byte(b, j) - 48, j - 1 end
    table.insert(digits, 1, string.char(48 + d % 10))
    carry = math.floor(d / 10)
  end
  return table.concat(digits)
end
local function room(kind, slots, third, slot, limit, weight, start, forget)
  if kind == 'w' then
    for _, old in ipairs(redis.call('ZRANGE', third, '-inf', forget, 'BYSCORE', 'LIMIT', 0, 64)) do
      redis.call('ZREM', third, old)
      redis.call('HDEL', slots, old)
    end
    local ends = tonumber(redis.call('ZSCORE', third, slot))
    if ends ~= nil and ends > tonumber(start) then return true, false end
    return redis.call('ZCOUNT', third, '(' .. start, '+inf') < tonumber(limit), true
  end
  if redis.call('HEXISTS', slots, slot) == 1 then return true, false end
  if kind == 'g' then
    return not above(sum(redis.call('HGET', third, '=total') or '0', weight), limit), true
  end
  return redis.call('HLEN', slots) < tonumber(limit), true
end
local function take(kind, slots, third, slot, weight, ends, ttl, fresh)
  if kind == 'w' then
    if fresh then redis.call('HSET', slots, slot, 0) end
    redis.call('ZADD', third, 'GT', ends, slot)
  elseif kind == 'g' and fresh then
    redis.call('HINCRBY', third, '=total', weight)
    redis.call('HSET', third, slot, weight)
  end
  redis.call('HINCRBY', slots, slot, 1)
  redis.call('PEXPIRE', slots, ttl)
  if kind ~= 'c' then redis.call('PEXPIRE', third, ttl) end
end";

/// Holds a slot of a counter (`CLAIM_LIB`): a new slot only while there is room, a slot already taken
/// always (the claim then shares it); the claim enters the pending set under its member, scored by its
/// lease deadline, until it is confirmed or given back.
///
/// KEYS: slots hash, pending set, and the until set or the weights hash (the pending set again for a
/// counter of slots, unread). ARGV: kind, slot id, limit, weight, window start, window end,
/// forget-before, TTL (as `COMPARE_AND_SET_ALL` takes them), then the pending member, the lease
/// deadline and now (milliseconds).
///
/// Returns `{1}` when claimed, else `{0, pending, pending past lease}`.
pub(crate) static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{CLAIM_LIB}
local fits, fresh = room(ARGV[1], KEYS[1], KEYS[3], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[7])
if not fits then
  return {{0, redis.call('ZCARD', KEYS[2]), redis.call('ZCOUNT', KEYS[2], '-inf', ARGV[11])}}
end
take(ARGV[1], KEYS[1], KEYS[3], ARGV[2], ARGV[4], ARGV[6], ARGV[8], fresh)
redis.call('ZADD', KEYS[2], ARGV[10], ARGV[9])
redis.call('PEXPIRE', KEYS[2], ARGV[8])
return {{1}}
"
    ))
});

/// Gives back a claim on a weighted counter, as `RELEASE` does; a slot freed takes its weight off the
/// total.
///
/// KEYS: slots hash, pending set, weights hash. ARGV: slot id, pending member. Returns 1 when released.
pub(crate) static RELEASE_WEIGHTED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  local weight = redis.call('HGET', KEYS[3], ARGV[1])
  if weight then
    redis.call('HINCRBY', KEYS[3], '=total', '-' .. weight)
    redis.call('HDEL', KEYS[3], ARGV[1])
  end
end
return 1
",
    )
});

/// Gives back a claim whose step did not persist its conversation; the slot frees when no claim holds
/// it. A claim no longer pending (already given back, or confirmed) is left alone, so this is
/// idempotent.
///
/// KEYS: slots hash, pending set, and for a windowed counter its until set. ARGV: slot id, pending
/// member. Returns 1 when released.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  if #KEYS > 2 then redis.call('ZREM', KEYS[3], ARGV[1]) end
end
return 1
",
    )
});

/// How a counter is read, as Lua functions that `COUNT`, `COUNT_WINDOWED`, `COUNT_WEIGHTED` and
/// `READ_THREAD` share. Each returns three values, as its script returns them. A slot is
/// settled when a confirmed claim holds it: its holders outnumber its pending claims. Pending members
/// are `<token> <slot> ...`.
///
/// - `count(slots, pending, now)`: `{settled slots, pending claims past their lease, 0}`;
/// - `count_windowed(slots, pending, ends_at, now, at, asked)`, at an instant: `{settled live slots,
///   pending claims past their lease, whether the asked slot is live and settled}` (a live slot's end,
///   in the until set `ends_at`, is after the instant);
/// - `count_weighted(slots, pending, weights, now)`: `{total of the weights taken (a decimal string),
///   the weights of the slots not settled yet, pending claims past their lease}`; the settled weight is
///   the total less those, computed by the caller in 64-bit integers.
const COUNT_LIB: &str = r"
local function pending_of(pending)
  local counts = {}
  for _, member in ipairs(redis.call('ZRANGE', pending, 0, -1)) do
    local slot = string.match(member, '^%S+ (%S+)')
    if slot then counts[slot] = (counts[slot] or 0) + 1 end
  end
  return counts
end
local function count(slots, pending, now)
  if redis.call('ZCARD', pending) == 0 then return {redis.call('HLEN', slots), 0, 0} end
  local unsettled = 0
  for slot, claims in pairs(pending_of(pending)) do
    if (tonumber(redis.call('HGET', slots, slot)) or 0) <= claims then unsettled = unsettled + 1 end
  end
  return {redis.call('HLEN', slots) - unsettled, redis.call('ZCOUNT', pending, '-inf', now), 0}
end
local function count_windowed(slots, pending, ends_at, now, at, asked)
  local claims = {}
  local stale = 0
  if redis.call('ZCARD', pending) > 0 then
    claims = pending_of(pending)
    stale = redis.call('ZCOUNT', pending, '-inf', now)
  end
  at = tonumber(at)
  local function live(slot)
    local ends = tonumber(redis.call('ZSCORE', ends_at, slot))
    return ends ~= nil and ends > at
  end
  local function settled(slot)
    return (tonumber(redis.call('HGET', slots, slot)) or 0) > (claims[slot] or 0)
  end
  local unsettled = 0
  for slot, _ in pairs(claims) do
    if live(slot) and not settled(slot) then unsettled = unsettled + 1 end
  end
  local has = 0
  if live(asked) and settled(asked) then has = 1 end
  return {redis.call('ZCOUNT', ends_at, '(' .. at, '+inf') - unsettled, stale, has}
end
local function count_weighted(slots, pending, weights, now)
  local total = redis.call('HGET', weights, '=total') or '0'
  if redis.call('ZCARD', pending) == 0 then return {total, {}, 0} end
  local unsettled = {}
  for slot, claims in pairs(pending_of(pending)) do
    if (tonumber(redis.call('HGET', slots, slot)) or 0) <= claims then
      local weight = redis.call('HGET', weights, slot)
      if weight then table.insert(unsettled, weight) end
    end
  end
  return {total, unsettled, redis.call('ZCOUNT', pending, '-inf', now)}
end";

/// Reads a counter (`COUNT_LIB`'s `count`). KEYS: slots hash, pending set. ARGV: now (milliseconds).
pub(crate) static COUNT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{COUNT_LIB}\nreturn count(KEYS[1], KEYS[2], ARGV[1])")));

/// Reads a windowed counter at an instant (`COUNT_LIB`'s `count_windowed`). KEYS: slots hash, pending
/// set, until set. ARGV: now, the instant, the slot asked about.
pub(crate) static COUNT_WINDOWED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{COUNT_LIB}\nreturn count_windowed(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])"
    ))
});

/// Reads a weighted counter (`COUNT_LIB`'s `count_weighted`). KEYS: slots hash, pending set, weights
/// hash. ARGV: now (milliseconds).
pub(crate) static COUNT_WEIGHTED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{COUNT_LIB}\nreturn count_weighted(KEYS[1], KEYS[2], KEYS[3], ARGV[1])"
    ))
});

/// Settles a claim whose holder may have died: returns 1 when the thread persisted the conversation
/// (its receipt exists); else bumps the thread's version, so that the holder's compare-and-set can
/// never succeed any more, and returns 0.
///
/// KEYS: thread hash, receipt. ARGV: TTL for a thread hash created by the bump (milliseconds).
pub(crate) static FENCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
redis.call('HINCRBY', KEYS[1], 'v', 1)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 0
",
    )
});

/// Reads the store's marker, writing `candidate` when there is none: a Redis that lost its data
/// (restarted without persistence, `FLUSHALL`, a failover to an empty replica) has lost the marker too.
///
/// KEYS: the marker. ARGV: the candidate value. Returns `{1, value}` when it was there, else
/// `{0, candidate}`.
pub(crate) static MARKER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local value = redis.call('GET', KEYS[1])
if value then return {1, value} end
redis.call('SET', KEYS[1], ARGV[1])
return {0, ARGV[1]}
",
    )
});
