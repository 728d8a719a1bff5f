-- resume.lua -- `fleetqctl resume`: lifts a fleet pause (the key was
-- rejected, or the credits ran out) the way a successful probe call does in
-- quota.lua: paused and pause_reason emptied, resumed_at_ms recorded.
-- Workers waiting on the pause see it gone at their next check (within
-- 5 s) and call again. With ARGV[1] = '1' it also closes an open (or
-- half-open) circuit breaker as a successful call would: no failures in a
-- row, the cool-down back to its first length (ARGV[2] ms).
--
-- Nothing is written when there is nothing to lift.
--
-- KEYS: 1 fleetq:quota
-- ARGV: 1 '1' to close the breaker too, 2 the breaker's first cool-down ms
-- Returns {paused, pause_reason, paused_at_ms, breaker, breaker_failures}
-- as they were before.
local q = KEYS[1]
local was = redis.call('HMGET', q, 'paused', 'pause_reason', 'paused_at_ms', 'breaker',
    'breaker_failures')
local now = fq_now_ms()
local paused = was[1] or ''
if paused ~= '' then
    redis.call('HSET', q, 'paused', '', 'pause_reason', '', 'resumed_at_ms',
        string.format('%.0f', now))
end
local breaker = was[4] or 'closed'
if ARGV[1] == '1' and breaker ~= 'closed' then
    redis.call('HSET', q, 'breaker', 'closed', 'breaker_failures', 0,
        'breaker_cooldown_ms', ARGV[2])
end
return {paused, was[2] or '', was[3] or '', breaker, was[5] or '0'}
