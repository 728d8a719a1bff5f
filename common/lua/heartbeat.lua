-- heartbeat.lua -- extends the leases a worker still holds.
--
-- KEYS: 1 leases
-- ARGV: 1 lease ms, 2.. pairs of task id and lease token
-- Returns the ids whose lease this worker no longer holds (reaped and
-- handed to someone else): the worker must not write their results.
local leases, lease_ms = KEYS[1], tonumber(ARGV[1])
local now = fq_now_ms()
local lost = {}
for i = 2, #ARGV, 2 do
    local id, token = ARGV[i], ARGV[i + 1]
    if redis.call('HGET', fq_task_key(id), 'lease') == token then
        redis.call('ZADD', leases, 'XX', now + lease_ms, id)
    else
        lost[#lost + 1] = id
    end
end
return lost
