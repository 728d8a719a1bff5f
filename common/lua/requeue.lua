-- requeue.lua -- runs ended tasks again: the operator's answer to a dead
-- letter (fleetqctl requeue), one step per task.
--
-- A task that ended failed, expired or cancelled goes back to its role's
-- ready queue in the place it was given at intake (its score), the way
-- promote.lua puts tasks there, with a fresh allowance of attempts: its
-- max_attempts becomes the attempts made so far (kept in
-- `attempts_at_requeue`) plus the number it was submitted with (kept in
-- `allowance` from the first requeue on: until then it is max_attempts
-- less what fallbacks after a 404 added, `fallback_attempts`, which starts
-- again from none). fq_attempt_limit (task.h) explains the limit so. Attempt
-- numbers thus keep counting up, so every call keeps its own row in the
-- store's attempts table, and the next final record updates the task's row.
-- The hash loses its expiry, its ttl (expires_at) and what belonged to the
-- run that ended (error, output, times, worker, the store's `stored`
-- mark); its done marker is emptied so that BLPOP waits for the new end.
-- Stored tasks hold at most 100 attempts (task.h), so a task that used
-- them all is refused. Any other status is left alone. An id leaves the
-- dead-letter set when it is requeued, and when it is a stale entry (its
-- task is gone or no longer failed); a failed task that was refused stays.
-- A task with parents that never made a call (cancelled while it waited,
-- say) waits for them again: it goes to the resolving set, and the
-- coordinator's resolve.lua queues it with their outputs, or cancels it
-- again when a parent did not end done.
--
-- KEYS: 1 dead letters, 2 events, 3 sequence, 4-7 ready queues (ceo, code,
--       quality, memory), 8-11 markers in the same order, 12 the resolving
--       set, then for each id its task hash and its done marker
-- ARGV: the ids, in the order of their keys (for --all, the caller reads
--       them from the dead-letter set)
-- Returns {kept, id, outcome, id, outcome, ...}: kept is the number of
-- these ids still in the dead-letter set; outcome is 'requeued', 'not
-- found' or why the task was left alone.
fq_contract(12, true)
local dead, events, seq = KEYS[1], KEYS[2], KEYS[3]
local slots = {ceo = 4, code = 5, quality = 6, memory = 7}
local again = {failed = true, expired = true, cancelled = true}
local MAX_ATTEMPTS = FQ_MAX_ATTEMPTS
local now = fq_now_ms()

-- Returns the outcome, and whether the id stays a dead letter.
local function requeue(id, key, done)
    local t = redis.call('HMGET', key, 'status', 'role', 'score', 'priority', 'attempts',
        'max_attempts', 'allowance', 'parents', 'fallback_attempts')
    local status, role = t[1], t[2]
    if not status then
        return 'not found', false
    end
    local stays = status == 'failed'   -- when refused below
    if not again[status] then
        return status .. ': only failed, expired or cancelled tasks are requeued', false
    end
    local slot = slots[role or '']
    if not slot then
        return status .. ': the task has no valid role; submit it anew', stays
    end
    local attempts = tonumber(t[5]) or 0
    if attempts >= MAX_ATTEMPTS then
        return status .. ': it has used ' .. attempts .. ' attempts, the most a task may ' ..
            'have; submit it anew under a new id', stays
    end
    local allowance = tonumber(t[7]) or
        math.max(1, (tonumber(t[6]) or 1) - (tonumber(t[9]) or 0))
    local score = tonumber(t[3])
    if not score then
        score = (tonumber(t[4]) or 4) * 4294967296 + redis.call('INCR', seq) % 4294967296
    end
    redis.call('PERSIST', key)
    redis.call('HDEL', key, 'error', 'output', 'finish_reason', 'request_id', 'finished_at',
        'started_at', 'last_started_at', 'worker', 'lease', 'latency_ms', 'expires_at',
        'stored', 'fallback_attempts')
    local waits = t[8] and attempts == 0
    redis.call('HSET', key, 'status', waits and 'waiting' or 'queued', 'score', score,
        'allowance', allowance, 'max_attempts', math.min(MAX_ATTEMPTS, attempts + allowance),
        'attempts_at_requeue', attempts, 'requeued_at', now)
    redis.call('HINCRBY', key, 'requeues', 1)
    redis.call('DEL', done)
    if waits then
        redis.call('SADD', KEYS[12], id)
        fq_event(events, id, 'waiting', role, {'reason', 'requeued', 'was', status})
    else
        fq_ready(KEYS[slot], KEYS[slot + 4], id, score)
        fq_event(events, id, 'queued', role, {'reason', 'requeued', 'was', status})
    end
    return 'requeued', false
end

local out, kept = {0}, 0
for i = 1, #ARGV do
    local id = ARGV[i]
    local outcome, stays = requeue(id, KEYS[11 + 2 * i], KEYS[12 + 2 * i])
    out[#out + 1] = id
    out[#out + 1] = outcome
    if stays then
        kept = kept + (redis.call('ZSCORE', dead, id) and 1 or 0)
    else
        redis.call('ZREM', dead, id)
    end
end
out[1] = kept
return out
