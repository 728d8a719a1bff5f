-- prelude.lua -- helpers prepended to every fleetq script at build time
-- (cmake/embed.cmake), so that each script reads as plain Lua and the
-- shared pieces are written once. In front of it come the constants of
-- common/shared.def (FQ_TICKS_PER_USD, FQ_FINAL_FIELDS, ...), the same the
-- C code compiles with.
--
-- Time always comes from Redis' TIME, never from a host clock, so every
-- process on every host agrees on leases, windows and budget days.

-- Every script states at its top how many KEYS it takes (more: the keys
-- of ids may follow), as common/scripts.c's table does; a call with
-- another count is refused here, never run with shifted keys.
local function fq_contract(nkeys, more)
    if #KEYS < nkeys or (not more and #KEYS ~= nkeys) then
        error('called with ' .. #KEYS .. ' keys, takes ' .. nkeys .. (more and ' or more' or ''))
    end
end

local function fq_now_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Stream entries consumed for good (one id, or a list of them):
-- acknowledged and deleted, so that the stream holds only what is still to
-- be read (the store keeps the rest).
local function fq_consumed(stream, group, entries)
    if type(entries) ~= 'table' then entries = {entries} end
    if #entries == 0 then return end
    redis.call('XACK', stream, group, unpack(entries))
    redis.call('XDEL', stream, unpack(entries))
end

-- One line on the events stream for a state change (trimmed to about
-- FQ_EVENTS_MAXLEN lines).
local function fq_event(events, id, status, role, extra)
    local args = {'XADD', events, 'MAXLEN', '~', FQ_EVENTS_MAXLEN, '*', 'id', id, 'status', status}
    if role and role ~= '' then
        args[#args + 1] = 'role'
        args[#args + 1] = role
    end
    if extra then
        for i = 1, #extra do args[#args + 1] = extra[i] end
    end
    redis.call(unpack(args))
end

-- The final record for the store, built from the task hash (key, of task
-- id): the hash is the one source of truth for what the `tasks` row holds,
-- FQ_FINAL_FIELDS (shared.def, in front of this prelude).

local function fq_final_record(results, key, id)
    local vals = redis.call('HMGET', key, unpack(FQ_FINAL_FIELDS))
    local args = {'XADD', results, '*', 'kind', 'final', 'task', id}
    for i = 1, #FQ_FINAL_FIELDS do
        local v = vals[i]
        local name = FQ_FINAL_FIELDS[i]
        if name == 'prompt' and not v then
            v = redis.call('HGET', key, 'messages')
        end
        if v then
            args[#args + 1] = name
            args[#args + 1] = v
        end
    end
    redis.call(unpack(args))
end

-- The timer's scripts are given ids found due a moment before (due.lua):
-- for each id of ARGV from `first` on, whose hash is KEYS[i + offset],
-- that is still due in the sorted set by now, takes it out of the set and
-- calls fn(id, key). An id rescheduled meanwhile is left alone.
local function fq_each_due(set, first, offset, now, fn)
    for i = first, #ARGV do
        local id = ARGV[i]
        local due = tonumber(redis.call('ZSCORE', set, id))
        if due and due <= now then
            redis.call('ZREM', set, id)
            fn(id, KEYS[i + offset])
        end
    end
end

-- Puts a task back on its role's ready queue and wakes one idle worker.
local function fq_ready(ready, marker, id, score)
    redis.call('ZADD', ready, score, id)
    redis.call('ZADD', marker, 0, 'wake')
end

-- The dead-letter set: the ids of tasks that ended `failed`, scored by
-- their finish time in ms. Entries older than an ended task's hash can
-- live (FQ_ENDED_TTL) point at nothing, so they are trimmed whenever one
-- is added.
local function fq_dead_add(dead, id, now)
    redis.call('ZADD', dead, now, id)
    local oldest = string.format('%d', now - FQ_ENDED_TTL * 1000)
    redis.call('ZREMRANGEBYSCORE', dead, '-inf', '(' .. oldest)
end

-- Ends a task that has not started because its ttl passed (the claim and
-- the coordinator's expiry timer both do).
local function fq_expire(key, id, now, results, events, role)
    redis.call('HSET', key, 'status', 'expired', 'finished_at', now,
        'error', 'expired: its ttl passed before a worker could start it')
    fq_final_record(results, key, id)
    fq_event(events, id, 'expired', role)
    redis.call('EXPIRE', key, FQ_ENDED_TTL)
end

-- The metrics hash (read by the coordinator's /metrics): counters, and
-- histograms as one counter per bucket, '<name>_le:<seconds>', plus
-- <name>_sum_ms and <name>_count; the reader adds the buckets up. A script
-- counts into a table (field -> increment) and adds it to the hash once
-- at its end, one HINCRBY per field however many tasks it handled.
local function fq_count(counts, field, n)
    counts[field] = (counts[field] or 0) + n
end

local function fq_count_observation(counts, name, ms, bounds_ms)
    local field = name .. '_le:+Inf'
    for _, bound in ipairs(bounds_ms) do
        if ms <= bound then
            field = name .. '_le:' .. string.format('%g', bound / 1000)
            break
        end
    end
    fq_count(counts, field, 1)
    fq_count(counts, name .. '_sum_ms', ms)
    fq_count(counts, name .. '_count', 1)
end

local function fq_add_counts(metrics, counts)
    for field, n in pairs(counts) do
        redis.call('HINCRBY', metrics, field, string.format('%d', n))
    end
end
