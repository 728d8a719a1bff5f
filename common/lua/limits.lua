-- limits.lua -- writes the fleet's limits and budget, the hash
-- fleetq:limits that quota.lua reads on every grant (see limits.h for its
-- fields). Every write bumps `version` and records who made it.
--
--   publish  the hash becomes exactly the pairs given (the coordinator,
--            from its environment, at start and on SIGHUP);
--   init     the same, but only while nobody has published: a worker that
--            finds no limits fills them from its own environment;
--   set      the pairs given are written over what is there, an empty
--            value deleting its field (fleetqctl limits set / unset).
--
-- KEYS: 1 fleetq:limits
-- ARGV: 1 op, 2 who (e.g. "coordinator host:pid"), then field/value pairs
-- Returns {1 when written else 0, the version}
fq_contract(1, false)
local limits, op, who = KEYS[1], ARGV[1], ARGV[2]

if op == 'init' and redis.call('HEXISTS', limits, 'version') == 1 then
    return {0, tonumber(redis.call('HGET', limits, 'version'))}
end
if op ~= 'publish' and op ~= 'init' and op ~= 'set' then
    return redis.error_reply('limits.lua: unknown op ' .. tostring(op))
end

local version = tonumber(redis.call('HGET', limits, 'version') or '0') + 1
if op ~= 'set' then redis.call('DEL', limits) end
for i = 3, #ARGV - 1, 2 do
    if ARGV[i + 1] == '' then
        redis.call('HDEL', limits, ARGV[i])
    else
        redis.call('HSET', limits, ARGV[i], ARGV[i + 1])
    end
end
redis.call('HSET', limits, 'version', version, 'published_by', who,
    'published_at_ms', string.format('%d', fq_now_ms()))
return {1, version}
