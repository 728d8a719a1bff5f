-- promote.lua -- moves delayed tasks and due retries to their role's ready
-- queue (coordinator, on a timer, with the ids due.lua found due).
--
-- KEYS: 1 delayed, 2 events, 3-6 ready queues (ceo, code, quality, memory),
--       7-10 markers in the same order, 11.. the tasks' hashes
-- ARGV: the ids, in the order of their keys
-- Returns the number promoted.
fq_contract(10, true)
local delayed, events = KEYS[1], KEYS[2]
local slots = {ceo = 3, code = 4, quality = 5, memory = 6}
local now = fq_now_ms()

local moved = 0
fq_each_due(delayed, 1, 10, now, function(id, key)
    local t = redis.call('HMGET', key, 'role', 'score', 'status')
    local slot = slots[t[1] or '']
    if slot and (t[3] == 'delayed' or t[3] == 'retrying') then
        redis.call('HSET', key, 'status', 'queued')
        fq_ready(KEYS[slot], KEYS[slot + 4], id, tonumber(t[2]) or 0)
        fq_event(events, id, 'queued', t[1])
        moved = moved + 1
    end
end)
return moved
