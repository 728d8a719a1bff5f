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
-- KEYS: 1 delayed set, 2 events stream, 3 results stream, 4 submit stream,
--       5 sequence, 6 expiry set, 7..10 the ready queues of the roles
--       (ceo, code, quality, memory), 11..14 their markers, then the task
--       hash of each entry, in the order of the entries
-- ARGV: 1 group, then per entry 10 values and its hash pairs:
--       entry id, mode ('route'|'reject'), task id, role name ('' when
--       none), queue (0..3: which ready queue and marker), priority,
--       delay ms, ttl ms, max attempts, reason (reject), then the count of
--       task hash values P and P values (name/value pairs)
-- Returns, per entry, 'queued'|'delayed'|'rejected' or the status of the
-- task it duplicates, prefixed 'duplicate:'.
fq_contract(14, true)
local delayed, events, results, submit, seq, expiry =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local group = ARGV[1]
local now = fq_now_ms()
local out, consumed, woken = {}, {}, {}

local function record(task, at)
    local entry, mode, id, role = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
    local queue, priority = tonumber(ARGV[at + 4]), tonumber(ARGV[at + 5])
    local delay_ms, ttl_ms, max_attempts = tonumber(ARGV[at + 6]), tonumber(ARGV[at + 7]), ARGV[at + 8]
    local reason, npairs = ARGV[at + 9], tonumber(ARGV[at + 10])
    consumed[#consumed + 1] = entry

    -- A repeated id is not run twice; only a rejected one may be submitted anew.
    local existing = redis.call('HGET', task, 'status')
    if existing and existing ~= 'rejected' then
        fq_event(events, id, 'duplicate', role, {'entry', entry, 'current', existing})
        return 'duplicate:' .. existing
    end
    if existing then
        redis.call('DEL', task)
    end

    local fields = {'HSET', task}
    for i = at + 11, at + 10 + npairs do fields[#fields + 1] = ARGV[i] end
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
    local status = delay_ms > 0 and 'delayed' or 'queued'
    for _, v in ipairs({'score', score, 'max_attempts', max_attempts, 'status', status}) do
        fields[#fields + 1] = v
    end
    if ttl_ms > 0 then
        fields[#fields + 1] = 'expires_at'
        fields[#fields + 1] = now + ttl_ms
        redis.call('ZADD', expiry, now + ttl_ms, id)
    end
    redis.call(unpack(fields))
    if delay_ms > 0 then
        redis.call('ZADD', delayed, now + delay_ms, id)
    else
        redis.call('ZADD', KEYS[7 + queue], score, id)
        woken[queue] = true
    end
    fq_event(events, id, status, role, {'priority', priority})
    return status
end

local at, k = 2, 15
while at <= #ARGV do
    out[#out + 1] = record(KEYS[k], at)
    at = at + 11 + tonumber(ARGV[at + 10])
    k = k + 1
end
for queue in pairs(woken) do
    redis.call('ZADD', KEYS[11 + queue], 0, 'wake')
end
fq_consumed(submit, group, consumed)
return out
