-- reap.lua -- returns tasks whose lease expired (their worker died or
-- stalled) to their queue, counting the attempt, or ends them `failed`
-- once they have used all their attempts (they then join the dead-letter
-- set, see the prelude). One reaper runs at a time, fleet-wide (the
-- coordinator holds a SET NX PX lock around it).
--
-- KEYS: 1 leases, 2 events, 3 results, 4-7 ready queues, 8-11 markers
-- ARGV: 1 batch limit, 2 events maxlen, 3 result ttl s
-- Returns {requeued, failed}.
local leases, events, results = KEYS[1], KEYS[2], KEYS[3]
local limit, maxlen, result_ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local slots = {ceo = 4, code = 5, quality = 6, memory = 7}
local now = fq_now_ms()
local requeued, failed = 0, 0

for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, limit)) do
    redis.call('ZREM', leases, id)
    local key = fq_task_key(id)
    local t = redis.call('HMGET', key, 'role', 'score', 'status', 'attempts', 'max_attempts',
        'worker')
    local slot = slots[t[1] or '']
    if slot and t[3] == 'running' then
        redis.call('HDEL', key, 'lease')
        local attempts, max_attempts = tonumber(t[4]) or 0, tonumber(t[5]) or 1
        if attempts >= max_attempts then
            redis.call('HSET', key, 'status', 'failed', 'finished_at', now, 'error',
                'lease expired on attempt ' .. attempts .. ' of ' .. max_attempts ..
                ': worker ' .. (t[6] or '?') .. ' stopped without reporting')
            fq_final_record(results, id)
            fq_event(events, maxlen, id, 'failed', t[1], {'reason', 'lease expired'})
            fq_dead_add(id, now, result_ttl)
            if result_ttl > 0 then redis.call('EXPIRE', key, result_ttl) end
            failed = failed + 1
        else
            redis.call('HSET', key, 'status', 'queued', 'error',
                'lease expired: worker ' .. (t[6] or '?') .. ' stopped without reporting')
            fq_ready(KEYS[slot], KEYS[slot + 4], id, tonumber(t[2]) or 0)
            fq_event(events, maxlen, id, 'queued', t[1], {'reason', 'lease expired'})
            requeued = requeued + 1
        end
    end
end
return {requeued, failed}
