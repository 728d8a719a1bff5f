-- heartbeat.lua -- a worker's periodic sign of life: it extends the leases
-- the worker still holds and keeps its entry in the worker registry.
--
-- The registry is the sorted set fleetq:{q}:workers: member = the worker's
-- id "host:pid:role" (the role is the part after the last ':'), score =
-- Redis' time in ms of its last heartbeat. A worker is live while its
-- score is within FLEETQ_LEASE_SECONDS of now; the coordinator's /health
-- and `fleetqctl status` read it that way. A worker that stops gracefully
-- sends mode 'leaving', which removes its entry (its last leases are still
-- extended while calls finish). Entries of workers that vanished without
-- leaving are trimmed here once they are ten minutes old.
--
-- KEYS: 1 leases, 2 worker registry, 3.. the hashes of the tasks leased
-- ARGV: 1 lease ms, 2 worker id, 3 mode ('live' or 'leaving'),
--       4.. pairs of task id and lease token, in the order of their keys
-- Returns the ids whose lease this worker no longer holds (reaped and
-- handed to someone else): the worker must not write their results.
fq_contract(2, true)
local leases, registry = KEYS[1], KEYS[2]
local lease_ms, worker, mode = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local REGISTRY_KEEP_MS = 600000
local now = fq_now_ms()

if mode == 'leaving' then
    redis.call('ZREM', registry, worker)
else
    redis.call('ZADD', registry, now, worker)
end
redis.call('ZREMRANGEBYSCORE', registry, '-inf', '(' .. string.format('%d', now - REGISTRY_KEEP_MS))

local lost = {}
for i = 4, #ARGV, 2 do
    local id, token = ARGV[i], ARGV[i + 1]
    if redis.call('HGET', KEYS[3 + (i - 4) / 2], 'lease') == token then
        redis.call('ZADD', leases, 'XX', now + lease_ms, id)
    else
        lost[#lost + 1] = id
    end
end
return lost
