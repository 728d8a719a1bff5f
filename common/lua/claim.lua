-- claim.lua -- hands the most urgent ready task of a role to a worker,
-- under a lease, in one step: a task is never in two places, nor in none.
--
-- Tasks whose ttl has passed are ended `expired` on the way. When more
-- work remains after the claim, the role's marker is set again so that
-- another idle worker wakes up.
--
-- The first start of a task (since its intake, or since it was last
-- requeued) is counted in the queue wait histogram of the metrics hash
-- fleetq:{q}:metrics: the time from submission (or requeue) to that start,
-- one counter per bucket ('wait_le:<seconds>') plus wait_sum_ms and
-- wait_count. A delay the submission asked for is part of its wait.
--
-- KEYS: 1 ready queue, 2 leases, 3 marker, 4 events, 5 results
-- ARGV: 1 worker id, 2 lease ms, 3 events maxlen, 4 role
-- Returns nil when nothing is ready, else {id, lease token, hash fields...}.
local ready, leases, marker, events, results = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local worker, lease_ms, maxlen, role = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local now = fq_now_ms()

local WAIT_BUCKETS_MS = {100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000,
    300000, 600000, 1800000, 3600000}

local function observe_wait(key)
    local t = redis.call('HMGET', key, 'requeued_at', 'submitted_at')
    local since = tonumber(t[1]) or tonumber(t[2])
    if not since then return end
    fq_observe('wait', math.max(0, now - since), WAIT_BUCKETS_MS)
end

for _ = 1, 50 do
    local popped = redis.call('ZPOPMIN', ready)
    if #popped == 0 then
        return nil
    end
    local id = popped[1]
    local key = fq_task_key(id)
    local state = redis.call('HMGET', key, 'status', 'expires_at')
    if state[1] == 'queued' then
        local expires = tonumber(state[2])
        if expires and expires <= now then
            redis.call('HSET', key, 'status', 'expired', 'finished_at', now,
                'error', 'expired: its ttl passed before a worker could start it')
            fq_final_record(results, id)
            fq_event(events, maxlen, id, 'expired', role)
            redis.call('EXPIRE', key, FQ_RESULT_TTL)
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
            for i = 1, #all do out[#out + 1] = all[i] end
            return out
        end
    end
    -- anything else (missing, cancelled, already final) is stale: skip it
end
redis.call('ZADD', marker, 0, 'wake')
return nil
