-- quota.lua -- the fleet-wide quota of the one shared key, held in Redis for
-- every worker on every host, on Redis' clock.
--
-- Providers limit each model on its own (xAI per team and model, OpenAI
-- per organisation and model), so with the scope `model` (fleetq:limits'
-- `scope`, FLEETQ_LIMIT_SCOPE) each model has its own state in
-- fleetq:quota:<model>: its ceilings, its learned request and token rates,
-- its freeze after a 429, its priority contention between role classes and
-- its circuit breaker. With the scope `key` one such state, kept in
-- fleetq:quota itself, serves every model. Key-wide in any case, in
-- fleetq:quota: the pause (key rejected, credits spent), the daily budget,
-- the cap on calls in flight, and the figures of the whole fleet.
--
-- The limits themselves are never a caller's: they are read from
-- fleetq:limits (limits.h) on every grant, so every worker obeys the same
-- ones and a change holds at the next call. A state remembers what it
-- learned about the provider apart from its ceiling: a lower ceiling caps
-- the learned rate, a higher one lets it climb from where it was.
--
-- Before a call a worker asks for a grant (op 'reserve'); the checks run in
-- this order and the first that says no answers, with the exact wait:
--   nolimits nobody has published fleetq:limits (the worker then does);
--   paused   the key was rejected or the credits ran out: nobody calls,
--            except one probe call every probe interval;
--   breaker  repeated 5xx/timeouts on this model opened its circuit: one
--            probe call per cool-down, which closes it on success;
--   frozen   a 429 froze this model briefly (one shared freeze; the ceo
--            class still goes, paced by the rate);
--   inflight max_inflight calls over the key, or the model's own
--            inflight, are already running (slots are leased, so a dead
--            worker's slot frees itself);
--   budget   the call's worst-case cost does not fit the daily budget
--            ('held' when it would fit once the calls in flight settle);
--   rate     GCRA at the model's effective rate (calls per second), with
--            priority: while a higher class waits for a slot, lower classes
--            are held back unless their share of this window's grants is
--            below their minimum share; a class' reserve keeps part of the
--            burst headroom for the classes above it;
--   rph      the hourly ceiling (a sliding estimate over two hour buckets);
--   tpm      a token bucket at the model's effective token rate: the
--            estimate is taken now and settled later.
-- Only when every check passes is anything taken.
--
-- After the call the worker reports (op 'settle'): the budget is settled to
-- what was billed, the token estimate to the real usage, the slot freed;
-- and the outcome steers the model's state:
--   ok            breaker closed, pause lifted (a probe succeeded); the
--                 learned rates climb back once per window: quickly up to
--                 99% of the rate that last drew a 429, then probing above
--                 it in steps that start at 0.5% and double each window
--                 without a 429, up to 50% and the ceiling: small near
--                 the known limit, where the provider's noise is, and
--                 fast once past it (after a 429 at the ceiling, back to
--                 it only after three quiet windows);
--   rate_limited  a request limit (or one that does not say): at most once
--                 per window, measured against the successes of the last
--                 window(s): nearly all got through (90%: the provider's
--                 noise), the request rate steps down 2%; most (75%), to
--                 98% of what got through; fewer, far over the limit, to
--                 97% of it, and the
--                 model freezes for FLEETQ_FREEZE_MS; a further 429 in that
--                 window holds the model for two slots. A token limit does
--                 the same to the token rate, measured in tokens, and
--                 leaves the request rate alone; a refused call's token
--                 estimate is not refunded, so refusals are paced too;
--   failure       (5xx, timeout, network) counts towards the breaker;
--   key_rejected, no_credits   pause the whole fleet with the reason.
--
-- KEYS: 1 fleetq:quota, 2 in-flight slots (zset: "model|call" -> lease
--       expiry), 3 successes of the key scope (zset "call#tokens" -> ms),
--       4 fleetq:limits, 5 fleetq:quota:<model>, 6 the model's successes,
--       7 the models seen (zset: model -> last grant ms)
fq_contract(7, false)
local q, inflight, key_oks, limits_key, model_q, model_oks, models =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local op = ARGV[1]
local t = redis.call('TIME')
local sec, usec = tonumber(t[1]), tonumber(t[2])
local now = sec * 1000 + usec / 1000         -- ms, with fractions
local day = math.floor(sec / 86400)
local TICKS = FQ_TICKS_PER_USD
local HELD_RETRY_MS = 200
local INFLIGHT_RETRY_MS = 50
local NOLIMITS_RETRY_MS = 200
local PAUSED_RECHECK_MS = 5000
local MIN_RATE = 0.05        -- calls per second, the floor
local MIN_TOKEN_RATE = 100   -- tokens per minute, the floor
local NEAR_STEP = 0.98       -- a 429 near the limit: the rate's cut
local NOISE_SHARE = 0.9      -- successes of at least this share of the rate: at the limit
local FAR_SHARE = 0.75       -- fewer successes than this share of the rate: far over
local CLIMB_TO = 0.99        -- the quick climb ends this far under it
local PROBE_FIRST = 0.005    -- the first probe step above it, doubling
                             -- each window without a 429
local PROBE_MAX = 0.5        -- the largest probe step
local CEILING_HOLD = 3       -- windows under the ceiling after a 429 there
local MODEL_TTL_MS = 7 * 86400000   -- a model unused this long is forgotten

local function num(v, d) return tonumber(v) or d end
local function fmt(x) return string.format('%.0f', x) end
local function fmt3(x) return string.format('%.3f', x) end
local function usd(ticks) return string.format('%.6f', ticks / TICKS) end
local function get(h, f, d) return num(redis.call('HGET', h, f), d) end

-- "12.5" -> 125000000000, exactly
local function usd_ticks(s)
    local whole, frac = string.match(s or '', '^(%d*)%.?(%d*)$')
    if not whole or (whole == '' and frac == '') then return 0 end
    frac = string.sub(frac .. '0000000000', 1, 10)
    return num(whole, 0) * TICKS + num(frac, 0)
end

-- ---------------------------------------------------------------- limits

-- The limits that apply to a model, or nil when nobody has published any.
local function read_limits(model)
    local flat = redis.call('HGETALL', limits_key)
    local L = {}
    for i = 1, #flat, 2 do L[flat[i]] = flat[i + 1] end
    if not L.version then return nil end
    local scope = L.scope == 'key' and 'key' or 'model'
    local function own(name, def)
        if scope == 'key' then return def end
        return num(L['model:' .. model .. ':' .. name], def)
    end
    return {
        scope = scope,
        rpm = own('rpm', num(L.rpm, 0)), rph = own('rph', num(L.rph, 0)),
        tpm = own('tpm', num(L.tpm, 0)),
        model_inflight = num(L['model:' .. model .. ':inflight'], 0),
        burst = math.max(1, num(L.burst, 1)),
        max_inflight = num(L.max_inflight, 0),
        cap = usd_ticks(L.daily_budget_usd),
        rate_on = L.rate_limiting ~= 'off',
        adaptive = L.adaptive ~= 'off',
    }
end

-- settle and release still work when the limits were deleted meanwhile
local NO_LIMITS = {scope = 'model', rpm = 0, rph = 0, tpm = 0, model_inflight = 0, burst = 1,
    max_inflight = 0, cap = 0, rate_on = false, adaptive = true}

-- The state hash and the successes of the scope a model is limited in.
local function state_of(L)
    if L.scope == 'key' then return q, key_oks end
    return model_q, model_oks
end

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

local function publish_budget(spent, reserved, cap)
    local left = math.max(0, cap - spent - reserved)
    redis.call('HSET', q, 'budget_spent_ticks', fmt(spent), 'budget_reserved_ticks', fmt(reserved),
        'budget_cap_ticks', fmt(cap), 'budget_spent_usd', usd(spent),
        'budget_reserved_usd', usd(reserved), 'budget_cap_usd', cap > 0 and usd(cap) or 'none',
        'budget_left_usd', cap > 0 and usd(left) or 'unlimited')
end

-- ------------------------------------------------------ effective rates

-- Requests per second: the ceiling until a 429 taught the state a lower
-- rate (rate_learned), then what it learned, capped by the ceiling.
local function request_rate(rq, rpm, adaptive)
    local ceiling = rpm / 60
    local v = redis.call('HMGET', rq, 'rate_per_s', 'rate_learned', 'rpm_ceiling')
    if num(v[3], -1) ~= rpm then redis.call('HSET', rq, 'rpm_ceiling', fmt(rpm)) end
    if adaptive and v[2] == '1' then
        return math.min(ceiling, num(v[1], ceiling))
    end
    if math.abs(num(v[1], -1) - ceiling) > 1e-9 then
        redis.call('HSET', rq, 'rate_per_s', fmt3(ceiling), 'rate_known_bad', fmt3(ceiling))
    end
    return ceiling
end

-- Tokens per minute: the ceiling (0 = none), or what a token 429 taught,
-- capped by it. Returns the rate and whether it was learned.
local function token_rate(rq, tpm, adaptive)
    local v = redis.call('HMGET', rq, 'tpm_rate', 'tpm_ceiling')
    if num(v[2], -1) ~= tpm then redis.call('HSET', rq, 'tpm_ceiling', fmt(tpm)) end
    local learned = adaptive and tonumber(v[1]) or nil
    if learned then
        return (tpm > 0 and math.min(tpm, learned) or learned), true
    end
    return tpm, false
end

-- The token bucket: a minute's worth of a configured ceiling (the user
-- gave tokens per minute), a quarter of a window's worth of a learned rate
-- (the provider's window is what was measured, and a bucket of C refilling
-- at r lets C + r * W into a window of W: a bigger one bursts over the
-- limit). A call larger than the bucket waits for a full one and takes it.
local function bucket_level(rq, rate, learned, window)
    local capacity = learned and rate * math.max(window, 1000) / 60000 / 4 or rate
    local v = redis.call('HMGET', rq, 'tpm_tokens', 'tpm_ms')
    local level = math.min(capacity, num(v[1], capacity) + (now - num(v[2], now)) * rate / 60000)
    return level, capacity
end

-- What the successes of the last `span` ms add up to: calls and tokens.
local function successes(oks, span)
    local calls, tokens = 0, 0
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', oks, now - span, '+inf')) do
        calls = calls + 1
        tokens = tokens + num(string.match(m, '#(%d+)$'), 0)
    end
    return calls, tokens
end

-- How much history the successes hold: two windows when there is that
-- much (completion times jitter; one window's count is noisy), else one.
local function span_of(oks, window)
    local oldest = redis.call('ZRANGE', oks, 0, 0, 'WITHSCORES')
    if #oldest > 0 and now - tonumber(oldest[2]) >= 2 * window then return 2 * window, oldest end
    return window, oldest
end

-- The history a step down measures: one window right after a raise (older
-- successes were granted at a lower rate), else span_of's.
local function measure_span(rq, prefix, oks, window)
    local span, oldest = span_of(oks, window)
    if now - get(rq, prefix .. 'last_increase_ms', 0) < 2 * window then span = window end
    return span, oldest
end

-- How a learned rate steps down after a 429, given what got through in the
-- measured span (under saturation a provider admits its limit per window,
-- so that is its true limit). At the limit (nearly all got through: the
-- provider's noise) a small step down; over it (most got through) just
-- under what got through; neither freezes. Far over it
-- (the limit fell, or was never learned): just under what got through, and
-- a freeze (Retry-After is a hint, believed within sane bounds). Returns
-- the new rate, the rate known to be too much, and the freeze.
local function step_down(rate, measured, retry_after, freeze)
    if measured >= NOISE_SHARE * rate then return NEAR_STEP * rate, rate, 0 end
    if measured >= FAR_SHARE * rate then return NEAR_STEP * measured, measured, 0 end
    local hold = retry_after >= 0 and retry_after or freeze
    hold = math.max(freeze, math.min(hold, 2 * freeze))
    if measured <= 0 then return 0.5 * rate, rate, hold end
    return math.min(0.95 * rate, 0.97 * measured), measured, hold
end

-- Less than a window of history: the fleet has just started.
local function in_first_window(oldest, window)
    return #oldest == 0 or now - tonumber(oldest[2]) < window
end

-- A 429 in the first window: the provider refuses until that window has
-- passed, so the model freezes until then, the ceo class too. Returns the
-- freeze.
local function first_window_freeze(rq, oldest, hold, window)
    local started = #oldest > 0 and tonumber(oldest[2]) or now
    hold = math.max(hold, window - (now - started))
    redis.call('HSET', rq, 'frozen_all_until_ms', fmt(now + hold))
    return hold
end

-- One climbing step of a learned rate, once per window: quickly to just
-- under the rate that drew the last 429, then probing above it in steps
-- that double each window without a 429, the way TCP finds
-- new bandwidth: small near the known limit (where the provider's noise
-- is), growing fast once past it (the limit has risen). Returns the new
-- rate, or nil for no change.
local function climb(rq, prefix, rate, ceiling, window)
    local last_up = get(rq, prefix .. 'last_increase_ms', 0)
    local last_down = get(rq, prefix .. 'last_decrease_ms', 0)
    if rate >= ceiling or now - last_up < window or now - last_down < 2 * window then
        return nil
    end
    local bad = get(rq, prefix .. 'known_bad', ceiling)
    local target = CLIMB_TO * bad
    local new
    -- (rates are stored rounded: tokens to units, requests to 3 decimals)
    if rate < target * 0.999 - 0.001 then
        new = math.min(target, rate + math.max(ceiling * 0.02, (target - rate) / 2))
    else
        local streak = redis.call('HINCRBY', rq, prefix .. 'probe_streak', 1)
        new = rate * (1 + math.min(PROBE_MAX, PROBE_FIRST * 2 ^ (streak - 1)))
        -- a 429 at the ceiling: there is nothing above it to find, so the
        -- rate goes back to it only after a stable stretch
        if bad >= CLIMB_TO * ceiling and new >= CLIMB_TO * bad and streak <= CEILING_HOLD then
            new = rate
        end
    end
    redis.call('HSET', rq, prefix .. 'last_increase_ms', fmt(now))
    return math.min(new, ceiling)
end

-- ================================================================ reserve
if op == 'reserve' then
    local class, call, model = tonumber(ARGV[2]), ARGV[3], ARGV[4]
    local est_tokens, lease_ms = tonumber(ARGV[5]), tonumber(ARGV[6])
    local base, out_tick, reasoning_default = tonumber(ARGV[7]), tonumber(ARGV[8]),
        tonumber(ARGV[9])
    local reserve_frac, min_share = tonumber(ARGV[10]), tonumber(ARGV[11])
    local probe_ms, cooldown_ms, window = tonumber(ARGV[12]), tonumber(ARGV[13]),
        tonumber(ARGV[14])
    local L = read_limits(model)
    if not L then return {0, NOLIMITS_RETRY_MS, 'nolimits', 0, day} end
    local rq = state_of(L)
    local probe = 0
    if redis.call('HEXISTS', q, 'paused') == 0 then
        redis.call('HSET', q, 'paused', '', 'pause_reason', '')
    end
    if redis.call('HEXISTS', rq, 'breaker') == 0 then
        redis.call('HSET', rq, 'breaker', 'closed', 'breaker_failures', 0, 'decreases', 0,
            'frozen_until_ms', 0, 'last_429_ms', 0)
    end

    -- paused: one probe call per probe interval
    local paused = redis.call('HGET', q, 'paused')
    if paused and paused ~= '' then
        local probe_at = get(q, 'pause_probe_at_ms', 0)
        if now < probe_at then
            return {0, math.min(PAUSED_RECHECK_MS, math.ceil(probe_at - now)), 'paused', 0, day,
                paused, redis.call('HGET', q, 'pause_reason') or ''}
        end
        probe = 1
    end

    -- breaker: open until its cool-down ends, then one probe at a time
    local breaker = redis.call('HGET', rq, 'breaker') or 'closed'
    if breaker ~= 'closed' and probe == 0 then
        local until_ms = get(rq, 'breaker_open_until_ms', 0)
        if now < until_ms then
            return {0, math.ceil(until_ms - now), 'breaker', 0, day}
        end
        if breaker == 'half_open' and now < get(rq, 'breaker_probe_until_ms', 0) then
            return {0, math.ceil(cooldown_ms / 2), 'breaker', 0, day}
        end
        probe = 2
    end

    -- one shared freeze after a 429
    -- (the ceo class still goes, paced by the rate, except while the
    -- provider's first window is known to be full)
    local frozen = get(rq, 'frozen_until_ms', 0)
    if now < frozen and probe == 0 and (class > 0 or now < get(rq, 'frozen_all_until_ms', 0)) then
        return {0, math.ceil(frozen - now), 'frozen', 0, day}
    end

    -- concurrency: leased slots, over the key and of this model
    redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
    if L.max_inflight > 0 and redis.call('ZCARD', inflight) >= L.max_inflight then
        return {0, INFLIGHT_RETRY_MS, 'inflight', 0, day}
    end
    if L.model_inflight > 0 then
        local mine, prefix = 0, model .. '|'
        for _, m in ipairs(redis.call('ZRANGE', inflight, 0, -1)) do
            if string.sub(m, 1, #prefix) == prefix then mine = mine + 1 end
        end
        if mine >= L.model_inflight then return {0, INFLIGHT_RETRY_MS, 'inflight', 0, day} end
    end

    -- budget: worst case with this model's reasoning allowance
    local st = redis.call('HMGET', q, 'reasoning_max:' .. model, 'reasoning_n:' .. model)
    local allowance = math.ceil(num(st[1], 0) * 1.25)
    if num(st[2], 0) < 20 and reasoning_default > allowance then allowance = reasoning_default end
    local cost = base + allowance * out_tick
    local cap = L.cap
    local spent, reserved = ledger()
    if cap > 0 then
        if cost > cap then
            return {0, 0, 'over_cap', cost, day}
        end
        if spent + cost > cap then
            publish_budget(spent, reserved, cap)
            return {0, (86400 - sec % 86400) * 1000 - math.floor(usec / 1000), 'budget', cost, day}
        end
        if spent + reserved + cost > cap then
            return {0, HELD_RETRY_MS, 'held', cost, day}
        end
    end

    local new_tat, tokens_left, minute = nil, nil, math.floor(sec / 60)
    if L.rate_on then
        -- rate, with priority between classes
        if L.rpm > 0 then
            local rate = math.max(MIN_RATE, request_rate(rq, L.rpm, L.adaptive))
            local interval = 1000 / rate
            local tat = math.max(get(rq, 'tat_ms', now), now)
            -- half a slot of slack absorbs callers that wake a little late
            -- (timers, round trips), which would otherwise lose their slot
            local headroom = (L.burst - 1) * interval
            local allowed = interval / 2 + headroom - reserve_frac * headroom
            if tat - now > allowed then
                redis.call('HSET', rq, 'waiting:' .. class, fmt(now + 2 * interval + 100))
                return {0, math.ceil(tat - now - allowed), 'rate', cost, day}
            end
            -- a higher class waiting for this slot goes first
            local wstart = get(rq, 'share_window_ms', 0)
            if now - wstart >= window then
                redis.call('HSET', rq, 'share_window_ms', fmt(now), 'grants', 0, 'grants:0', 0,
                    'grants:1', 0, 'grants:2', 0, 'grants:3', 0)
            end
            local mine, all = get(rq, 'grants:' .. class, 0), get(rq, 'grants', 0)
            if all == 0 or mine / all >= min_share then
                for h = 0, class - 1 do
                    if get(rq, 'waiting:' .. h, 0) > now then
                        redis.call('HSET', rq, 'waiting:' .. class, fmt(now + 2 * interval + 100))
                        return {0, math.ceil(interval), 'rate', cost, day}
                    end
                end
            end
            new_tat = tat + interval
        end
        -- hourly ceiling: current hour plus the rest of the previous one
        if L.rph > 0 then
            local hour = math.floor(sec / 3600)
            local v = redis.call('HMGET', rq, 'rph_hour', 'rph_cur', 'rph_prev')
            local cur, prev = num(v[2], 0), num(v[3], 0)
            if num(v[1], -1) ~= hour then
                prev = (num(v[1], -1) == hour - 1) and cur or 0
                cur = 0
                redis.call('HSET', rq, 'rph_hour', hour, 'rph_cur', 0, 'rph_prev', prev)
            end
            local frac = (now / 3600000) - hour
            if prev * (1 - frac) + cur + 1 > L.rph then
                local need = prev > 0 and (1 - (L.rph - cur - 1) / prev) or 2
                local wait = need <= 1 and (need - frac) * 3600000 or (1 - frac) * 3600000
                return {0, math.max(1, math.ceil(wait)), 'rph', cost, day}
            end
        end
        -- tokens: a bucket at the effective token rate
        local trate, learned = token_rate(rq, L.tpm, L.adaptive)
        if trate > 0 then
            local level, capacity = bucket_level(rq, trate, learned, window)
            local need = math.min(est_tokens, capacity)
            if level < need then
                redis.call('HSET', rq, 'tpm_tokens', fmt(level), 'tpm_ms', fmt(now))
                return {0, math.ceil((need - level) * 60000 / trate), 'tpm', cost, day}
            end
            tokens_left = level - est_tokens
        end
    end

    -- granted: take everything at once
    if new_tat then
        redis.call('HSET', rq, 'tat_ms', fmt(new_tat))
        redis.call('HINCRBY', rq, 'grants', 1)
        redis.call('HINCRBY', rq, 'grants:' .. class, 1)
        redis.call('HDEL', rq, 'waiting:' .. class)
    end
    if tokens_left then redis.call('HSET', rq, 'tpm_tokens', fmt(tokens_left), 'tpm_ms', fmt(now)) end
    if L.rate_on and L.rph > 0 then redis.call('HINCRBY', rq, 'rph_cur', 1) end
    if probe == 1 then
        redis.call('HSET', q, 'pause_probe_at_ms', fmt(now + probe_ms))
    elseif probe == 2 then
        redis.call('HSET', rq, 'breaker', 'half_open', 'breaker_probe_until_ms', fmt(now + lease_ms))
    end
    redis.call('ZADD', inflight, now + lease_ms, call)
    -- the models seen, and their states, are forgotten a week after their
    -- last call: model names come from tasks, so they must not pile up
    redis.call('ZADD', models, now, model)
    redis.call('ZREMRANGEBYSCORE', models, '-inf', now - MODEL_TTL_MS)
    if rq ~= q then redis.call('PEXPIRE', rq, MODEL_TTL_MS) end
    for _, h in ipairs(rq == q and {q} or {q, rq}) do
        if get(h, 'window_minute', -1) ~= minute then
            redis.call('HSET', h, 'window_minute', minute, 'window_requests', 0)
        end
        redis.call('HINCRBY', h, 'window_requests', 1)
    end
    redis.call('HSET', q, 'inflight', redis.call('ZCARD', inflight), 'scope', L.scope,
        'rph_used', get(rq, 'rph_cur', 0), 'rate_limiting', L.rate_on and 'on' or 'off')
    publish_budget(spent, reserved + cost, cap)
    return {1, 0, 'ok', cost, day, probe}
end

-- ================================================================= settle
if op == 'settle' then
    local call, held, billed, held_day = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]),
        tonumber(ARGV[5])
    local model, reasoning, outcome, kind = ARGV[6], tonumber(ARGV[7]), ARGV[8], ARGV[9]
    local est_tokens, used_tokens, retry_after = tonumber(ARGV[10]), tonumber(ARGV[11]),
        tonumber(ARGV[12])
    local window, freeze = tonumber(ARGV[13]), tonumber(ARGV[14])
    local threshold, cooldown = tonumber(ARGV[15]), tonumber(ARGV[16])
    local pause_text, probe_ms = ARGV[17], tonumber(ARGV[18])
    local L = read_limits(model) or NO_LIMITS
    local rq, oks = state_of(L)

    -- the slot's lease expiry orders the calls by their grants (a lease
    -- is only extended after seconds, long past the first window)
    local my_lease = redis.call('ZSCORE', inflight, call)
    redis.call('ZREM', inflight, call)
    redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
    redis.call('HSET', q, 'inflight', redis.call('ZCARD', inflight))

    local spent, reserved = ledger()
    if held_day == day then reserved = math.max(0, reserved - held) end
    publish_budget(spent + billed, reserved, L == NO_LIMITS and get(q, 'budget_cap_ticks', 0) or L.cap)

    local trate, tlearned = token_rate(rq, L.rate_on and L.tpm or 0, L.adaptive)
    -- a refused call keeps its estimate: refunded, the tokens would let the
    -- next call in at once, and refusals would not be paced at all
    if outcome == 'rate_limited' then used_tokens = math.max(used_tokens, est_tokens) end
    if trate > 0 and est_tokens ~= used_tokens then
        -- settle the estimate to the real usage: refund, or charge the rest
        -- (the bucket may go below zero; later calls then wait it out)
        local level, capacity = bucket_level(rq, trate, tlearned, window)
        redis.call('HSET', rq, 'tpm_tokens', fmt(math.min(capacity, level + est_tokens - used_tokens)),
            'tpm_ms', fmt(now))
    end

    local ceiling = L.rate_on and L.rpm / 60 or 0
    if outcome == 'ok' then
        if reasoning >= 0 then
            redis.call('HINCRBY', q, 'reasoning_n:' .. model, 1)
            if reasoning > get(q, 'reasoning_max:' .. model, 0) then
                redis.call('HSET', q, 'reasoning_max:' .. model, reasoning)
            end
        end
        redis.call('ZADD', oks, now, call .. '#' .. fmt(math.max(0, used_tokens)))
        redis.call('ZREMRANGEBYSCORE', oks, '-inf', now - 3 * window)
        redis.call('HSET', rq, 'breaker_failures', 0)
        if (redis.call('HGET', rq, 'breaker') or 'closed') ~= 'closed' then
            redis.call('HSET', rq, 'breaker', 'closed', 'breaker_cooldown_ms', cooldown)
        end
        local paused = redis.call('HGET', q, 'paused')
        if paused and paused ~= '' then
            redis.call('HSET', q, 'paused', '', 'pause_reason', '', 'resumed_at_ms', fmt(now))
        end
        if L.adaptive then
            -- the request rate climbs back
            if ceiling > 0 and redis.call('HGET', rq, 'rate_learned') == '1' then
                local rate = request_rate(rq, L.rpm, true)
                local new = climb(rq, 'rate_', rate, ceiling, window)
                if new then redis.call('HSET', rq, 'rate_per_s', fmt3(new)) end
            end
            -- and so does a learned token rate (towards the ceiling, or
            -- for ever upwards without one)
            if tlearned then
                local top = L.tpm > 0 and L.tpm or math.huge
                local new = climb(rq, 'tpm_', trate, top, window)
                if new then
                    if new >= L.tpm and L.tpm > 0 then
                        redis.call('HDEL', rq, 'tpm_rate')   -- back at the ceiling
                    else
                        redis.call('HSET', rq, 'tpm_rate', fmt(new))
                    end
                end
            end
        end
    elseif outcome == 'rate_limited' and kind == 'tokens' then
        redis.call('HSET', rq, 'last_429_ms', fmt(now))
        redis.call('HINCRBY', rq, 'rate_limited', 1)
        redis.call('HINCRBY', rq, 'rate_limited_tokens', 1)
        if L.adaptive and now - get(rq, 'tpm_last_decrease_ms', 0) >= window then
            -- what the provider really let through: the tokens of the
            -- successes, per minute; without a ceiling or a learned rate
            -- that is where the rate starts
            local span, oldest = measure_span(rq, 'tpm_', oks, window)
            local _, tokens = successes(oks, span)
            local measured = tokens * 60000 / span
            local cur = trate > 0 and trate or measured
            local new, bad, hold = step_down(cur, measured, retry_after, freeze)
            if cur <= 0 then new, bad = est_tokens * 60000 / window, 0 end
            new = math.max(MIN_TOKEN_RATE, new)
            if in_first_window(oldest, window) then
                hold = first_window_freeze(rq, oldest, hold, window)
            end
            redis.call('HSET', rq, 'tpm_rate', fmt(new), 'tpm_known_bad', fmt(math.max(bad, new)),
                'tpm_last_decrease_ms', fmt(now), 'tpm_probe_streak', 0,
                'tpm_tokens', 0, 'tpm_ms', fmt(now),
                'frozen_until_ms', fmt(math.max(get(rq, 'frozen_until_ms', 0), now + hold)))
            redis.call('HINCRBY', rq, 'token_decreases', 1)
        end
    elseif outcome == 'rate_limited' then
        redis.call('HSET', rq, 'last_429_ms', fmt(now))
        redis.call('HINCRBY', rq, 'rate_limited', 1)
        if L.adaptive and ceiling > 0 and now - get(rq, 'rate_last_decrease_ms', 0) >= window then
            local rate = request_rate(rq, L.rpm, true)
            local span, oldest = measure_span(rq, 'rate_', oks, window)
            local new, bad, hold = step_down(rate, successes(oks, span) * 1000 / span,
                retry_after, freeze)
            if in_first_window(oldest, window) then
                -- everything that got through so far fits in one provider
                -- window, so that count is its limit per window: the
                -- successes so far and the calls granted before this one
                -- still running (the provider admitted them before it
                -- refused this one). Without any, halve.
                local got = redis.call('ZCARD', oks)
                if my_lease then
                    local prefix = model .. '|'
                    for _, m in ipairs(redis.call('ZRANGEBYSCORE', inflight, '-inf',
                        '(' .. my_lease)) do
                        if L.scope == 'key' or string.sub(m, 1, #prefix) == prefix then
                            got = got + 1
                        end
                    end
                end
                got = got * 1000 / window
                if got > 0 then
                    new, bad = math.min(0.95 * rate, 0.97 * got), got
                else
                    new, bad = 0.5 * rate, rate
                end
                hold = first_window_freeze(rq, oldest, hold, window)
            end
            new = math.max(MIN_RATE, new)
            redis.call('HSET', rq, 'rate_known_bad', fmt3(bad), 'rate_per_s', fmt3(new),
                'rate_learned', 1, 'rate_last_decrease_ms', fmt(now), 'rate_probe_streak', 0,
                'frozen_until_ms', fmt(math.max(get(rq, 'frozen_until_ms', 0), now + hold)))
            redis.call('HINCRBY', rq, 'decreases', 1)
        elseif L.adaptive and ceiling > 0 then
            -- another 429 in the window of a decrease: the provider's window
            -- is still full (some count their refusals in it), so hold the
            -- model two slots for calls to leave it rather than refill it
            local hold = 2000 / math.max(MIN_RATE, request_rate(rq, L.rpm, true))
            redis.call('HSET', rq, 'frozen_until_ms',
                fmt(math.max(get(rq, 'frozen_until_ms', 0), now + hold)))
        end
    elseif outcome == 'failure' then
        local failures = redis.call('HINCRBY', rq, 'breaker_failures', 1)
        local state = redis.call('HGET', rq, 'breaker') or 'closed'
        if state == 'half_open' then
            local c = math.min(60000, 2 * get(rq, 'breaker_cooldown_ms', cooldown))
            redis.call('HSET', rq, 'breaker', 'open', 'breaker_cooldown_ms', c,
                'breaker_open_until_ms', fmt(now + c), 'breaker_probe_until_ms', 0)
        elseif state == 'closed' and failures >= threshold then
            redis.call('HSET', rq, 'breaker', 'open', 'breaker_cooldown_ms', cooldown,
                'breaker_open_until_ms', fmt(now + cooldown), 'breaker_opened_at_ms', fmt(now))
            redis.call('HINCRBY', rq, 'breaker_opened', 1)
        end
    elseif outcome == 'key_rejected' or outcome == 'no_credits' then
        local already = redis.call('HGET', q, 'paused')
        if not already or already == '' then
            redis.call('HSET', q, 'paused_at_ms', fmt(now))
        end
        redis.call('HSET', q, 'paused', outcome, 'pause_reason', pause_text,
            'pause_probe_at_ms', fmt(now + probe_ms))
    end
    return 'ok'
end

-- ================================================================ release
-- A grant given back unused: nothing was billed or called.
if op == 'release' then
    local call, held, held_day, est_tokens, window, model = ARGV[2], tonumber(ARGV[3]),
        tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
    local L = read_limits(model) or NO_LIMITS
    local rq = state_of(L)
    redis.call('ZREM', inflight, call)
    redis.call('HSET', q, 'inflight', redis.call('ZCARD', inflight))
    local spent, reserved = ledger()
    if held_day == day then reserved = math.max(0, reserved - held) end
    publish_budget(spent, reserved, L == NO_LIMITS and get(q, 'budget_cap_ticks', 0) or L.cap)
    local trate, learned = token_rate(rq, L.rate_on and L.tpm or 0, L.adaptive)
    if trate > 0 and est_tokens > 0 then
        local level, capacity = bucket_level(rq, trate, learned, window)
        redis.call('HSET', rq, 'tpm_tokens', fmt(math.min(capacity, level + est_tokens)),
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
