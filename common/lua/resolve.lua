-- resolve.lua -- decides, for waiting tasks a parent of which has ended,
-- whether they run, in one step per task:
--  - every parent ended `done`: each {{ID}} of its prompt, system and
--    messages becomes parent ID's output (at most FQ_SUBSTITUTE_MAX bytes
--    of it, cut at a character, with a note of the cut; JSON-escaped in
--    messages), and the task is queued (or delayed by its `delay`, which
--    counts from now);
--  - a parent ended otherwise (or its hash is gone): the task ends
--    `cancelled`, "parent X failed: <its error>", with a final record, and
--    its own children are resolved in turn once the store has it;
--  - a parent has not ended: the task waits on (the store puts it back in
--    the resolving set when that parent ends).
-- A task that is no longer waiting (cancelled, expired, already queued by
-- another coordinator) is only taken out of the resolving set, so no task
-- is released twice.
--
-- The caller read each task's `parents` just before and names their
-- hashes; a task whose parents differ from what the caller read is left
-- for the next round.
--
-- KEYS: 1 resolving set, 2 events, 3 results, 4 delayed, 5 expiry,
--       6..9 ready queues (ceo, code, quality, memory), 10..13 markers,
--       then per task its hash and its Q parents' hashes
-- ARGV: per task: id, parents as read (JSON), Q, then Q parent ids
-- Returns, per task, 'queued', 'delayed', 'cancelled', 'waiting' or
-- 'skipped'.
fq_contract(13, true)
local resolving, events, results, delayed, expiry =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local slots = {ceo = 0, code = 1, quality = 2, memory = 3}
local now = fq_now_ms()
local ENDED = {}
for _, s in ipairs(FQ_ENDED_STATUSES) do ENDED[s] = true end
local REASON_MAX = 1000

-- At most FQ_SUBSTITUTE_MAX bytes of an output, cut before a UTF-8
-- continuation byte.
local function bounded(output)
    if #output <= FQ_SUBSTITUTE_MAX then return output end
    local n = FQ_SUBSTITUTE_MAX
    while n > 0 do
        local b = string.byte(output, n + 1)
        if b < 0x80 or b >= 0xC0 then break end
        n = n - 1
    end
    return string.sub(output, 1, n) ..
        string.format('\n[output cut at %d of %d bytes]', n, #output)
end

local function fill(text, outputs, json)
    if not text then return nil end
    return (string.gsub(text, '{{([%w%._:%-]+)}}', function(pid)
        local out = outputs[pid]
        if out == nil then return nil end
        if json then out = string.sub(cjson.encode(out), 2, -2) end
        return out
    end))
end

local function cancel(key, id, role, reason)
    if #reason > REASON_MAX then reason = string.sub(reason, 1, REASON_MAX) .. '...' end
    redis.call('ZREM', expiry, id)
    redis.call('HSET', key, 'status', 'cancelled', 'error', reason, 'finished_at', now)
    fq_final_record(results, key, id)
    fq_event(events, id, 'cancelled', role, {'reason', reason, 'was', 'waiting'})
    redis.call('EXPIRE', key, FQ_ENDED_TTL)
    return 'cancelled'
end

local function release(key, id, role, t, outputs)
    local set = {'HSET', key}
    for i, field in ipairs({'prompt', 'system', 'messages'}) do
        local text = fill(t[5 + i], outputs, field == 'messages')
        if text then
            set[#set + 1] = field
            set[#set + 1] = text
        end
    end
    local delay_ms = (tonumber(t[5]) or 0) * 1000
    local status = delay_ms > 0 and 'delayed' or 'queued'
    set[#set + 1] = 'status'
    set[#set + 1] = status
    redis.call(unpack(set))
    local slot = slots[role]
    if delay_ms > 0 then
        redis.call('ZADD', delayed, now + delay_ms, id)
        fq_event(events, id, 'delayed', role, {'due_ms', delay_ms, 'reason', 'parents done'})
    else
        fq_ready(KEYS[6 + slot], KEYS[10 + slot], id, tonumber(t[4]) or 0)
        fq_event(events, id, 'queued', role, {'reason', 'parents done'})
    end
    return status
end

local function resolve(k, id, parents, at, nparents)
    local key = KEYS[k]
    local t = redis.call('HMGET', key, 'status', 'parents', 'role', 'score', 'delay', 'prompt',
        'system', 'messages')
    if t[1] ~= 'waiting' or not slots[t[3] or ''] then
        redis.call('SREM', resolving, id)
        return 'skipped'
    end
    if t[2] ~= parents then
        return 'skipped'   -- read again next round
    end
    redis.call('SREM', resolving, id)
    local outputs, pending = {}, false
    for j = 0, nparents - 1 do
        local pid = ARGV[at + j]
        local p = redis.call('HMGET', KEYS[k + 1 + j], 'status', 'error', 'output')
        if not p[1] then
            return cancel(key, id, t[3], 'parent ' .. pid .. ' is gone (its result ttl passed)')
        elseif not ENDED[p[1]] then
            pending = true
        elseif p[1] ~= 'done' then
            return cancel(key, id, t[3], 'parent ' .. pid .. ' ' .. p[1] .. ': ' .. (p[2] or ''))
        else
            outputs[pid] = bounded(p[3] or '')
        end
    end
    if pending then return 'waiting' end
    return release(key, id, t[3], t, outputs)
end

local out = {}
local at, k = 1, 14
while at <= #ARGV do
    local id, parents, nparents = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
    out[#out + 1] = resolve(k, id, parents, at + 3, nparents)
    at = at + 3 + nparents
    k = k + 1 + nparents
end
return out
