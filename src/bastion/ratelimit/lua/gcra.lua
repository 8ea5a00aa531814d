-- GCRA over several rates in one atomic call: all pass or nothing is written.
-- KEYS[1]: a hash per client and policy: a field per rate holding its TAT (integer
--          microseconds since the epoch), and field x, the time until which the key is kept.
-- ARGV[1]: now (integer microseconds, from the caller's injected clock).
-- ARGV[2 .. 1 + n]: the field of each of the n rates; then ARGV[n + 2i] is rate i's
--          increment (interval * cost) and ARGV[n + 2i + 1] its tolerance (interval * burst).
-- Returns "applied tat_1 ... tat_n" in one string: applied is 1 or 0 and each TAT is the text
-- stored before the call, or -1 when there was none, so the caller recomputes the same stats
-- with the same integer arithmetic (one short string is the cheapest reply to read).
--
-- This script is most of a decision's server time, so it is kept small: one HMGET, one HSET
-- when admitted, a PEXPIRE only when the key's life must grow, straight-line code for one
-- and two rates (the usual policies) and a loop for more. A missing TAT reads as -1, which
-- is before now, exactly like a fresh key. TATs stay below 2^53, so Lua's doubles hold
-- them exactly and they are written as integer text.
local now = ARGV[1] + 0
local n = (#ARGV - 1) / 3
local SLACK_MAX = 60000000
-- Each path writes the new TATs, and field x with a PEXPIRE only when its latest TAT passes
-- the kept time: then the key is kept that far plus the longest tolerance (at most a
-- minute), so a busy key pays for a PEXPIRE about once per that slack. The paths are written
-- out rather than sharing a helper: a closure per call costs measurable server time.

if n == 2 then
  local read = redis.call('HMGET', KEYS[1], 'x', ARGV[2], ARGV[3])
  local s1, s2 = read[2] or '-1', read[3] or '-1'
  local t1, t2 = s1 + 0, s2 + 0
  if t1 < now then t1 = now end
  if t2 < now then t2 = now end
  t1 = t1 + ARGV[4]
  t2 = t2 + ARGV[6]
  local tol1, tol2 = ARGV[5] + 0, ARGV[7] + 0
  if t1 - tol1 > now or t2 - tol2 > now then return '0 ' .. s1 .. ' ' .. s2 end
  if ARGV[4] ~= '0' then
    local latest, keep = t1, read[1]
    if t2 > latest then latest = t2 end
    t1, t2 = string.format('%d', t1), string.format('%d', t2)
    if keep and latest <= keep + 0 then
      redis.call('HSET', KEYS[1], ARGV[2], t1, ARGV[3], t2)
    else
      if tol2 > tol1 then tol1 = tol2 end
      if tol1 > SLACK_MAX then tol1 = SLACK_MAX end
      keep = latest + tol1
      redis.call('HSET', KEYS[1], ARGV[2], t1, ARGV[3], t2, 'x', string.format('%d', keep))
      redis.call('PEXPIRE', KEYS[1], math.ceil((keep - now) / 1000))
    end
  end
  return '1 ' .. s1 .. ' ' .. s2
end

if n == 1 then
  local read = redis.call('HMGET', KEYS[1], 'x', ARGV[2])
  local s1 = read[2] or '-1'
  local t1 = s1 + 0
  if t1 < now then t1 = now end
  t1 = t1 + ARGV[3]
  local tol1 = ARGV[4] + 0
  if t1 - tol1 > now then return '0 ' .. s1 end
  if ARGV[3] ~= '0' then
    local keep = read[1]
    if keep and t1 <= keep + 0 then
      redis.call('HSET', KEYS[1], ARGV[2], string.format('%d', t1))
    else
      if tol1 > SLACK_MAX then tol1 = SLACK_MAX end
      keep = t1 + tol1
      redis.call('HSET', KEYS[1], ARGV[2], string.format('%d', t1), 'x', string.format('%d', keep))
      redis.call('PEXPIRE', KEYS[1], math.ceil((keep - now) / 1000))
    end
  end
  return '1 ' .. s1
end

local read = redis.call('HMGET', KEYS[1], 'x', unpack(ARGV, 2, 1 + n))
local applied, latest, slack, writes = 1, now, 0, {}
for i = 1, n do
  local text = read[i + 1] or '-1'
  read[i + 1] = text
  local tat = text + 0
  if tat < now then tat = now end
  tat = tat + ARGV[n + 2 * i]
  local tolerance = ARGV[n + 2 * i + 1] + 0
  if tat - tolerance > now then applied = 0 end
  writes[2 * i - 1] = ARGV[1 + i]
  writes[2 * i] = string.format('%d', tat)
  if tat > latest then latest = tat end
  if tolerance > slack then slack = tolerance end
end
local keep = read[1]
read[1] = applied
if applied == 1 and ARGV[n + 2] ~= '0' then
  if not (keep and latest <= keep + 0) then
    if slack > SLACK_MAX then slack = SLACK_MAX end
    keep = latest + slack
    writes[2 * n + 1] = 'x'
    writes[2 * n + 2] = string.format('%d', keep)
  end
  redis.call('HSET', KEYS[1], unpack(writes))
  if writes[2 * n + 1] then redis.call('PEXPIRE', KEYS[1], math.ceil((keep - now) / 1000)) end
end
return table.concat(read, ' ')
