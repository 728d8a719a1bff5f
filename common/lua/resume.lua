-- resume.lua -- `fleetqctl resume` and the dashboard's Resume: lifts a fleet pause (the key was
-- rejected, or the credits ran out) the way a successful probe call does in
-- quota.lua: paused and pause_reason emptied, resumed_at_ms recorded.
-- Workers waiting on the pause see it gone at their next check (within
-- 5 s) and call again. With ARGV[1] = '1' it also closes every open (or
-- half-open) circuit breaker, the key's and each model's
-- (fleetq:quota:<model>, for the models of the registry quota.lua keeps),
-- as a successful call would: no failures in a row, the cool-down back to
-- its first length (ARGV[2] ms).
--
-- Nothing is written when there is nothing to lift.
--
-- KEYS: 1 <prefix>:quota, 2.. the states of the models quota.lua has seen
--       (<prefix>:quota:<model>, read by the caller from its registry)
-- ARGV: 1 '1' to close the breakers too, 2 the breaker's first cool-down ms
-- Returns {paused, pause_reason, paused_at_ms, breaker, breaker_failures}
-- as they were before (of the breakers, the worst and its failures).
fq_contract(1, true)
local q = KEYS[1]
local was = redis.call('HMGET', q, 'paused', 'pause_reason', 'paused_at_ms')
local now = fq_now_ms()
local paused = was[1] or ''
if paused ~= '' then
    redis.call('HSET', q, 'paused', '', 'pause_reason', '', 'resumed_at_ms',
        string.format('%.0f', now))
end
local rank = {closed = 0, half_open = 1, open = 2}
local worst, failures = 'closed', '0'
for _, h in ipairs(KEYS) do
    local b = redis.call('HMGET', h, 'breaker', 'breaker_failures')
    local breaker = b[1] or 'closed'
    if (rank[breaker] or 0) > rank[worst] then worst, failures = breaker, b[2] or '0' end
    if ARGV[1] == '1' and breaker ~= 'closed' then
        redis.call('HSET', h, 'breaker', 'closed', 'breaker_failures', 0,
            'breaker_cooldown_ms', ARGV[2])
    end
end
return {paused, was[2] or '', was[3] or '', worst, failures}
