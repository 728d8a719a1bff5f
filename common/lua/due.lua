-- due.lua -- what the coordinator's timer has to do now, read on Redis'
-- clock: for each sorted set given (scored by a time in ms: the delayed
-- set, the expiry set, the leases), the members due by now, oldest first.
-- It only reads; the caller then hands the ids, with their task hashes, to
-- promote.lua, expire.lua and reap.lua, which check each again.
--
-- KEYS: the sorted sets
-- ARGV: 1 most members per set
-- Returns {{ids due in KEYS[1]}, {ids due in KEYS[2]}, ...}.
fq_contract(2, true)
local limit = tonumber(ARGV[1])
local now = fq_now_ms()
local out = {}
for i = 1, #KEYS do
    out[i] = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', now, 'LIMIT', 0, limit)
end
return out
