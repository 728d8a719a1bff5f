-- lease.lua -- one coordinator per fleet, and one database per fleet.
--
-- The coordinator's lease is the hash <prefix>:coordinator (token, host,
-- pid, since, db, fleet, renewed), expiring a lease after its last
-- renewal; the fleet's identity is the hash <prefix>:fleet (id, db, host,
-- recorded), kept for good. A database records the id of its fleet too
-- (its table fleet), so a coordinator can tell its own fleet's database
-- from another's, and a new one from the one that holds the results.
--
--   acquire  the database's fleet id is checked against the fleet's, then
--            the lease taken if it is free, ours, or the stale one named
--            (a holder on this host whose process is gone);
--   renew    the lease prolonged while it is ours; taken again if it
--            lapsed and nobody took it meanwhile (Redis stalled or
--            restarted);
--   release  the lease deleted if it is ours (a clean stop, so a
--            standby takes over at once).
--
-- KEYS: 1 <prefix>:coordinator, 2 <prefix>:fleet
-- ARGV: 1 op, 2 token, 3 lease ms, 4 host, 5 pid, 6 since (ISO-8601),
--       7 database path, 8 the database's fleet id ('' for none; on a
--       renewal, the fleet's id we hold), 9 1 when the database holds
--       tasks, 10 the id a new fleet gets ('' but on acquire), 11 1 when a
--       new database may replace the one with the results, 12 the token of
--       a stale lease that may be taken over ('' for none)
-- Returns {'ok', fleet id}, {'held', token, host, pid, since, db, ms since
-- the holder's last renewal}, or {'other_fleet' | 'new_db', fleet id, its
-- database, its host}.
fq_contract(2, false)
local lease, fleet = KEYS[1], KEYS[2]
local op, token, lease_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local host, pid, since, db = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local db_fleet, db_tasks, new_id = ARGV[8], ARGV[9] == '1', ARGV[10]
local new_db_allowed, stale = ARGV[11] == '1', ARGV[12]
local now = fq_now_ms()

local holder = redis.call('HGET', lease, 'token')
if op == 'release' then
    if holder == token then redis.call('DEL', lease) end
    return {'ok', redis.call('HGET', fleet, 'id') or ''}
end
if op ~= 'acquire' and op ~= 'renew' then
    return redis.error_reply('lease.lua: unknown op ' .. tostring(op))
end

local function held_by_other()
    local h = redis.call('HMGET', lease, 'host', 'pid', 'since', 'db', 'renewed')
    return {'held', holder, h[1] or '', h[2] or '', h[3] or '', h[4] or '',
            tostring(now - (tonumber(h[5]) or now))}
end
if holder and holder ~= token and (op == 'renew' or holder ~= stale) then
    return held_by_other()
end

local id = redis.call('HGET', fleet, 'id')
if op == 'acquire' then
    if id and db_fleet ~= '' and db_fleet ~= id then
        return {'other_fleet', id, redis.call('HGET', fleet, 'db') or '',
                redis.call('HGET', fleet, 'host') or ''}
    end
    if id and db_fleet == '' and not db_tasks and not new_db_allowed and
            redis.call('HGET', fleet, 'recorded') == '1' then
        return {'new_db', id, redis.call('HGET', fleet, 'db') or '',
                redis.call('HGET', fleet, 'host') or ''}
    end
end
if op == 'acquire' or not id then
    -- a fleet new to this Redis takes the database's id, or a new one; a
    -- renewal after Redis lost the fleet's hash, the id we hold (ARGV[8])
    id = id or (db_fleet ~= '' and db_fleet) or new_id
    redis.call('HSET', fleet, 'id', id, 'db', db, 'host', host)
end
if db_tasks then redis.call('HSET', fleet, 'recorded', '1') end

redis.call('HSET', lease, 'token', token, 'host', host, 'pid', pid, 'since', since, 'db', db,
           'fleet', id, 'renewed', tostring(now))
redis.call('PEXPIRE', lease, lease_ms)
return {'ok', id}
