-- cancel.lua -- ends a task that has not started (queued, delayed,
-- waiting for its parents, or waiting to retry) as `cancelled`, in one step: it leaves its ready queue
-- or the delayed set, so no worker can claim it, and gets a final record
-- for the store like any other ended task (the store then announces it on
-- fleetq:done:<id>), an event, and the result ttl.
--
-- A running task is left alone: its call is under way, and it ends when
-- the call does. Ended tasks are left alone too, but for a dead letter
-- (a `failed` task) when ARGV[5] is '1' (the dashboard's Cancel on the
-- dead letters): it leaves the dead-letter set and ends `cancelled`, its
-- error kept in the reason, so nobody is asked to look at it again (a
-- requeue can still run it).
--
-- A cancellation that came through fleetq:submit (`cancel <id>`) is
-- acknowledged here, whatever the outcome, so it is handled exactly once.
--
-- KEYS: 1 task hash, 2 delayed, 3 expiry, 4 events, 5 results,
--       6 submit stream, 7-10 ready queues (ceo, code, quality, memory),
--       11 dead letters
-- ARGV: 1 id, 2 reason, 3 submit entry id ('' when not from the stream),
--       4 intake group, 5 '1' to cancel a dead letter too
-- Returns {outcome, id, detail}: 'cancelled' with the status it had,
-- 'refused' with why, or 'not found'.
fq_contract(11, false)
local key, delayed, expiry, events, results, submit =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, reason, entry, group, dead_too = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] == '1'
local slots = {ceo = 7, code = 8, quality = 9, memory = 10}
local ended = {}
for _, s in ipairs(FQ_ENDED_STATUSES) do ended[s] = true end

if entry ~= '' then
    fq_consumed(submit, group, entry)
end

local t = redis.call('HMGET', key, 'status', 'role', 'error')
local status, role = t[1], t[2]
if not status then
    return {'not found', id, ''}
end
if status == 'failed' and dead_too then
    redis.call('ZREM', KEYS[11], id)
    local now = fq_now_ms()
    redis.call('HSET', key, 'status', 'cancelled', 'error',
        reason .. '; it had failed: ' .. (t[3] or ''), 'finished_at', now)
    fq_final_record(results, key, id)
    fq_event(events, id, 'cancelled', role, {'reason', reason, 'was', status})
    redis.call('EXPIRE', key, FQ_ENDED_TTL)
    return {'cancelled', id, status}
end
if status == 'running' then
    return {'refused', id, 'running: it cannot be cancelled; it ends when its call does'}
end
if ended[status] then
    return {'refused', id, 'already ' .. status}
end
if status ~= 'queued' and status ~= 'delayed' and status ~= 'retrying' and status ~= 'waiting' then
    return {'refused', id, status .. ': only queued, delayed, waiting or retrying tasks are cancelled'}
end

local slot = slots[role or '']
if slot then
    redis.call('ZREM', KEYS[slot], id)
end
redis.call('ZREM', delayed, id)
redis.call('ZREM', expiry, id)
local now = fq_now_ms()
redis.call('HSET', key, 'status', 'cancelled', 'error', reason, 'finished_at', now)
fq_final_record(results, key, id)
fq_event(events, id, 'cancelled', role, {'reason', reason, 'was', status})
redis.call('EXPIRE', key, FQ_ENDED_TTL)
return {'cancelled', id, status}
