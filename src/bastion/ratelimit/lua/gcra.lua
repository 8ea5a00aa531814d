-- GCRA over several rates in one atomic call: all pass or nothing is written.
-- KEYS[i]: the TAT of rate i (integer microseconds since the epoch).
-- ARGV[1]: now (integer microseconds, from the caller's injected clock).
-- ARGV[2]: cost.  ARGV[1 + 2i]: interval of rate i (microseconds).  ARGV[2 + 2i]: its burst.
-- Returns {applied (1|0), tat_1 or -1, ..., tat_n or -1}: the TATs as read before the call,
-- so the caller recomputes the same stats with the same integer arithmetic.
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local read = {}
local new = {}
local applied = 1
for i = 1, #KEYS do
  local interval = tonumber(ARGV[1 + 2 * i])
  local burst = tonumber(ARGV[2 + 2 * i])
  local stored = redis.call('GET', KEYS[i])
  local tat = now
  if stored then
    tat = tonumber(stored)
    read[i] = tat
    if tat < now then tat = now end
  else
    read[i] = -1
  end
  new[i] = tat + interval * cost
  if new[i] - interval * burst > now then applied = 0 end
end
if applied == 1 and cost > 0 then
  for i = 1, #KEYS do
    local ttl_ms = math.ceil((new[i] - now) / 1000)
    if ttl_ms < 1 then ttl_ms = 1 end
    redis.call('SET', KEYS[i], string.format('%d', new[i]), 'PX', ttl_ms)
  end
end
local out = {applied}
for i = 1, #KEYS do out[i + 1] = read[i] end
return out
