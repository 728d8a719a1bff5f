-- claim.lua -- hands the most urgent ready tasks of a role to a worker,
-- each under a lease, in one step: a task is never in two places, nor in
-- none. A worker with several free slots fills them with one call.
--
-- The caller names the candidates: the first ids of the ready queue as it
-- read them just before (ZRANGE), with their hash keys, since a script
-- touches no key it was not given. Up to `want` of the candidates still in
-- the queue are taken, in order; the others are left where they are.
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
-- ARGV: 1 worker id, 2 lease ms, 3 role, 4 want, 5.. the candidates' ids,
--       in the order of their keys
-- Returns a list of {id, lease token, hash fields...}, one per task
-- claimed; 'again' when no candidate was left but the queue is not empty
-- (read it anew); nil when nothing is ready.
fq_contract(7, true)
local ready, leases, marker, events, results, metrics, expiry =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local worker, lease_ms, role, want = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local now = fq_now_ms()
local counts = {}
local claimed = {}

local function take(id, key)
    local state = redis.call('HMGET', key, 'status', 'expires_at', 'attempts', 'started_at',
        'requeued_at', 'submitted_at')
    if state[1] ~= 'queued' then
        return  -- missing, cancelled, already final: stale, skipped
    end
    local expires = tonumber(state[2])
    if expires then
        redis.call('ZREM', expiry, id)
        if expires <= now then
            fq_expire(key, id, now, results, events, role)
            return
        end
    end
    local n = (tonumber(state[3]) or 0) + 1
    local token = worker .. '/' .. n
    local set = {'HSET', key, 'attempts', n, 'status', 'running', 'worker', worker,
        'lease', token, 'last_started_at', now}
    if not state[4] then
        set[#set + 1] = 'started_at'
        set[#set + 1] = now
        local since = tonumber(state[5]) or tonumber(state[6])
        if since then
            fq_count_observation(counts, 'wait', math.max(0, now - since), FQ_WAIT_BUCKETS_MS)
        end
    end
    redis.call(unpack(set))
    redis.call('ZADD', leases, now + lease_ms, id)
    fq_event(events, id, 'running', role, {'attempt', n, 'worker', worker})
    local out = {id, token}
    local all = redis.call('HGETALL', key)
    for j = 1, #all do out[#out + 1] = all[j] end
    claimed[#claimed + 1] = out
end

for i = 5, #ARGV do
    if #claimed >= want then break end
    local id = ARGV[i]
    if redis.call('ZREM', ready, id) == 1 then
        take(id, KEYS[i + 3])
    end
end
fq_add_counts(metrics, counts)
local more = redis.call('ZCARD', ready) > 0
if #claimed > 0 then
    if more then redis.call('ZADD', marker, 0, 'wake') end
    return claimed
end
if more then
    return 'again'
end
return nil
