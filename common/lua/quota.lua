-- quota.lua -- the fleet-wide quota: every limit of the one shared key,
-- held in Redis for every worker on every host, on Redis' clock.
--
-- Before a call a worker asks for a grant (op 'reserve'); the checks run in
-- this order and the first that says no answers, with the exact wait:
--   paused   the key was rejected or the credits ran out: nobody calls,
--            except one probe call every probe interval;
--   breaker  repeated 5xx/timeouts across the fleet opened the circuit:
--            one probe call per cool-down, which closes it on success;
--   frozen   a 429 froze the whole fleet briefly (one shared freeze; the
--            ceo class still goes, paced by the rate);
--   inflight FLEETQ_MAX_INFLIGHT calls are already running (slots are
--            leased, so a dead worker's slot frees itself);
--   budget   the call's worst-case cost does not fit the daily budget
--            ('held' when it would fit once the calls in flight settle);
--   rate     GCRA at the effective rate (calls per second), with priority:
--            while a higher class waits for a slot, lower classes are held
--            back unless their share of this window's grants is below their
--            minimum share; a class' reserve keeps part of the burst
--            headroom for the classes above it;
--   rph      the hourly ceiling (a sliding estimate over two hour buckets);
--   tpm      a token bucket: the estimate is taken now and settled later.
-- Only when every check passes is anything taken.
--
-- After the call the worker reports (op 'settle'): the budget is settled to
-- what was billed, the token estimate to the real usage, the slot freed;
-- and the outcome steers the fleet:
--   ok            breaker closed, pause lifted (a probe succeeded); the
--                 effective rate climbs back, once per window: quickly up
--                 to 99% of the rate that last drew a 429, then by 0.25% a
--                 window (doubling every third window) above it, up to the
--                 ceiling;
--   rate_limited  at most once per window: near the known limit (noise) the
--                 rate steps down 2%; far over it, the rate drops to 97% of
--                 the successes the fleet had in the last window (at least
--                 5% down) and the fleet freezes for FLEETQ_FREEZE_MS; a
--                 further 429 in that window holds the fleet for two slots;
--   failure       (5xx, timeout, network) counts towards the breaker;
--   key_rejected, no_credits   pause the fleet with the reason.
--
-- KEYS: 1 fleetq:quota (hash, readable with HGETALL), 2 in-flight slots
--       (zset: call id -> lease expiry), 3 recent successes (zset)
local q, inflight, oks = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
local t = redis.call('TIME')
local sec, usec = tonumber(t[1]), tonumber(t[2])
local now = sec * 1000 + usec / 1000         -- ms, with fractions
local day = math.floor(sec / 86400)
local TICKS = 10000000000
local HELD_RETRY_MS = 200
local INFLIGHT_RETRY_MS = 50
local PAUSED_RECHECK_MS = 5000
local MIN_RATE = 0.05                        -- calls per second, the floor
local NEAR_STEP = 0.98       -- a 429 near the known limit: the rate's cut
local CLIMB_TO = 0.99        -- the quick climb ends this far under it

local function num(v, d) return tonumber(v) or d end
local function get(f, d) return num(redis.call('HGET', q, f), d) end
local function fmt(x) return string.format('%.0f', x) end
local function usd(ticks) return string.format('%.6f', ticks / TICKS) end

-- ---------------------------------------------------------------- budget

local function ledger()
    local v = redis.call('HMGET', q, 'budget_day', 'budget_spent_ticks', 'budget_reserved_ticks')
    if tonumber(v[1]) ~= day then
        redis.call('HSET', q, 'budget_day', day, 'budget_spent_ticks', 0,
            'budget_reserved_ticks', 0)
        return 0, 0
    end
    return num(v[2], 0), num(v[3], 0)
end

local function publish_budget(spent, reserved)
    local cap = get('budget_cap_ticks', 0)
    local left = math.max(0, cap - spent - reserved)
    redis.call('HSET', q, 'budget_spent_ticks', fmt(spent), 'budget_reserved_ticks', fmt(reserved),
        'budget_spent_usd', usd(spent), 'budget_reserved_usd', usd(reserved),
        'budget_cap_usd', cap > 0 and usd(cap) or 'none',
        'budget_left_usd', cap > 0 and usd(left) or 'unlimited')
end

-- ------------------------------------------------------- effective rate

-- The effective rate in calls per second: the ceiling, or below it after
-- 429s when adaptive. A changed ceiling starts the adaptation afresh.
local function effective_rate(rpm, adaptive)
    local ceiling = rpm / 60
    if math.abs(get('rpm_ceiling', -1) - rpm) > 0.5 or not adaptive then
        if math.abs(get('rate_per_s', -1) - ceiling) > 1e-9 then
            redis.call('HSET', q, 'rpm_ceiling', fmt(rpm), 'rate_per_s',
                string.format('%.3f', ceiling), 'rate_known_bad', ceiling)
        end
        return ceiling
    end
    return math.min(ceiling, get('rate_per_s', ceiling))
end

-- ================================================================ reserve
if op == 'reserve' then
    local class, call = tonumber(ARGV[2]), ARGV[3]
    local rate_on, rpm, burst = ARGV[4] == '1', tonumber(ARGV[5]), tonumber(ARGV[6])
    local adaptive, window = ARGV[7] == '1', tonumber(ARGV[8])
    local rph, tpm, est_tokens = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
    local max_inflight, lease_ms = tonumber(ARGV[12]), tonumber(ARGV[13])
    local cap, base, out_tick = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16])
    local model, reasoning_default = ARGV[17], tonumber(ARGV[18])
    local reserve_frac, min_share = tonumber(ARGV[19]), tonumber(ARGV[20])
    local probe_ms, cooldown_ms = tonumber(ARGV[21]), tonumber(ARGV[22])
    local probe = 0
    if redis.call('HEXISTS', q, 'breaker') == 0 then
        redis.call('HSET', q, 'breaker', 'closed', 'breaker_failures', 0, 'paused', '',
            'pause_reason', '', 'decreases', 0, 'frozen_until_ms', 0, 'last_429_ms', 0)
    end

    -- paused: one probe call per probe interval
    local paused = redis.call('HGET', q, 'paused')
    if paused and paused ~= '' then
        local probe_at = get('pause_probe_at_ms', 0)
        if now < probe_at then
            return {0, math.min(PAUSED_RECHECK_MS, math.ceil(probe_at - now)), 'paused', 0, day,
                paused, redis.call('HGET', q, 'pause_reason') or ''}
        end
        probe = 1
    end

    -- breaker: open until its cool-down ends, then one probe at a time
    local breaker = redis.call('HGET', q, 'breaker') or 'closed'
    if breaker ~= 'closed' and probe == 0 then
        local until_ms = get('breaker_open_until_ms', 0)
        if now < until_ms then
            return {0, math.ceil(until_ms - now), 'breaker', 0, day}
        end
        if breaker == 'half_open' and now < get('breaker_probe_until_ms', 0) then
            return {0, math.ceil(cooldown_ms / 2), 'breaker', 0, day}
        end
        probe = 2
    end

    -- one shared freeze after a 429
    -- (the ceo class still goes, paced by the rate, except while the
    -- provider's first window is known to be full)
    local frozen = get('frozen_until_ms', 0)
    if now < frozen and probe == 0 and (class > 0 or now < get('frozen_all_until_ms', 0)) then
        return {0, math.ceil(frozen - now), 'frozen', 0, day}
    end

    -- concurrency: leased slots
    redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
    if max_inflight > 0 and redis.call('ZCARD', inflight) >= max_inflight then
        return {0, INFLIGHT_RETRY_MS, 'inflight', 0, day}
    end

    -- budget: worst case with this model's reasoning allowance
    local st = redis.call('HMGET', q, 'reasoning_max:' .. model, 'reasoning_n:' .. model)
    local allowance = math.ceil(num(st[1], 0) * 1.25)
    if num(st[2], 0) < 20 and reasoning_default > allowance then allowance = reasoning_default end
    local cost = base + allowance * out_tick
    redis.call('HSET', q, 'budget_cap_ticks', fmt(cap))
    local spent, reserved = ledger()
    if cap > 0 then
        if cost > cap then
            return {0, 0, 'over_cap', cost, day}
        end
        if spent + cost > cap then
            publish_budget(spent, reserved)
            return {0, (86400 - sec % 86400) * 1000 - math.floor(usec / 1000), 'budget', cost, day}
        end
        if spent + reserved + cost > cap then
            return {0, HELD_RETRY_MS, 'held', cost, day}
        end
    end

    local new_tat, minute = nil, math.floor(sec / 60)
    if rate_on then
        -- rate, with priority between classes
        if rpm > 0 then
            local rate = math.max(MIN_RATE, effective_rate(rpm, adaptive))
            local interval = 1000 / rate
            local tat = math.max(get('tat_ms', now), now)
            -- half a slot of slack absorbs callers that wake a little late
            -- (timers, round trips), which would otherwise lose their slot
            local headroom = (burst - 1) * interval
            local allowed = interval / 2 + headroom - reserve_frac * headroom
            if tat - now > allowed then
                redis.call('HSET', q, 'waiting:' .. class, fmt(now + 2 * interval + 100))
                return {0, math.ceil(tat - now - allowed), 'rate', cost, day}
            end
            -- a higher class waiting for this slot goes first
            local wstart = get('share_window_ms', 0)
            if now - wstart >= window then
                redis.call('HSET', q, 'share_window_ms', fmt(now), 'grants', 0, 'grants:0', 0,
                    'grants:1', 0, 'grants:2', 0, 'grants:3', 0)
            end
            local mine, all = get('grants:' .. class, 0), get('grants', 0)
            if all == 0 or mine / all >= min_share then
                for h = 0, class - 1 do
                    if get('waiting:' .. h, 0) > now then
                        redis.call('HSET', q, 'waiting:' .. class, fmt(now + 2 * interval + 100))
                        return {0, math.ceil(interval), 'rate', cost, day}
                    end
                end
            end
            new_tat = tat + interval
        end
        -- hourly ceiling: current hour plus the rest of the previous one
        if rph > 0 then
            local hour = math.floor(sec / 3600)
            local v = redis.call('HMGET', q, 'rph_hour', 'rph_cur', 'rph_prev')
            local cur, prev = num(v[2], 0), num(v[3], 0)
            if num(v[1], -1) ~= hour then
                prev = (num(v[1], -1) == hour - 1) and cur or 0
                cur = 0
                redis.call('HSET', q, 'rph_hour', hour, 'rph_cur', 0, 'rph_prev', prev)
            end
            local frac = (now / 3600000) - hour
            if prev * (1 - frac) + cur + 1 > rph then
                local need = prev > 0 and (1 - (rph - cur - 1) / prev) or 2
                local wait = need <= 1 and (need - frac) * 3600000 or (1 - frac) * 3600000
                return {0, math.max(1, math.ceil(wait)), 'rph', cost, day}
            end
        end
        -- tokens per minute: a bucket of tpm tokens refilled continuously
        if tpm > 0 then
            local v = redis.call('HMGET', q, 'tpm_tokens', 'tpm_ms')
            local level = math.min(tpm, num(v[1], tpm) + (now - num(v[2], now)) * tpm / 60000)
            local need = math.min(est_tokens, tpm)
            if level < need then
                redis.call('HSET', q, 'tpm_tokens', fmt(level), 'tpm_ms', fmt(now))
                return {0, math.ceil((need - level) * 60000 / tpm), 'tpm', cost, day}
            end
            redis.call('HSET', q, 'tpm_tokens', fmt(level - est_tokens), 'tpm_ms', fmt(now))
        end
    end

    -- granted: take everything at once
    if new_tat then
        redis.call('HSET', q, 'tat_ms', fmt(new_tat))
        redis.call('HINCRBY', q, 'grants', 1)
        redis.call('HINCRBY', q, 'grants:' .. class, 1)
        redis.call('HDEL', q, 'waiting:' .. class)
    end
    if rate_on and rph > 0 then redis.call('HINCRBY', q, 'rph_cur', 1) end
    if probe == 1 then
        redis.call('HSET', q, 'pause_probe_at_ms', fmt(now + probe_ms))
    elseif probe == 2 then
        redis.call('HSET', q, 'breaker', 'half_open', 'breaker_probe_until_ms', fmt(now + lease_ms))
    end
    redis.call('ZADD', inflight, now + lease_ms, call)
    if get('window_minute', -1) ~= minute then
        redis.call('HSET', q, 'window_minute', minute, 'window_requests', 0)
    end
    redis.call('HINCRBY', q, 'window_requests', 1)
    redis.call('HSET', q, 'inflight', redis.call('ZCARD', inflight),
        'rph_used', get('rph_cur', 0), 'rate_limiting', rate_on and 'on' or 'off')
    publish_budget(spent, reserved + cost)
    return {1, 0, 'ok', cost, day, probe}
end

-- ================================================================= settle
if op == 'settle' then
    local call, held, billed, held_day = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]),
        tonumber(ARGV[5])
    local model, reasoning, outcome = ARGV[6], tonumber(ARGV[7]), ARGV[8]
    local est_tokens, used_tokens, retry_after = tonumber(ARGV[9]), tonumber(ARGV[10]),
        tonumber(ARGV[11])
    local window, freeze, rpm, adaptive = tonumber(ARGV[12]), tonumber(ARGV[13]),
        tonumber(ARGV[14]), ARGV[15] == '1'
    local threshold, cooldown, tpm = tonumber(ARGV[16]), tonumber(ARGV[17]), tonumber(ARGV[18])
    local pause_text = ARGV[19]

    -- the slot's lease expiry orders the calls by their grants (a lease
    -- is only extended after seconds, long past the first window)
    local my_lease = redis.call('ZSCORE', inflight, call)
    redis.call('ZREM', inflight, call)
    redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
    redis.call('HSET', q, 'inflight', redis.call('ZCARD', inflight))

    local spent, reserved = ledger()
    if held_day == day then reserved = math.max(0, reserved - held) end
    publish_budget(spent + billed, reserved)

    if tpm > 0 and est_tokens ~= used_tokens then
        -- settle the estimate to the real usage: refund, or charge the rest
        -- (the bucket may go below zero; later calls then wait it out)
        local v = redis.call('HMGET', q, 'tpm_tokens', 'tpm_ms')
        local level = math.min(tpm, num(v[1], tpm) + (now - num(v[2], now)) * tpm / 60000)
        redis.call('HSET', q, 'tpm_tokens', fmt(math.min(tpm, level + est_tokens - used_tokens)),
            'tpm_ms', fmt(now))
    end

    local ceiling = rpm / 60
    if outcome == 'ok' then
        if reasoning >= 0 then
            redis.call('HINCRBY', q, 'reasoning_n:' .. model, 1)
            if reasoning > get('reasoning_max:' .. model, 0) then
                redis.call('HSET', q, 'reasoning_max:' .. model, reasoning)
            end
        end
        redis.call('ZADD', oks, now, call)
        redis.call('ZREMRANGEBYSCORE', oks, '-inf', now - 3 * window)
        redis.call('HSET', q, 'breaker_failures', 0)
        if (redis.call('HGET', q, 'breaker') or 'closed') ~= 'closed' then
            redis.call('HSET', q, 'breaker', 'closed', 'breaker_cooldown_ms', cooldown)
        end
        local paused = redis.call('HGET', q, 'paused')
        if paused and paused ~= '' then
            redis.call('HSET', q, 'paused', '', 'pause_reason', '', 'resumed_at_ms', fmt(now))
        end
        -- additive increase, once per window, not right after a decrease
        if adaptive and ceiling > 0 then
            local rate = effective_rate(rpm, true)
            if rate < ceiling and now - get('last_increase_ms', 0) >= window and
                now - get('last_decrease_ms', 0) >= 2 * window then
                local bad = get('rate_known_bad', ceiling)
                local target = CLIMB_TO * bad
                if rate < target - 0.01 then
                    rate = math.min(target, rate + math.max(ceiling * 0.02, (target - rate) / 2))
                else
                    -- probing above the last known limit: small steps that
                    -- double every third window without a 429, so a limit
                    -- the provider raised is found again in good time
                    local streak = redis.call('HINCRBY', q, 'probe_streak', 1)
                    local step = 0.0025 * bad * 2 ^ math.min(3, math.floor(streak / 3))
                    rate = rate + math.max(step, MIN_RATE / 10)
                    if rate > bad then redis.call('HSET', q, 'rate_known_bad', rate) end
                end
                redis.call('HSET', q, 'rate_per_s', string.format('%.3f', math.min(rate, ceiling)),
                    'last_increase_ms', fmt(now))
            end
        end
    elseif outcome == 'rate_limited' then
        redis.call('HSET', q, 'last_429_ms', fmt(now))
        redis.call('HINCRBY', q, 'rate_limited', 1)
        if adaptive and ceiling > 0 and now - get('last_decrease_ms', 0) >= window then
            local rate = effective_rate(rpm, true)
            -- what the provider really let through: the fleet's successes
            -- in the last window (a provider admits at most its limit per
            -- window, so under saturation this is its true limit)
            -- (over two windows when there is that much history: completion
            -- times jitter, and one window's count is noisy)
            local oldest = redis.call('ZRANGE', oks, 0, 0, 'WITHSCORES')
            local span = (#oldest > 0 and now - tonumber(oldest[2]) >= 2 * window) and
                2 * window or window
            local measured = redis.call('ZCOUNT', oks, now - span, '+inf') * 1000 / span
            -- Near the limit (the rate is at or above what last drew a 429,
            -- and the successes bear it out) a 429 is the provider's noise:
            -- step down a little. Far over it: go to just under what got
            -- through and freeze the fleet.
            local known = get('rate_known_bad', rate)
            local near = rate <= 1.03 * known and measured >= 0.85 * rate
            local bad, new, hold
            if near then
                bad, new, hold = rate, NEAR_STEP * rate, 0
            else
                bad = math.min(rate, math.max(measured, 0.9 * rate))
                if measured < 0.75 * rate then bad = measured end
                new = math.min(0.95 * rate, 0.97 * bad)
                -- Retry-After is a hint: believed only within sane bounds
                hold = retry_after >= 0 and retry_after or freeze
                hold = math.max(freeze, math.min(hold, 2 * freeze))
            end
            if #oldest == 0 or now - tonumber(oldest[2]) < window then
                -- less than a window of history (just started): everything
                -- that got through so far fits in one provider window, so
                -- that count is its limit per window: the successes so far
                -- and the calls granted before this one still running (the
                -- provider admitted them before it refused this one).
                -- Without any, halve. Freeze until that first window has
                -- passed (the provider will refuse until then).
                local got = redis.call('ZCARD', oks)
                if my_lease then
                    got = got + redis.call('ZCOUNT', inflight, '-inf', '(' .. my_lease)
                end
                got = got * 1000 / window
                if got > 0 then
                    new, bad = math.min(0.95 * rate, 0.97 * got), got
                else
                    new, bad = 0.5 * rate, rate
                end
                local started = #oldest > 0 and tonumber(oldest[2]) or now
                hold = math.max(hold, window - (now - started))
                redis.call('HSET', q, 'frozen_all_until_ms', fmt(now + hold))
            end
            new = math.max(MIN_RATE, new)
            redis.call('HSET', q, 'rate_known_bad', string.format('%.3f', bad),
                'rate_per_s', string.format('%.3f', new), 'last_decrease_ms', fmt(now),
                'frozen_until_ms', fmt(math.max(get('frozen_until_ms', 0), now + hold)))
            redis.call('HINCRBY', q, 'decreases', 1)
            redis.call('HSET', q, 'probe_streak', 0)
        elseif adaptive and ceiling > 0 then
            -- another 429 in the window of a decrease: the provider's window
            -- is still full (some count their refusals in it), so hold the
            -- fleet two slots for calls to leave it rather than refill it
            local hold = 2000 / math.max(MIN_RATE, effective_rate(rpm, true))
            redis.call('HSET', q, 'frozen_until_ms',
                fmt(math.max(get('frozen_until_ms', 0), now + hold)))
        end
    elseif outcome == 'failure' then
        local failures = redis.call('HINCRBY', q, 'breaker_failures', 1)
        local state = redis.call('HGET', q, 'breaker') or 'closed'
        if state == 'half_open' then
            local c = math.min(60000, 2 * get('breaker_cooldown_ms', cooldown))
            redis.call('HSET', q, 'breaker', 'open', 'breaker_cooldown_ms', c,
                'breaker_open_until_ms', fmt(now + c), 'breaker_probe_until_ms', 0)
        elseif state == 'closed' and failures >= threshold then
            redis.call('HSET', q, 'breaker', 'open', 'breaker_cooldown_ms', cooldown,
                'breaker_open_until_ms', fmt(now + cooldown), 'breaker_opened_at_ms', fmt(now))
            redis.call('HINCRBY', q, 'breaker_opened', 1)
        end
    elseif outcome == 'key_rejected' or outcome == 'no_credits' then
        local already = redis.call('HGET', q, 'paused')
        if not already or already == '' then
            redis.call('HSET', q, 'paused_at_ms', fmt(now))
        end
        redis.call('HSET', q, 'paused', outcome, 'pause_reason', pause_text,
            'pause_probe_at_ms', fmt(now + tonumber(ARGV[20])))
    end
    return 'ok'
end

-- ================================================================ release
-- A grant given back unused: nothing was billed or called.
if op == 'release' then
    local call, held, held_day, est_tokens, tpm = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]),
        tonumber(ARGV[5]), tonumber(ARGV[6])
    redis.call('ZREM', inflight, call)
    redis.call('HSET', q, 'inflight', redis.call('ZCARD', inflight))
    local spent, reserved = ledger()
    if held_day == day then reserved = math.max(0, reserved - held) end
    publish_budget(spent, reserved)
    if tpm > 0 and est_tokens > 0 then
        local v = redis.call('HMGET', q, 'tpm_tokens', 'tpm_ms')
        local level = math.min(tpm, num(v[1], tpm) + (now - num(v[2], now)) * tpm / 60000)
        redis.call('HSET', q, 'tpm_tokens', fmt(math.min(tpm, level + est_tokens)),
            'tpm_ms', fmt(now))
    end
    return 'ok'
end

-- ================================================================= extend
-- The worker's heartbeat: its calls in flight keep their slots.
if op == 'extend' then
    local lease_ms = tonumber(ARGV[2])
    for i = 3, #ARGV do
        redis.call('ZADD', inflight, 'XX', now + lease_ms, ARGV[i])
    end
    return 'ok'
end

-- ================================================================= resume
-- Lifts a pause (a worker saw its key change, or an operator said so).
if op == 'resume' then
    local was = redis.call('HGET', q, 'paused') or ''
    redis.call('HSET', q, 'paused', '', 'pause_reason', '', 'resumed_at_ms', fmt(now))
    return was
end

return redis.error_reply('quota.lua: unknown op ' .. tostring(op))
