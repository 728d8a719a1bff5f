-- promote.lua -- moves delayed tasks and due retries to their role's ready
-- queue (coordinator, on a timer).
--
-- KEYS: 1 delayed, 2 events, 3-6 ready queues (ceo, code, quality, memory),
--       7-10 markers in the same order
-- ARGV: 1 batch limit, 2 events maxlen
-- Returns {promoted count, ms until the next due task or -1}.
local delayed, events = KEYS[1], KEYS[2]
local limit, maxlen = tonumber(ARGV[1]), ARGV[2]
local slots = {ceo = 3, code = 4, quality = 5, memory = 6}
local now = fq_now_ms()

local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, limit)
local moved = 0
for _, id in ipairs(due) do
    redis.call('ZREM', delayed, id)
    local key = fq_task_key(id)
    local t = redis.call('HMGET', key, 'role', 'score', 'status')
    local slot = slots[t[1] or '']
    if slot and (t[3] == 'delayed' or t[3] == 'retrying') then
        redis.call('HSET', key, 'status', 'queued')
        fq_ready(KEYS[slot], KEYS[slot + 4], id, tonumber(t[2]) or 0)
        fq_event(events, maxlen, id, 'queued', t[1])
        moved = moved + 1
    end
end

local nxt = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
if #nxt == 0 then
    return {moved, -1}
end
local wait = tonumber(nxt[2]) - now
if wait < 0 then wait = 0 end
return {moved, wait}
