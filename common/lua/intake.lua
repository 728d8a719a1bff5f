-- intake.lua -- records one validated submission and consumes it
-- (acknowledged and deleted from the submit stream), in one step, so a
-- crash can never leave a submission both consumed and unrecorded (or
-- recorded twice).
--
-- A task with a ttl joins the expiry set, by the time it expires, so that
-- the coordinator's timer ends it then, whether or not a worker of its
-- role is running.
--
-- KEYS: 1 task hash, 2 role ready queue, 3 delayed set, 4 role marker,
--       5 events stream, 6 results stream, 7 submit stream, 8 sequence,
--       9 expiry set
-- ARGV: 1 submit entry id, 2 group, 3 mode ('route'|'reject'), 4 task id,
--       5 role, 6 priority, 7 delay ms, 8 ttl ms, 9 max attempts,
--       10 reason (reject), 11 events maxlen, 12 ended ttl s,
--       13.. task hash name/value pairs
-- Returns {'queued'|'delayed'|'rejected'|'duplicate', status}.
fq_contract(9, false)
local task, ready, delayed, marker, events, results, submit, seq, expiry =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local entry, group, mode, id, role = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local priority = tonumber(ARGV[6])
local delay_ms, ttl_ms, max_attempts = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
local reason, maxlen, ended_ttl = ARGV[10], ARGV[11], tonumber(ARGV[12])
local now = fq_now_ms()

-- A repeated id is not run twice; only a rejected one may be submitted anew.
local existing = redis.call('HGET', task, 'status')
if existing and existing ~= 'rejected' then
    fq_consumed(submit, group, entry)
    fq_event(events, maxlen, id, 'duplicate', role, {'entry', entry, 'current', existing})
    return {'duplicate', existing}
end
if existing then
    redis.call('DEL', task)
end

local fields = {}
for i = 13, #ARGV do fields[#fields + 1] = ARGV[i] end
if #fields > 0 then
    redis.call('HSET', task, unpack(fields))
end
redis.call('HSET', task, 'id', id, 'entry', entry, 'submitted_at', now, 'attempts', 0)

if mode == 'reject' then
    redis.call('HSET', task, 'status', 'rejected', 'error', reason, 'finished_at', now)
    fq_final_record(results, task, id)
    fq_event(events, maxlen, id, 'rejected', role, {'error', reason})
    redis.call('EXPIRE', task, ended_ttl)
    fq_consumed(submit, group, entry)
    return {'rejected', 'rejected'}
end

local score = priority * 4294967296 + redis.call('INCR', seq) % 4294967296
redis.call('HSET', task, 'score', score, 'max_attempts', max_attempts)
if ttl_ms > 0 then
    redis.call('HSET', task, 'expires_at', now + ttl_ms)
    redis.call('ZADD', expiry, now + ttl_ms, id)
end
local status = 'queued'
if delay_ms > 0 then
    status = 'delayed'
    redis.call('ZADD', delayed, now + delay_ms, id)
else
    fq_ready(ready, marker, id, score)
end
redis.call('HSET', task, 'status', status)
fq_event(events, maxlen, id, status, role, {'priority', priority})
fq_consumed(submit, group, entry)
return {status, status}
