-- reap.lua -- returns tasks whose lease expired (their worker died or
-- stalled) to their queue, counting the attempt, or ends them `failed`
-- once they have used all their attempts (they then join the dead-letter
-- set, see the prelude). The coordinator's timer calls it with the ids
-- due.lua found expired; a lease extended since is left alone. Scripts are
-- atomic, so coordinators running it at once never handle a task twice.
--
-- KEYS: 1 leases, 2 events, 3 results, 4 dead letters, 5-8 ready queues,
--       9-12 markers, 13.. the tasks' hashes
-- ARGV: the ids, in the order of their keys
-- Returns {requeued, failed}.
fq_contract(12, true)
local leases, events, results, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local slots = {ceo = 5, code = 6, quality = 7, memory = 8}
local now = fq_now_ms()
local requeued, failed = 0, 0

fq_each_due(leases, 1, 12, now, function(id, key)
    local t = redis.call('HMGET', key, 'role', 'score', 'status', 'attempts', 'max_attempts',
        'worker')
    local slot = slots[t[1] or '']
    if slot and t[3] == 'running' then
        redis.call('HDEL', key, 'lease', 'phase')
        local attempts, max_attempts = tonumber(t[4]) or 0, tonumber(t[5]) or 1
        if attempts >= max_attempts then
            redis.call('HSET', key, 'status', 'failed', 'finished_at', now, 'error',
                'lease expired on attempt ' .. attempts .. ' of ' .. max_attempts ..
                ': worker ' .. (t[6] or '?') .. ' stopped without reporting')
            fq_final_record(results, key, id)
            fq_event(events, id, 'failed', t[1], {'reason', 'lease expired'})
            fq_dead_add(dead, id, now)
            redis.call('EXPIRE', key, FQ_ENDED_TTL)
            failed = failed + 1
        else
            redis.call('HSET', key, 'status', 'queued', 'error',
                'lease expired: worker ' .. (t[6] or '?') .. ' stopped without reporting')
            fq_ready(KEYS[slot], KEYS[slot + 4], id, tonumber(t[2]) or 0)
            fq_event(events, id, 'queued', t[1], {'reason', 'lease expired'})
            requeued = requeued + 1
        end
    end
end)
return {requeued, failed}
