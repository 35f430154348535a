/**
 * The one atomic step of the cluster-wide limiter. Every replica runs it against the same keys,
 * so the per-second log, the pacing state, the daily count and a 429 pause are decided in one
 * place, on one clock: Redis's own TIME, which makes replicas' clock skew irrelevant (Redis >= 5
 * replicates scripts by effects, so TIME is allowed; Redis 7 does so by default).
 *
 * KEYS: 1 sliding log (sorted set: member = one start, score = the moment it counts from, its
 *         start plus its margin; a start blocks its slot until one rolling second after that;
 *         at most `capacity` members for long),
 *       2 state hash (virtual clock, GCRA TAT, pause, daily counters, the latest start and the TAT
 *         before it),
 *       3 per-minute start counts (hash minute -> count; 24 h of them for a rolling day).
 * ARGV: 1 op: 'acquire' | 'pause' | 'debit' | 'wire' | 'settle' | 'refund' | 'peek'
 *       2 capacity  3 windowMs (the rolling second: 1000)  4 emissionMs
 *       5 toleranceMs (< 0: no pacing)  6 dailyLimit  7 'rolling' | 'utc-day'
 *       8 unique member for the log ('acquire' adds it; 'wire' moves it to now + margin when its
 *         call went on the wire later than it was granted; 'settle' moves it by ARGV 9 ms once
 *         its answer showed the margin it needed; 'refund' removes it: the call never left)
 *       9 pause ms (op 'pause'), number of calls made elsewhere to count (op 'debit'), ms to
 *         move the member by (op 'settle', may be negative), or the Redis time of the grant
 *         being handed back (op 'refund', which finds its minute and day from it)
 *      10 margin ms the start carries until its answer is back (ops 'acquire' and 'wire')
 * Reply: { granted 0|1, waitMs, reason, now, used, rate/s, releaseAt (-1: none), pausedUntil,
 *          available }, numbers as strings because Redis truncates Lua numbers to integers.
 *
 * Redis's clock is made monotonic here: if TIME steps back, an offset carries the virtual clock
 * on from the last value seen, so a backward step never reopens the last second nor the day.
 */
export const LIMITER_SCRIPT = `
local log, st, minutes = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
local capacity = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[3])
local emission = tonumber(ARGV[4])
local tolerance = tonumber(ARGV[5])
local dailyLimit = tonumber(ARGV[6])
local rolling = ARGV[7] == 'rolling'
local member = ARGV[8]
local arg = tonumber(ARGV[9]) or 0
local margin = tonumber(ARGV[10]) or 0
local DAY, MINUTE, RATE_SPAN = 86400000, 60000, 300000
-- Times are ms with microsecond decimals. Redis would format a Lua number argument with 14
-- significant digits (0.1 ms at epoch scale), so every time is written through f().
local function f(x) return string.format('%.3f', x) end

local t = redis.call('TIME')
local raw = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local s = redis.call('HMGET', st, 'last', 'offset', 'tat', 'pause', 'total', 'oldest', 'newest', 'day', 'dayUsed',
  'lastMember', 'tatBefore')
local last = tonumber(s[1]) or 0
local offset = tonumber(s[2]) or 0
local now = raw + offset
if now < last then
  offset = offset + (last - now)
  now = last
end
now = math.floor(now * 1000 + 0.5) / 1000
local tat = tonumber(s[3]) or 0
local pause = tonumber(s[4]) or 0
local total = tonumber(s[5]) or 0
local oldest = tonumber(s[6])
local newest = tonumber(s[7])
local day = tonumber(s[8])
local dayUsed = tonumber(s[9]) or 0
local lastMember = s[10] or ''
local tatBefore = tonumber(s[11]) or 0

-- Expire minute buckets: a rolling day keeps a bucket until 24 h after its minute ends; a
-- utc-day only needs the last few minutes for the rate estimate.
local minute = math.floor(now / MINUTE)
local horizon = RATE_SPAN
if rolling then horizon = DAY end
local lastExpired = math.floor((now - horizon) / MINUTE) - 1
if oldest ~= nil and newest ~= nil then
  if newest <= lastExpired then
    redis.call('DEL', minutes)
    total, oldest, newest = 0, nil, nil
  else
    -- Also step over empty minutes so 'oldest' is a bucket that really frees calls.
    while oldest <= newest do
      local c = tonumber(redis.call('HGET', minutes, oldest))
      if c ~= nil and oldest > lastExpired then break end
      if c ~= nil then
        redis.call('HDEL', minutes, oldest)
        total = total - c
      end
      oldest = oldest + 1
    end
    if oldest > newest then total, oldest, newest = 0, nil, nil end
  end
end

local today = math.floor(now / DAY)
if day ~= today then
  day = today
  dayUsed = 0
end
local used = dayUsed
if rolling then used = total end

local function charge(n)
  redis.call('HINCRBY', minutes, minute, n)
  total = total + n
  dayUsed = dayUsed + n
  used = used + n
  if oldest == nil then oldest = minute end
  newest = minute
end

local granted, wait, reason = 0, 0, 'rate'
redis.call('ZREMRANGEBYSCORE', log, '-inf', f(now - windowMs))
local count = redis.call('ZCARD', log)

if op == 'pause' then
  pause = math.max(pause, now + arg)
elseif op == 'debit' then
  if arg > 0 then charge(arg) end
elseif op == 'wire' then
  -- Only ever later, and only while the start is still in the log: once trimmed, a newer start
  -- has already been decided without it.
  local score = tonumber(redis.call('ZSCORE', log, member))
  if score ~= nil and score < now + margin then redis.call('ZADD', log, 'XX', f(now + margin), member) end
elseif op == 'settle' then
  local score = tonumber(redis.call('ZSCORE', log, member))
  if score ~= nil then redis.call('ZADD', log, 'XX', f(score + arg), member) end
elseif op == 'refund' then
  -- The call never went on the wire. Its slot, its pacing (when it was the latest start) and its
  -- daily charge go back; a charge whose minute or day has already gone has nothing to return.
  if member ~= '' then
    redis.call('ZREM', log, member)
    if member == lastMember then
      tat = tatBefore
      lastMember = ''
    end
  end
  local grantMinute = math.floor(arg / MINUTE)
  local c = tonumber(redis.call('HGET', minutes, grantMinute))
  if c ~= nil and c > 0 then
    if c == 1 then redis.call('HDEL', minutes, grantMinute) else redis.call('HINCRBY', minutes, grantMinute, -1) end
    total = math.max(0, total - 1)
  end
  if math.floor(arg / DAY) == day and dayUsed > 0 then dayUsed = dayUsed - 1 end
  used = dayUsed
  if rolling then used = total end
  count = redis.call('ZCARD', log)
elseif op == 'acquire' then
  if pause > now then
    wait, reason = pause - now, 'throttled'
  end
  if count >= capacity then
    -- The start that must leave the window first. Not simply the oldest: during a rolling deploy
    -- that lowers the rate, the log can hold more entries than this replica's capacity.
    local first = redis.call('ZRANGE', log, count - capacity, count - capacity, 'WITHSCORES')
    local w = tonumber(first[2]) + windowMs - now
    if w > wait then wait, reason = w, 'rate' end
  end
  if tolerance >= 0 then
    local w = tat - tolerance - now
    if w > 0.000001 and w > wait then wait, reason = w, 'rate' end
  end
  if used >= dailyLimit then
    local w = (day + 1) * DAY - now
    if rolling and oldest ~= nil then w = (oldest + 1) * MINUTE + DAY - now end
    if w > wait then wait, reason = w, 'quota-exhausted' end
  end
  -- Every time here is whole microseconds, so anything under half a microsecond is float noise.
  if wait < 0.0005 then
    wait = 0
    granted = 1
    redis.call('ZADD', log, f(now + margin), member)
    count = count + 1
    lastMember = member
    tatBefore = tat
    -- As in the local limiter: a paced start a timer tick late keeps its schedule.
    local late = now - tat
    if late > 0 and late <= math.min(emission, 2) then tat = tat + emission else tat = math.max(tat, now) + emission end
    charge(1)
  end
end

redis.call('HSET', st, 'last', f(now), 'offset', f(offset), 'tat', f(tat), 'pause', f(pause), 'total', total,
  'oldest', oldest or '', 'newest', newest or '', 'day', day, 'dayUsed', dayUsed, 'lastMember', lastMember,
  'tatBefore', f(tatBefore))
redis.call('PEXPIRE', st, 2 * DAY + 60000)
redis.call('PEXPIRE', minutes, DAY + 2 * MINUTE)
-- Scores run up to a margin (at most a second, by the settings) past the start.
redis.call('PEXPIRE', log, math.ceil(2 * windowMs + 2000))

local recent = 0
local counts = redis.call('HMGET', minutes, minute - 5, minute - 4, minute - 3, minute - 2, minute - 1, minute)
for _, c in ipairs(counts) do recent = recent + (tonumber(c) or 0) end
local rate = recent * 1000 / (now - (minute - 5) * MINUTE)

local releaseAt = (day + 1) * DAY
if rolling then
  releaseAt = -1
  if oldest ~= nil then releaseAt = (oldest + 1) * MINUTE + DAY end
end
local available = math.max(0, math.min(capacity - count, dailyLimit - used))
if pause > now then available = 0 end

return { granted, f(wait), reason, f(now), tostring(used), tostring(rate), f(releaseAt), f(pause),
  tostring(available) }
`;

export interface ScriptReply {
  readonly granted: boolean;
  readonly waitMs: number;
  readonly reason: 'rate' | 'throttled' | 'quota-exhausted';
  /** Redis virtual time (epoch ms) when the script ran. */
  readonly now: number;
  readonly used: number;
  readonly ratePerSecond: number;
  readonly releaseAt: number | null;
  readonly pausedUntil: number;
  readonly available: number;
}

export function parseScriptReply(raw: unknown): ScriptReply {
  if (!Array.isArray(raw) || raw.length < 9)
    throw new Error(`unexpected limiter script reply: ${String(raw)}`);
  const num = (i: number): number => Number(raw[i]);
  const reason = String(raw[2]);
  return {
    granted: num(0) === 1,
    waitMs: num(1),
    reason: reason === 'throttled' || reason === 'quota-exhausted' ? reason : 'rate',
    now: num(3),
    used: num(4),
    ratePerSecond: num(5),
    releaseAt: num(6) < 0 ? null : num(6),
    pausedUntil: num(7),
    available: num(8),
  };
}
