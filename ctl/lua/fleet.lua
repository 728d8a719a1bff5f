-- fleet.lua -- one consistent snapshot of the fleet for `fleetqctl status`
-- and `fleetqctl watch`, taken in one step so that the counts agree with
-- each other and with the last entry of the events stream at that moment
-- (watch counts the tasks that ended after it from there on).
--
-- The delayed set and the leases hold only ids; their role (and, for the
-- delayed set, whether the task is delayed or retrying; for the leases,
-- the phase quota.lua marked: calling the API, or waiting for the quota)
-- is read from each task's hash, as long as the set has at most ARGV[2]
-- members. A script
-- touches only the keys it is given, so the caller reads the members (and
-- the models the quota has seen) just before and passes their hashes; the
-- counts by role are given only when those members are the whole set at
-- this moment (else {}: the caller asks again, or shows the totals).
-- A worker in the registry (member "host:pid:role", scored by its last
-- heartbeat in ms) is live when that heartbeat is at most ARGV[1] ms old.
--
-- KEYS: 1-4 ready queues (ceo, code, quality, memory), 5 delayed,
--       6 leases, 7 dead letters, 8 worker registry, 9 quota call slots,
--       10 <prefix>:quota, 11 <prefix>:events, then the hashes of the D
--       delayed ids, of the L leased ids, and the M models' quota states
-- ARGV: 1 liveness window ms, 2 most members counted by role, 3 D, 4 L,
--       5 M, then the D delayed ids, the L leased ids, the M model names
-- Returns {now ms, {queued x4}, delayed total, running total, dead,
--          {delayed x4, retrying x4} or {},
--          {running x4, calling x4, waiting for the quota x4} or {},
--          {live workers x4, live total, registered}, calls in flight,
--          <prefix>:quota as HGETALL, last events id or '',
--          {model, its state as HGETALL, ...}}
fq_contract(11, true)
local ready = {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}
local delayed, leases, dead, workers, slots, quota, events =
    KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local window_ms, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local nd, nl, nm = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local index = {ceo = 1, code = 2, quality = 3, memory = 4}
local now = fq_now_ms()

local queued = {}
for i = 1, 4 do queued[i] = redis.call('ZCARD', ready[i]) end
local ndelayed = redis.call('ZCARD', delayed)
local nrunning = redis.call('ZCARD', leases)

-- counts by role of a set of task ids (the count passed from first, their
-- keys from KEYS[12 + first - 6]), then, for each of the values, four
-- more: the tasks whose hash field is that value
local function by_role(key, n, first, count, field, values)
    if n > limit or count ~= n then return {} end
    local out = {}
    for i = 1, 4 * (1 + #values) do out[i] = 0 end
    for i = first, first + count - 1 do
        if not redis.call('ZSCORE', key, ARGV[i]) then return {} end
        local t = redis.call('HMGET', KEYS[i + 6], 'role', field)
        local r = index[t[1] or '']
        if r then
            out[r] = out[r] + 1
            for v, value in ipairs(values) do
                if t[2] == value then out[r + 4 * v] = out[r + 4 * v] + 1 end
            end
        end
    end
    return out
end

local live = {0, 0, 0, 0, 0, redis.call('ZCARD', workers)}
for _, w in ipairs(redis.call('ZRANGEBYSCORE', workers, now - window_ms, '+inf')) do
    local i = index[string.match(w, ':([^:]*)$') or '']
    if i then live[i] = live[i] + 1 end
    live[5] = live[5] + 1
end

local states = {}
for i = 6 + nd + nl, 5 + nd + nl + nm do
    states[#states + 1] = ARGV[i]
    states[#states + 1] = redis.call('HGETALL', KEYS[i + 6])
end

local last = redis.call('XREVRANGE', events, '+', '-', 'COUNT', 1)
return {now, queued, ndelayed, nrunning, redis.call('ZCARD', dead),
    by_role(delayed, ndelayed, 6, nd, 'status', {'retrying'}),
    by_role(leases, nrunning, 6 + nd, nl, 'phase', FQ_TASK_PHASES), live,
    redis.call('ZCOUNT', slots, '(' .. now, '+inf'), redis.call('HGETALL', quota),
    #last > 0 and last[1][1] or '', states}
