-- stored.lua -- after the coordinator committed a batch of results to
-- SQLite: announces each final task on <prefix>:done:<id> (once, however
-- often the batch is replayed), then acknowledges and deletes the entries.
--
-- From then on SQLite holds the task; Redis keeps, for the result ttl
-- (FLEETQ_RESULT_TTL), what a client following it needs: a `done` task's
-- hash keeps only its id, the `stored` mark and FQ_FOLLOW_FIELDS
-- (shared.def: status, error, attempts, output, times, tokens...; its
-- prompt and the rest go), and the done marker lives
-- exactly as long as the hash. A task that ended
-- otherwise (failed, expired, cancelled, rejected) keeps its whole hash
-- for that long, since `fleetqctl requeue` runs it again from it.
--
-- KEYS: 1 results stream, 2 dead letters, then for each task announced its
--       hash and its done marker
-- ARGV: 1 group, 2 result ttl s, 3 count of entry ids E, 4..3+E entry
--       ids, then pairs of task id and final status, in the order of their
--       keys
-- Returns the number of tasks announced.
fq_contract(2, true)
local results, dead = KEYS[1], KEYS[2]
local group, ttl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local FOLLOW = {id = true, stored = true}
for _, f in ipairs(FQ_FOLLOW_FIELDS) do FOLLOW[f] = true end
local announced, failed = 0, false

local function trim(key)
    local drop = {}
    for _, f in ipairs(redis.call('HKEYS', key)) do
        if not FOLLOW[f] then drop[#drop + 1] = f end
    end
    if #drop > 0 then redis.call('HDEL', key, unpack(drop)) end
end

local k = 3
for i = 4 + n, #ARGV, 2 do
    local id, status = ARGV[i], ARGV[i + 1]
    local key, done = KEYS[k], KEYS[k + 1]
    k = k + 2
    if redis.call('HGET', key, 'status') == status and
        redis.call('HSETNX', key, 'stored', 1) == 1 then
        if status == 'done' then trim(key) end
        if status == 'failed' then failed = true end
        redis.call('EXPIRE', key, ttl)
        redis.call('LPUSH', done, status)
        redis.call('EXPIRE', done, ttl)
        announced = announced + 1
    end
end
if failed then
    -- dead letters whose hash has expired point at nothing
    local oldest = string.format('%d', fq_now_ms() - ttl * 1000)
    redis.call('ZREMRANGEBYSCORE', dead, '-inf', '(' .. oldest)
end
if n > 0 then
    local ids = {}
    for i = 4, 3 + n do ids[#ids + 1] = ARGV[i] end
    redis.call('XACK', results, group, unpack(ids))
    redis.call('XDEL', results, unpack(ids))
end
return announced
