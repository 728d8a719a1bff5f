-- stored.lua -- after the coordinator committed a batch of results to
-- SQLite: announces each final task on fleetq:done:<id> (once, however
-- often the batch is replayed), then acknowledges and deletes the entries.
--
-- KEYS: 1 results stream
-- ARGV: 1 group, 2 count of entry ids E, 3..2+E entry ids,
--       then pairs of task id and final status
-- Returns the number of tasks announced.
local results, group, n = KEYS[1], ARGV[1], tonumber(ARGV[2])
local announced = 0
for i = 3 + n, #ARGV, 2 do
    local id, status = ARGV[i], ARGV[i + 1]
    local key = fq_task_key(id)
    if redis.call('HGET', key, 'status') == status and
        redis.call('HSETNX', key, 'stored', 1) == 1 then
        local done = 'fleetq:done:' .. id
        redis.call('LPUSH', done, status)
        redis.call('EXPIRE', done, 86400)
        announced = announced + 1
    end
end
if n > 0 then
    local ids = {}
    for i = 3, 2 + n do ids[#ids + 1] = ARGV[i] end
    redis.call('XACK', results, group, unpack(ids))
    redis.call('XDEL', results, unpack(ids))
end
return announced
