-- finish.lua -- what a worker reports after an attempt: the attempt record
-- and the task's next state, in one step, guarded by the lease token so
-- that a worker whose lease was reaped cannot overwrite the new owner's.
--
-- Actions: 'done' and 'failed' end the task (final record for the store;
-- a failed task also joins the dead-letter set, see the prelude);
-- 'retry' parks it in the delayed set for due ms (status retrying);
-- 'release' hands it back uncounted (status queued, or delayed when due > 0),
-- e.g. on shutdown or while the daily budget is spent; 'requeue' does the
-- same for a task whose call was made (the fleet was paused by it).
--
-- KEYS: 1 leases, 2 delayed, 3 ready queue, 4 marker, 5 events, 6 results
-- ARGV: 1 id, 2 token, 3 action, 4 due ms, 5 events maxlen, 6 role,
--       7 result ttl s, 8 count of attempt fields A, 9..8+A attempt fields,
--       then name/value pairs to set on the task hash
-- Returns 'ok' or 'lost'.
local leases, delayed, ready, marker, events, results =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, token, action = ARGV[1], ARGV[2], ARGV[3]
local due_ms, maxlen, role, result_ttl = tonumber(ARGV[4]), ARGV[5], ARGV[6], tonumber(ARGV[7])
local nattempt = tonumber(ARGV[8])
local key = fq_task_key(id)
local now = fq_now_ms()

-- The call happened whoever owns the task now: its attempt row is kept.
if nattempt > 0 then
    local args = {'XADD', results, '*'}
    for i = 9, 8 + nattempt do args[#args + 1] = ARGV[i] end
    redis.call(unpack(args))
end

if redis.call('HGET', key, 'lease') ~= token then
    return 'lost'
end

local fields = {}
for i = 9 + nattempt, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields > 0 then
    redis.call('HSET', key, unpack(fields))
end
redis.call('HDEL', key, 'lease')
redis.call('ZREM', leases, id)

if action == 'done' or action == 'failed' then
    if action == 'done' then
        redis.call('HDEL', key, 'error')  -- earlier attempts' errors are in `attempts`
    end
    redis.call('HSET', key, 'status', action, 'finished_at', now)
    fq_final_record(results, id)
    fq_event(events, maxlen, id, action, role)
    if action == 'failed' then
        fq_dead_add(id, now, result_ttl)
    end
    if result_ttl > 0 then
        redis.call('EXPIRE', key, result_ttl)
    end
elseif action == 'retry' then
    redis.call('HSET', key, 'status', 'retrying')
    redis.call('ZADD', delayed, now + due_ms, id)
    fq_event(events, maxlen, id, 'retrying', role, {'due_ms', due_ms})
else
    if action == 'release' then
        redis.call('HINCRBY', key, 'attempts', -1)  -- no call was made
    end
    if due_ms > 0 then
        redis.call('HSET', key, 'status', 'delayed')
        redis.call('ZADD', delayed, now + due_ms, id)
        fq_event(events, maxlen, id, 'delayed', role, {'due_ms', due_ms})
    else
        redis.call('HSET', key, 'status', 'queued')
        fq_ready(ready, marker, id, tonumber(redis.call('HGET', key, 'score')) or 0)
        fq_event(events, maxlen, id, 'queued', role)
    end
end
return 'ok'
