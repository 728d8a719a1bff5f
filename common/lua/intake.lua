-- intake.lua -- records a batch of validated submissions and consumes
-- them (acknowledged and deleted from the submit stream), in one step, so
-- a crash can never leave a submission both consumed and unrecorded (or
-- recorded twice). The coordinator sends every entry of one read in one
-- call; they are recorded in their order, so an id repeated within the
-- batch is a duplicate of the first.
--
-- A task with a ttl joins the expiry set, by the time it expires, so that
-- the coordinator's timer ends it then, whether or not a worker of its
-- role is running.
--
-- A task with parents (`after`) must name tasks Redis knows (else it is
-- rejected: "unknown task"); it is `waiting`, joins the flow of its first
-- parent and each parent's <prefix>:children:<id> set, and goes to the
-- resolving set at once when every parent has already ended (the
-- coordinator's resolve.lua then queues or cancels it).
--
-- KEYS: 1 delayed set, 2 events stream, 3 results stream, 4 submit stream,
--       5 sequence, 6 expiry set, 7..10 the ready queues of the roles
--       (ceo, code, quality, memory), 11..14 their markers, 15 the
--       resolving set, then per entry its task hash and, for each of its
--       Q parents, the parent's hash and children set
-- ARGV: 1 group, then per entry 11 values, its parents and its hash pairs:
--       entry id, mode ('route'|'reject'), task id, role name ('' when
--       none), queue (0..3: which ready queue and marker), priority,
--       delay ms, ttl ms, max attempts, reason (reject), the count Q of
--       parents and Q parent ids, then the count of task hash values P and
--       P values (name/value pairs)
-- Returns, per entry, 'queued'|'delayed'|'waiting'|'rejected' or the
-- status of the task it duplicates and its id, 'duplicate:<status>:<id>'.
fq_contract(15, true)
local delayed, events, results, submit, seq, expiry, resolving =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[15]
local group = ARGV[1]
local now = fq_now_ms()
local out, consumed, woken = {}, {}, {}
local ENDED = {}
for _, s in ipairs(FQ_ENDED_STATUSES) do ENDED[s] = true end

-- The parents of an entry (ids from ARGV[at], their keys from KEYS[k]):
-- their flow and whether every one has ended, or nil, nil and the reason
-- when one is unknown.
local function look_at_parents(at, k, nparents)
    local all_ended = true
    for j = 0, nparents - 1 do
        local status = redis.call('HGET', KEYS[k + 2 * j], 'status')
        if not status then
            return nil, nil, 'after: unknown task ' .. ARGV[at + j] ..
                '; submit the tasks it waits for first (or it ended longer ago than its result ttl)'
        end
        if not ENDED[status] then all_ended = false end
    end
    local flow = redis.call('HGET', KEYS[k], 'flow_id') or ARGV[at]
    return flow, all_ended
end

local function record(task, at, k)
    local entry, mode, id, role = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
    local queue, priority = tonumber(ARGV[at + 4]), tonumber(ARGV[at + 5])
    local delay_ms, ttl_ms, max_attempts = tonumber(ARGV[at + 6]), tonumber(ARGV[at + 7]), ARGV[at + 8]
    local reason, nparents = ARGV[at + 9], tonumber(ARGV[at + 10])
    local parents_at = at + 11
    local npairs = tonumber(ARGV[parents_at + nparents])
    local pairs_at = parents_at + nparents + 1
    if entry ~= '' then consumed[#consumed + 1] = entry end   -- '': a plan's subtask

    -- A repeated id is not run twice; only a rejected one may be submitted anew.
    local existing = redis.call('HGET', task, 'status')
    if existing and existing ~= 'rejected' then
        fq_event(events, id, 'duplicate', role, {'entry', entry, 'current', existing})
        return 'duplicate:' .. existing .. ':' .. id
    end
    if existing then
        redis.call('DEL', task)
    end

    local flow, all_ended
    if mode == 'route' and nparents > 0 then
        local why
        flow, all_ended, why = look_at_parents(parents_at, k, nparents)
        if not flow then
            mode, reason = 'reject', why
        end
    end

    local fields = {'HSET', task}
    for i = pairs_at, pairs_at + npairs - 1 do fields[#fields + 1] = ARGV[i] end
    for _, v in ipairs({'id', id, 'entry', entry, 'submitted_at', now, 'attempts', 0}) do
        fields[#fields + 1] = v
    end
    if mode == 'reject' then
        for _, v in ipairs({'status', 'rejected', 'error', reason, 'finished_at', now}) do
            fields[#fields + 1] = v
        end
        redis.call(unpack(fields))
        fq_final_record(results, task, id)
        fq_event(events, id, 'rejected', role, {'error', reason})
        redis.call('EXPIRE', task, FQ_ENDED_TTL)
        return 'rejected'
    end

    local score = priority * 4294967296 + redis.call('INCR', seq) % 4294967296
    local status = flow and 'waiting' or (delay_ms > 0 and 'delayed' or 'queued')
    for _, v in ipairs({'score', score, 'max_attempts', max_attempts, 'status', status}) do
        fields[#fields + 1] = v
    end
    if ttl_ms > 0 then
        fields[#fields + 1] = 'expires_at'
        fields[#fields + 1] = now + ttl_ms
        redis.call('ZADD', expiry, now + ttl_ms, id)
    end
    if flow then
        fields[#fields + 1] = 'flow_id'
        fields[#fields + 1] = flow
    end
    redis.call(unpack(fields))
    if flow then
        for j = 0, nparents - 1 do
            local children = KEYS[k + 2 * j + 1]
            redis.call('SADD', children, id)
            local ttl = redis.call('PTTL', KEYS[k + 2 * j])
            if ttl > 0 then redis.call('PEXPIRE', children, ttl) end
        end
        if all_ended then redis.call('SADD', resolving, id) end
        fq_event(events, id, 'waiting', role, {'priority', priority, 'flow', flow})
        return 'waiting'
    end
    if delay_ms > 0 then
        redis.call('ZADD', delayed, now + delay_ms, id)
    else
        redis.call('ZADD', KEYS[7 + queue], score, id)
        woken[queue] = true
    end
    fq_event(events, id, status, role, {'priority', priority})
    return status
end

local at, k = 2, 16
while at <= #ARGV do
    local nparents = tonumber(ARGV[at + 10])
    out[#out + 1] = record(KEYS[k], at, k + 1)
    at = at + 12 + nparents + tonumber(ARGV[at + 11 + nparents])
    k = k + 1 + 2 * nparents
end
for queue in pairs(woken) do
    redis.call('ZADD', KEYS[11 + queue], 0, 'wake')
end
fq_consumed(submit, group, consumed)
return out
