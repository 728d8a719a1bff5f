-- finish.lua -- what a worker reports after attempts: for each, the
-- attempt record and the task's next state, in one step, each guarded by
-- its lease token so that a worker whose lease was reaped cannot overwrite
-- the new owner's. A worker sends the reports of one turn of its loop in
-- one call.
--
-- Actions: 'done' and 'failed' end the task (final record for the store;
-- a failed task also joins the dead-letter set, see the prelude);
-- 'retry' parks it in the delayed set for due ms (status retrying);
-- 'release' hands it back uncounted (status queued, or delayed when due > 0),
-- e.g. on shutdown or while the daily budget is spent; 'requeue' does the
-- same for a task whose call was made (the fleet was paused by it).
--
-- Every attempt that made a call is also counted in the metrics hash
-- (read by the coordinator's /metrics), whatever the lease says, since the
-- call happened: calls by HTTP status and outcome, tokens by kind, cost
-- ticks, and the call latency and time-to-first-token histograms (one
-- counter per bucket, 'latency_le:<seconds>', plus latency_sum_ms and
-- latency_count, the same for 'ttft'; the reader adds the buckets up). The task hash field `metered` holds the
-- highest attempt number counted, so a report sent again after a lost
-- reply is not counted twice.
--
-- KEYS: 1 leases, 2 delayed, 3 ready queue, 4 marker, 5 events, 6 results,
--       7 dead letters, 8 metrics, then the task hash of each report
-- ARGV: 1 role, then per report: id, lease token, action, due ms, the
--       count A of attempt values and A values (name/value pairs), the
--       count H of task hash values and H values (name/value pairs)
-- Returns, per report, 'ok' or 'lost'.
fq_contract(8, true)
local leases, delayed, ready, marker, events, results, dead, metrics =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local role = ARGV[1]
local now = fq_now_ms()
local counts = {}
local woken = false
local TOKEN_KINDS = {'prompt', 'completion', 'reasoning', 'cached'}

local function pairs_to_map(from, to)
    local m = {}
    for i = from, to - 1, 2 do m[ARGV[i]] = ARGV[i + 1] end
    return m
end

-- The call's figures, counted once per attempt number. An answer from
-- the response cache made no call (cache.lua counts it).
local function meter(att, set)
    if att['outcome'] == 'cached' then return end
    local code = tonumber(att['http_status']) or 0
    fq_count(counts, 'calls:' .. code .. ':' .. (att['outcome'] or 'unknown'), 1)
    fq_count_observation(counts, 'latency', math.max(0, math.floor(tonumber(att['latency_ms']) or 0)),
        FQ_LATENCY_BUCKETS_MS)
    local ttft = tonumber(att['ttft_ms'])
    if ttft and ttft >= 0 then
        fq_count_observation(counts, 'ttft', math.floor(ttft), FQ_LATENCY_BUCKETS_MS)
    end
    for _, kind in ipairs(TOKEN_KINDS) do
        local v = tonumber(set[kind .. '_tokens'])
        if v and v > 0 then fq_count(counts, 'tokens:' .. kind, math.floor(v)) end
    end
    if att['usage_estimated'] == '1' then fq_count(counts, 'usage_estimated', 1) end
    local ticks = set['cost_ticks']
    if ticks and string.match(ticks, '^%d+$') and ticks ~= '0' then
        fq_count(counts, 'cost_ticks', tonumber(ticks))
    end
end

local function report(key, at)
    local id, token, action, due_ms = ARGV[at], ARGV[at + 1], ARGV[at + 2], tonumber(ARGV[at + 3])
    local natt = tonumber(ARGV[at + 4])
    local hash_at = at + 5 + natt
    local nhash = tonumber(ARGV[hash_at])
    local state = redis.call('HMGET', key, 'lease', 'metered', 'score', 'status', 'attempts')
    local set = {'HSET', key}
    local metered
    for i = hash_at + 1, hash_at + nhash do set[#set + 1] = ARGV[i] end

    -- The call happened whoever owns the task now: its attempt row is kept.
    if natt > 0 then
        local args = {'XADD', results, '*'}
        for i = at + 5, at + 4 + natt do args[#args + 1] = ARGV[i] end
        redis.call(unpack(args))
        local att = pairs_to_map(at + 5, at + 5 + natt)
        local n = tonumber(att['n'])
        local exists = state[4] ~= false
        if not (n and exists and (tonumber(state[2]) or 0) >= n) then
            meter(att, pairs_to_map(hash_at + 1, hash_at + 1 + nhash))
            if n and exists then metered = n end
        end
    end

    if state[1] ~= token then
        if metered then redis.call('HSET', key, 'metered', metered) end
        return 'lost'
    end
    if metered then
        set[#set + 1] = 'metered'
        set[#set + 1] = metered
    end

    local drop = {'HDEL', key, 'lease', 'phase'}   -- the phase quota.lua marks
    if action == 'done' or action == 'failed' then
        if action == 'done' then
            drop[#drop + 1] = 'error'  -- earlier attempts' errors are in `attempts`
        end
        for _, v in ipairs({'status', action, 'finished_at', now}) do set[#set + 1] = v end
    elseif action == 'retry' then
        for _, v in ipairs({'status', 'retrying'}) do set[#set + 1] = v end
    else
        set[#set + 1] = 'status'
        set[#set + 1] = due_ms > 0 and 'delayed' or 'queued'
        if action == 'release' then
            set[#set + 1] = 'attempts'  -- no call was made
            set[#set + 1] = math.max(0, (tonumber(state[5]) or 1) - 1)
        end
    end
    redis.call(unpack(set))
    redis.call(unpack(drop))
    redis.call('ZREM', leases, id)

    if action == 'done' or action == 'failed' then
        fq_final_record(results, key, id)
        fq_event(events, id, action, role)
        if action == 'failed' then
            fq_dead_add(dead, id, now)
        end
        redis.call('EXPIRE', key, FQ_ENDED_TTL)
    elseif action == 'retry' or due_ms > 0 then
        redis.call('ZADD', delayed, now + due_ms, id)
        fq_event(events, id, action == 'retry' and 'retrying' or 'delayed', role, {'due_ms', due_ms})
    else
        redis.call('ZADD', ready, tonumber(state[3]) or 0, id)
        woken = true
        fq_event(events, id, 'queued', role)
    end
    return 'ok'
end

local out = {}
local at, k = 2, 9
while at <= #ARGV do
    out[#out + 1] = report(KEYS[k], at)
    local natt = tonumber(ARGV[at + 4])
    at = at + 6 + natt + tonumber(ARGV[at + 5 + natt])
    k = k + 1
end
fq_add_counts(metrics, counts)
if woken then
    redis.call('ZADD', marker, 0, 'wake')
end
return out
