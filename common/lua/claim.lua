-- claim.lua -- hands the most urgent ready task of a role to a worker,
-- under a lease, in one step: a task is never in two places, nor in none.
--
-- The caller names the candidates: the first ids of the ready queue as it
-- read them just before (ZRANGE), with their hash keys, since a script
-- touches no key it was not given. The first candidate still in the queue
-- is taken; the others are left where they are.
--
-- Tasks whose ttl has passed are ended `expired` on the way. When more
-- work remains after the claim, the role's marker is set again so that
-- another idle worker wakes up.
--
-- The first start of a task (since its intake, or since it was last
-- requeued) is counted in the queue wait histogram of the metrics hash:
-- the time from submission (or requeue) to that start, one counter per
-- bucket ('wait_le:<seconds>') plus wait_sum_ms and wait_count. A delay
-- the submission asked for is part of its wait.
--
-- KEYS: 1 ready queue, 2 leases, 3 marker, 4 events, 5 results, 6 metrics,
--       7 expiry, 8.. the candidates' task hashes
-- ARGV: 1 worker id, 2 lease ms, 3 events maxlen, 4 role, 5 ended ttl s,
--       6.. the candidates' ids, in the order of their keys
-- Returns {id, lease token, hash fields...} for the task claimed; 'again'
-- when no candidate was left but the queue is not empty (read it anew);
-- nil when nothing is ready.
fq_contract(7, true)
local ready, leases, marker, events, results, metrics, expiry =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local worker, lease_ms, maxlen, role = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local ended_ttl = tonumber(ARGV[5])
local now = fq_now_ms()

local function observe_wait(key)
    local t = redis.call('HMGET', key, 'requeued_at', 'submitted_at')
    local since = tonumber(t[1]) or tonumber(t[2])
    if not since then return end
    fq_observe(metrics, 'wait', math.max(0, now - since), FQ_WAIT_BUCKETS_MS)
end

for i = 6, #ARGV do
    local id, key = ARGV[i], KEYS[i + 2]
    if redis.call('ZREM', ready, id) == 1 then
        local state = redis.call('HMGET', key, 'status', 'expires_at')
        if state[1] == 'queued' then
            local expires = tonumber(state[2])
            if expires then
                redis.call('ZREM', expiry, id)
            end
            if expires and expires <= now then
                fq_expire(key, id, now, results, events, maxlen, role, ended_ttl)
            else
                local n = redis.call('HINCRBY', key, 'attempts', 1)
                local token = worker .. '/' .. n
                redis.call('HSET', key, 'status', 'running', 'worker', worker, 'lease', token,
                    'last_started_at', now)
                if redis.call('HSETNX', key, 'started_at', now) == 1 then
                    observe_wait(key)
                end
                redis.call('ZADD', leases, now + lease_ms, id)
                if redis.call('ZCARD', ready) > 0 then
                    redis.call('ZADD', marker, 0, 'wake')
                end
                fq_event(events, maxlen, id, 'running', role, {'attempt', n, 'worker', worker})
                local out = {id, token}
                local all = redis.call('HGETALL', key)
                for j = 1, #all do out[#out + 1] = all[j] end
                return out
            end
        end
        -- anything else (missing, cancelled, already final) is stale: skipped
    end
end
if redis.call('ZCARD', ready) > 0 then
    return 'again'
end
return nil
