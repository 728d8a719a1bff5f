-- expire.lua -- ends the tasks whose ttl passed before a worker started
-- them (coordinator, on a timer, with the ids due.lua found due in the
-- expiry set), whether or not a worker of their role is running: each
-- leaves its ready queue or the delayed set and ends `expired`, with its
-- final record for the store. A task that started meanwhile, was requeued
-- without its ttl or has ended is only taken out of the expiry set.
--
-- KEYS: 1 expiry, 2 delayed, 3 events, 4 results, 5-8 ready queues (ceo,
--       code, quality, memory), 9.. the tasks' hashes
-- ARGV: the ids, in the order of their keys
-- Returns the number expired.
fq_contract(8, true)
local expiry, delayed, events, results = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local slots = {ceo = 5, code = 6, quality = 7, memory = 8}
local now = fq_now_ms()

local expired = 0
fq_each_due(expiry, 1, 8, now, function(id, key)
    local t = redis.call('HMGET', key, 'role', 'status', 'expires_at')
    local at = tonumber(t[3])
    local slot = slots[t[1] or '']
    if slot and at and at <= now and (t[2] == 'queued' or t[2] == 'delayed' or t[2] == 'waiting') then
        redis.call('ZREM', KEYS[slot], id)
        redis.call('ZREM', delayed, id)
        fq_expire(key, id, now, results, events, t[1])
        expired = expired + 1
    end
end)
return expired
