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
-- The tasks waiting for one that ended (its <prefix>:children:<id> set)
-- join the resolving set, for the coordinator's resolve.lua; the children
-- set then lives as long as the hash.
--
-- KEYS: 1 results stream, 2 dead letters, 3 resolving set, then for each
--       task announced its hash, its done marker and its children set
-- ARGV: 1 group, 2 result ttl s, 3 count of entry ids E, 4..3+E entry
--       ids, then pairs of task id and final status, in the order of their
--       keys
-- Returns the number of tasks announced and the number of waiting tasks
-- put in the resolving set.
fq_contract(3, true)
local results, dead, resolving = KEYS[1], KEYS[2], KEYS[3]
local group, ttl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local FOLLOW = {id = true, stored = true}
for _, f in ipairs(FQ_FOLLOW_FIELDS) do FOLLOW[f] = true end
local announced, failed, to_resolve = 0, false, 0

local function trim(key)
    local drop = {}
    for _, f in ipairs(redis.call('HKEYS', key)) do
        if not FOLLOW[f] then drop[#drop + 1] = f end
    end
    if #drop > 0 then redis.call('HDEL', key, unpack(drop)) end
end

local k = 4
for i = 4 + n, #ARGV, 2 do
    local id, status = ARGV[i], ARGV[i + 1]
    local key, done, children = KEYS[k], KEYS[k + 1], KEYS[k + 2]
    k = k + 3
    if redis.call('HGET', key, 'status') == status and
        redis.call('HSETNX', key, 'stored', 1) == 1 then
        if status == 'done' then trim(key) end
        if status == 'failed' then failed = true end
        redis.call('EXPIRE', key, ttl)
        redis.call('LPUSH', done, status)
        redis.call('EXPIRE', done, ttl)
        local waiting = redis.call('SMEMBERS', children)
        if #waiting > 0 then
            redis.call('SADD', resolving, unpack(waiting))
            redis.call('EXPIRE', children, ttl)
            to_resolve = to_resolve + #waiting
        end
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
return {announced, to_resolve}
