-- quota.lua -- the fleet-wide quota: one request-rate limiter and one
-- daily budget ledger shared by every worker on every host.
--
-- Rate: GCRA over Redis' clock in microseconds. One call is allowed every
-- T = 60 s / rpm, with `burst` calls back to back at most, so no second
-- ever sees more than about rpm/60 calls (providers enforce per-second
-- limits too). A denied caller gets the exact wait until its slot.
--
-- Budget (UTC day from Redis' clock): before a call its worst-case cost is
-- reserved; afterwards the reservation is settled to the real cost, or
-- released when nothing was billed. spent + reserved never exceeds the cap,
-- so concurrent workers cannot overspend. The worst case includes a
-- reasoning allowance: the caller's conservative default until the fleet
-- has seen 20 calls of a model, then 1.25 x the most that model has used.
--
-- Everything lives in the hash fleetq:quota, readable with HGETALL.
--
-- KEYS: 1 fleetq:quota
-- ARGV: 1 op, then per op:
--   reserve: 2 rate on (0|1), 3 rpm, 4 burst, 5 budget cap ticks (0 = none),
--            6 base cost ticks, 7 output ticks per token, 8 model,
--            9 default reasoning reserve tokens
--     -> {1, 0, 'ok', reserved ticks, day} or {0, wait ms, reason, needed ticks, day}
--        reasons: 'rate', 'held' (the budget left is reserved by calls in
--        flight: ask again shortly), 'budget' (spent for today), 'over_cap'
--        (one call would cost more than the whole cap)
--   settle:  2 reserved ticks, 3 billed ticks, 4 day, 5 model, 6 reasoning
--            tokens (-1 = unknown, not sampled)  -> 'ok'
--   release: 2 reserved ticks, 3 day -> 'ok'
local q = KEYS[1]
local op = ARGV[1]
local t = redis.call('TIME')
local sec, usec = tonumber(t[1]), tonumber(t[2])
local now_us = sec * 1000000 + usec
local day = math.floor(sec / 86400)
local TICKS = 10000000000
local HELD_RETRY_MS = 200

local function usd(ticks)
    return string.format('%.6f', ticks / TICKS)
end

-- Rolls the ledger over when the UTC day has turned.
local function ledger()
    local v = redis.call('HMGET', q, 'budget_day', 'budget_spent_ticks', 'budget_reserved_ticks')
    if tonumber(v[1]) ~= day then
        redis.call('HSET', q, 'budget_day', day, 'budget_spent_ticks', 0,
            'budget_reserved_ticks', 0)
        return 0, 0
    end
    return tonumber(v[2]) or 0, tonumber(v[3]) or 0
end

-- Writes the ledger and its human-readable figures (the cap is the one the
-- last reserving worker was configured with).
local function publish(spent, reserved)
    local cap = tonumber(redis.call('HGET', q, 'budget_cap_ticks')) or 0
    local left = cap - spent - reserved
    if left < 0 then left = 0 end
    redis.call('HSET', q, 'budget_spent_ticks', string.format('%.0f', spent),
        'budget_reserved_ticks', string.format('%.0f', reserved),
        'budget_spent_usd', usd(spent), 'budget_reserved_usd', usd(reserved),
        'budget_cap_usd', cap > 0 and usd(cap) or 'none',
        'budget_left_usd', cap > 0 and usd(left) or 'unlimited')
end

if op == 'reserve' then
    local rate_on, rpm, burst = ARGV[2] == '1', tonumber(ARGV[3]), tonumber(ARGV[4])
    local cap, base, out_tick = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
    local model, reasoning_default = ARGV[8], tonumber(ARGV[9])

    -- worst case with the reasoning allowance for this model
    local st = redis.call('HMGET', q, 'reasoning_max:' .. model, 'reasoning_n:' .. model)
    local rmax, rn = tonumber(st[1]) or 0, tonumber(st[2]) or 0
    local allowance = math.ceil(rmax * 1.25)
    if rn < 20 and reasoning_default > allowance then allowance = reasoning_default end
    local cost = base + allowance * out_tick

    redis.call('HSET', q, 'budget_cap_ticks', string.format('%.0f', cap))
    local spent, reserved = ledger()
    if cap > 0 then
        if cost > cap then
            return {0, 0, 'over_cap', cost, day}
        end
        if spent + cost > cap then
            publish(spent, reserved)
            local wait = (86400 - sec % 86400) * 1000 - math.floor(usec / 1000)
            return {0, wait, 'budget', cost, day}
        end
        if spent + reserved + cost > cap then
            -- it may fit once the calls in flight have settled
            return {0, HELD_RETRY_MS, 'held', cost, day}
        end
    end

    if rate_on and rpm > 0 then
        local interval = 60000000 / rpm
        local tolerance = (burst - 1) * interval
        local tat = tonumber(redis.call('HGET', q, 'tat_us')) or now_us
        if tat < now_us then tat = now_us end
        if tat - tolerance > now_us then
            local wait = math.ceil((tat - tolerance - now_us) / 1000)
            return {0, wait, 'rate', cost, day}
        end
        redis.call('HSET', q, 'tat_us', string.format('%.0f', tat + interval),
            'rpm_ceiling', rpm, 'rpm_effective', rpm, 'burst', burst)
    end

    -- use of the current one-minute window, for people reading the hash
    local minute = math.floor(sec / 60)
    if tonumber(redis.call('HGET', q, 'window_minute')) ~= minute then
        redis.call('HSET', q, 'window_minute', minute, 'window_requests', 0)
    end
    redis.call('HINCRBY', q, 'window_requests', 1)

    reserved = reserved + cost
    publish(spent, reserved)
    return {1, 0, 'ok', cost, day}
end

if op == 'settle' or op == 'release' then
    local held, reserve_day = tonumber(ARGV[2]), tonumber(ARGV[op == 'settle' and 4 or 3])
    local billed = op == 'settle' and tonumber(ARGV[3]) or 0
    local spent, reserved = ledger()
    if reserve_day == day then
        reserved = reserved - held
        if reserved < 0 then reserved = 0 end
    end
    spent = spent + billed
    publish(spent, reserved)
    if op == 'settle' then
        local model, reasoning = ARGV[5], tonumber(ARGV[6])
        if reasoning and reasoning >= 0 then
            redis.call('HINCRBY', q, 'reasoning_n:' .. model, 1)
            local rmax = tonumber(redis.call('HGET', q, 'reasoning_max:' .. model)) or 0
            if reasoning > rmax then
                redis.call('HSET', q, 'reasoning_max:' .. model, reasoning)
            end
        end
    end
    return 'ok'
end

return redis.error_reply('quota.lua: unknown op ' .. tostring(op))
