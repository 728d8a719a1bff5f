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
-- Every attempt that made a call is also counted in the metrics hash
-- (read by the coordinator's /metrics), whatever the
-- lease says, since the call happened: calls by HTTP status and outcome,
-- tokens by kind, cost ticks, and the call latency histogram (one counter
-- per bucket, 'latency_le:<seconds>', plus latency_sum_ms and
-- latency_count; the reader adds the buckets up). The task hash field
-- `metered` holds the highest attempt number counted, so a report sent
-- again after a lost reply is not counted twice.
--
-- KEYS: 1 task hash, 2 leases, 3 delayed, 4 ready queue, 5 marker,
--       6 events, 7 results, 8 dead letters, 9 metrics
-- ARGV: 1 id, 2 token, 3 action, 4 due ms, 5 events maxlen, 6 role,
--       7 ended ttl s, 8 count of attempt fields A, 9..8+A attempt fields,
--       then name/value pairs to set on the task hash
-- Returns 'ok' or 'lost'.
fq_contract(9, false)
local key, leases, delayed, ready, marker, events, results, dead, metrics =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local id, token, action = ARGV[1], ARGV[2], ARGV[3]
local due_ms, maxlen, role, ended_ttl = tonumber(ARGV[4]), ARGV[5], ARGV[6], tonumber(ARGV[7])
local nattempt = tonumber(ARGV[8])
local now = fq_now_ms()

-- The call happened whoever owns the task now: its attempt row is kept.
if nattempt > 0 then
    local args = {'XADD', results, '*'}
    for i = 9, 8 + nattempt do args[#args + 1] = ARGV[i] end
    redis.call(unpack(args))
end

-- ------------------------------------------------------------- metrics

local function pairs_to_map(from, to)
    local m = {}
    for i = from, to - 1, 2 do m[ARGV[i]] = ARGV[i + 1] end
    return m
end

local function meter()
    local att = pairs_to_map(9, 9 + nattempt)
    local n = tonumber(att['n'])
    if n and redis.call('EXISTS', key) == 1 then
        if (tonumber(redis.call('HGET', key, 'metered')) or 0) >= n then
            return  -- this report was sent before and counted then
        end
        redis.call('HSET', key, 'metered', n)
    end
    local code = tonumber(att['http_status']) or 0
    local outcome = att['outcome'] or 'unknown'
    redis.call('HINCRBY', metrics, 'calls:' .. code .. ':' .. outcome, 1)
    fq_observe(metrics, 'latency', math.max(0, math.floor(tonumber(att['latency_ms']) or 0)),
        FQ_LATENCY_BUCKETS_MS)
    local set = pairs_to_map(9 + nattempt, #ARGV + 1)
    for _, kind in ipairs({'prompt', 'completion', 'reasoning', 'cached'}) do
        local v = tonumber(set[kind .. '_tokens'])
        if v and v > 0 then
            redis.call('HINCRBY', metrics, 'tokens:' .. kind, math.floor(v))
        end
    end
    local ticks = set['cost_ticks']
    if ticks and string.match(ticks, '^%d+$') and ticks ~= '0' then
        redis.call('HINCRBY', metrics, 'cost_ticks', ticks)
    end
end

if nattempt > 0 then
    meter()
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
    fq_final_record(results, key, id)
    fq_event(events, maxlen, id, action, role)
    if action == 'failed' then
        fq_dead_add(dead, id, now, ended_ttl)
    end
    redis.call('EXPIRE', key, ended_ttl)
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
