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
-- fleetq:limits (fleet_limits.h) on every grant, so every worker obeys the same
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
--                 window holds the model for two slots. Far under the rate,
--                 never below 97% of the most the provider let through in
--                 one window lately (accepted_peak), and a lone 429 at light load (none in
--                 the window before, far fewer successes than the rate
--                 allows) only freezes the model briefly: what the fleet
--                 happened to send is not the provider's limit. A token limit does
--                 the same to the token rate, measured in tokens, and
--                 leaves the request rate alone; a refused call's token
--                 estimate is not refunded, so refusals are paced too;
--   failure       (5xx, timeout, network) counts towards the breaker;
--   key_rejected, no_credits   pause the whole fleet with the reason.
--
-- KEYS: 1 fleetq:quota, 2 in-flight slots (zset: "model|call" -> lease
--       expiry), 3 successes of the key scope (zset "call#tokens" -> ms),
--       4 fleetq:limits, 5 fleetq:quota:<model>, 6 the model's successes,
--       7 the models seen (zset: model -> last grant ms); for 'reserve',
--       then the hash of each ask's task, in the order of the asks
fq_contract(7, true)
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
local USED_SHARE = 0.75      -- a rate climbs only while this share of it is used
local MODEL_TTL_MS = 7 * 86400000   -- a model unused this long is forgotten

local function num(v, d) return tonumber(v) or d end
local function fmt(x) return string.format('%.0f', x) end
local function fmt3(x) return string.format('%.3f', x) end
local function usd(ticks) return string.format('%.6f', ticks / TICKS) end
local function get(h, f, d) return num(redis.call('HGET', h, f), d) end

-- One HSET of the fields of a table (field -> value), when there are any.
local function hset_table(h, fields)
    local args = {'HSET', h}
    for f, v in pairs(fields) do
        args[#args + 1] = f
        args[#args + 1] = v
    end
    if #args > 2 then redis.call(unpack(args)) end
end

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

-- The most calls the provider let through in one window of the last three
-- (as long as successes are kept), per second: what it demonstrably
-- accepts. A learned rate never goes below it on a 429: that the fleet
-- sent less since then says nothing about the provider's limit.
local function accepted_peak(oks, window)
    local best = 0
    for k = 0, 2 do
        local n = redis.call('ZCOUNT', oks, now - (k + 1) * window, '(' .. fmt(now - k * window))
        if n > best then best = n end
    end
    return best * 1000 / window
end

-- A 429 on its own (none in the window before it) while the fleet got far
-- less through than its rate allows: the fleet was not pressing the
-- limit, so the refusal teaches nothing about the rate (a provider's
-- hiccup, or a limit the fleet does not share). It costs a short freeze
-- and leaves the learned rate alone. Except right after a raise with the
-- fleet past the rate known to draw 429s: the raise (a climb probing for
-- a raised limit) took it where no 429 had been seen, so the 429 is the
-- limit found, however busy the fleet.
local function lone_at_light_load(rq, prefix, previous_429, measured, rate, window)
    if now - previous_429 < window or measured >= FAR_SHARE * rate then return false end
    local raised = now - get(rq, prefix .. 'last_increase_ms', 0) < 2 * window
    return not (raised and measured > get(rq, prefix .. 'known_bad', math.huge))
end

local function short_freeze(rq, retry_after, freeze)
    local hold = math.max(freeze, math.min(retry_after >= 0 and retry_after or freeze, 2 * freeze))
    redis.call('HSET', rq, 'frozen_until_ms', fmt(math.max(get(rq, 'frozen_until_ms', 0), now + hold)))
    redis.call('HINCRBY', rq, 'lone_429s', 1)
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
-- is), growing fast once past it (the limit has risen). Only while the
-- fleet uses the rate (in_use(): what the last window's successes took,
-- in the rate's unit): calls that leave a rate unused say nothing of the
-- provider's limit, and a rate raised unused meets it all at once when
-- the calls come (as TCP keeps an idle window from growing, RFC 7661).
-- Returns the new rate, or nil for no change.
local function climb(rq, prefix, rate, ceiling, window, in_use)
    local last_up = get(rq, prefix .. 'last_increase_ms', 0)
    local last_down = get(rq, prefix .. 'last_decrease_ms', 0)
    if rate >= ceiling or now - last_up < window or now - last_down < 2 * window or
        in_use() < USED_SHARE * rate then
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
-- Grants for the calls of one model a worker asks for in one turn of its
-- loop, in their order: each ask sees what the ones before it took, as if
-- it had come alone at the same moment. The state is read once, kept in
-- locals while the asks are weighed, and written once at the end.
--
-- ARGV: 1 'reserve', 2 model, 3 lease ms, 4 pause probe interval ms,
--       5 breaker cool-down ms, 6 window ms, then RESERVE_ASK values per
--       ask: priority class, call id, token estimate, worst-case cost
--       ticks before reasoning, ticks per output token, the reasoning
--       allowance when none is known yet, the class' burst reserve, its
--       minimum share, the task's lease token.
-- Returns, per ask, {1, 0, 'ok', ticks, day, probe} or {0, wait ms,
-- reason, ticks, day[, pause, pause reason]}.
--
-- Each ask's task hash gets its phase, for `fleetqctl status` and
-- /metrics: `phase` 'calling' once granted (the call starts at once),
-- 'quota' while denied (the worker waits and asks again). It is written
-- only while the task's lease is still the asker's, and only when it
-- changes; finish.lua and reap.lua drop it with the lease, so a phase is
-- never older than the lease it belongs to.
if op == 'reserve' then
    local RESERVE_ASK = 9
    local function mark_phases(out)
        for i, o in ipairs(out) do
            local key, token = KEYS[7 + i], ARGV[6 + i * RESERVE_ASK]
            if key then
                local phase = FQ_TASK_PHASES[o[1] == 1 and 1 or 2]   -- calling, quota
                local v = redis.call('HMGET', key, 'lease', 'phase')
                if v[1] == token and v[2] ~= phase then
                    redis.call('HSET', key, 'phase', phase)
                end
            end
        end
        return out
    end
    local model, lease_ms, probe_ms = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
    local cooldown_ms, window = tonumber(ARGV[5]), tonumber(ARGV[6])
    local out = {}
    local L = read_limits(model)
    if not L then
        for _ = 7, #ARGV, RESERVE_ASK do out[#out + 1] = {0, NOLIMITS_RETRY_MS, 'nolimits', 0, day} end
        return mark_phases(out)
    end
    local rq = state_of(L)
    local qset, rqset = {}, {}     -- fields to write at the end
    local rqdel = {}               -- fields to delete at the end

    local pv = redis.call('HMGET', q, 'paused', 'pause_reason', 'pause_probe_at_ms',
        'reasoning_max:' .. model, 'reasoning_n:' .. model)
    if not pv[1] then
        redis.call('HSET', q, 'paused', '', 'pause_reason', '')
    end
    local paused, pause_reason, probe_at = pv[1] or '', pv[2] or '', num(pv[3], 0)
    local bv = redis.call('HMGET', rq, 'breaker', 'breaker_open_until_ms',
        'breaker_probe_until_ms', 'frozen_until_ms', 'frozen_all_until_ms')
    if not bv[1] then
        redis.call('HSET', rq, 'breaker', 'closed', 'breaker_failures', 0, 'decreases', 0,
            'frozen_until_ms', 0, 'last_429_ms', 0)
    end
    local breaker, open_until, probe_until = bv[1] or 'closed', num(bv[2], 0), num(bv[3], 0)
    local frozen, frozen_all = num(bv[4], 0), num(bv[5], 0)
    local known_allowance = math.ceil(num(pv[4], 0) * 1.25)
    local reasoning_seen = num(pv[5], 0)

    -- concurrency: leased slots, over the key and of this model
    redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
    local inflight_n = redis.call('ZCARD', inflight)
    local model_n = 0
    if L.model_inflight > 0 then
        local prefix = model .. '|'
        for _, m in ipairs(redis.call('ZRANGE', inflight, 0, -1)) do
            if string.sub(m, 1, #prefix) == prefix then model_n = model_n + 1 end
        end
    end

    local cap = L.cap
    local spent, reserved = ledger()
    local budget_touched = false

    -- the rate's state, when the rate is limited
    local rate_on = L.rate_on and L.rpm > 0
    local interval, tat, wstart, grants, waiting = 0, 0, 0, {}, {}
    if rate_on then
        local rate = math.max(MIN_RATE, request_rate(rq, L.rpm, L.adaptive))
        interval = 1000 / rate
        local v = redis.call('HMGET', rq, 'tat_ms', 'share_window_ms', 'grants', 'grants:0',
            'grants:1', 'grants:2', 'grants:3', 'waiting:0', 'waiting:1', 'waiting:2', 'waiting:3')
        tat, wstart = num(v[1], now), num(v[2], 0)
        grants.all = num(v[3], 0)
        for c = 0, 3 do
            grants[c] = num(v[4 + c], 0)
            waiting[c] = num(v[8 + c], 0)
        end
    end
    local rph_on = L.rate_on and L.rph > 0
    local hour, rph_cur, rph_prev = math.floor(sec / 3600), 0, 0
    if rph_on then
        local v = redis.call('HMGET', rq, 'rph_hour', 'rph_cur', 'rph_prev')
        rph_cur, rph_prev = num(v[2], 0), num(v[3], 0)
        if num(v[1], -1) ~= hour then
            rph_prev = (num(v[1], -1) == hour - 1) and rph_cur or 0
            rph_cur = 0
            redis.call('HSET', rq, 'rph_hour', hour, 'rph_cur', 0, 'rph_prev', rph_prev)
        end
    end
    local trate, tlevel, tcapacity, tpm_touched = 0, 0, 0, false
    if L.rate_on then
        local learned
        trate, learned = token_rate(rq, L.tpm, L.adaptive)
        if trate > 0 then tlevel, tcapacity = bucket_level(rq, trate, learned, window) end
    end

    local function wait_for_slot(class)
        waiting[class] = tonumber(fmt(now + 2 * interval + 100))
        rqset['waiting:' .. class] = waiting[class]
    end

    local granted_calls, granted = {}, 0
    local function ask(class, call, est_tokens, base, out_tick, reasoning_default, reserve_frac,
                       min_share)
        local probe = 0
        -- a call whose own tokens are over the model's ceiling per minute
        -- can never be let through: said at once, nothing taken
        if L.rate_on and L.tpm > 0 and est_tokens > L.tpm then
            return {0, 0, 'too_large', L.tpm, day}
        end
        -- paused: one probe call per probe interval
        if paused ~= '' then
            if now < probe_at then
                return {0, math.min(PAUSED_RECHECK_MS, math.ceil(probe_at - now)), 'paused', 0,
                    day, paused, pause_reason}
            end
            probe = 1
        end
        -- breaker: open until its cool-down ends, then one probe at a time
        if breaker ~= 'closed' and probe == 0 then
            if now < open_until then
                return {0, math.ceil(open_until - now), 'breaker', 0, day}
            end
            if breaker == 'half_open' and now < probe_until then
                return {0, math.ceil(cooldown_ms / 2), 'breaker', 0, day}
            end
            probe = 2
        end
        -- one shared freeze after a 429 (the ceo class still goes, paced by
        -- the rate, except while the provider's first window is known full)
        if now < frozen and probe == 0 and (class > 0 or now < frozen_all) then
            return {0, math.ceil(frozen - now), 'frozen', 0, day}
        end
        if L.max_inflight > 0 and inflight_n >= L.max_inflight then
            return {0, INFLIGHT_RETRY_MS, 'inflight', 0, day}
        end
        if L.model_inflight > 0 and model_n >= L.model_inflight then
            return {0, INFLIGHT_RETRY_MS, 'inflight', 0, day}
        end

        -- budget: worst case with this model's reasoning allowance
        local allowance = known_allowance
        if reasoning_seen < 20 and reasoning_default > allowance then allowance = reasoning_default end
        local cost = base + allowance * out_tick
        if cap > 0 then
            if cost > cap then
                return {0, 0, 'over_cap', cost, day}
            end
            if spent + cost > cap then
                budget_touched = true
                return {0, (86400 - sec % 86400) * 1000 - math.floor(usec / 1000), 'budget', cost, day}
            end
            if spent + reserved + cost > cap then
                return {0, HELD_RETRY_MS, 'held', cost, day}
            end
        end

        local new_tat
        if rate_on then
            -- rate, with priority between classes
            local at = math.max(tat, now)
            -- half a slot of slack absorbs callers that wake a little late
            -- (timers, round trips), which would otherwise lose their slot
            local headroom = (L.burst - 1) * interval
            local allowed = interval / 2 + headroom - reserve_frac * headroom
            if at - now > allowed then
                wait_for_slot(class)
                return {0, math.ceil(at - now - allowed), 'rate', cost, day}
            end
            -- a higher class waiting for this slot goes first
            if now - wstart >= window then
                wstart = now
                grants.all = 0
                rqset.share_window_ms, rqset.grants = fmt(now), 0
                for c = 0, 3 do
                    grants[c] = 0
                    rqset['grants:' .. c] = 0
                end
            end
            local mine, all = grants[class], grants.all
            if all == 0 or mine / all >= min_share then
                for h = 0, class - 1 do
                    if waiting[h] > now then
                        wait_for_slot(class)
                        return {0, math.ceil(interval), 'rate', cost, day}
                    end
                end
            end
            new_tat = at + interval
        end
        -- hourly ceiling: current hour plus the rest of the previous one
        if rph_on then
            local frac = (now / 3600000) - hour
            if rph_prev * (1 - frac) + rph_cur + 1 > L.rph then
                local need = rph_prev > 0 and (1 - (L.rph - rph_cur - 1) / rph_prev) or 2
                local wait = need <= 1 and (need - frac) * 3600000 or (1 - frac) * 3600000
                return {0, math.max(1, math.ceil(wait)), 'rph', cost, day}
            end
        end
        -- tokens: a bucket at the effective token rate
        local tokens_left
        if trate > 0 then
            tlevel = math.min(tcapacity, tlevel)
            local need = math.min(est_tokens, tcapacity)
            if tlevel < need then
                tlevel = tonumber(fmt(tlevel))
                tpm_touched = true
                return {0, math.ceil((need - tlevel) * 60000 / trate), 'tpm', cost, day}
            end
            tokens_left = tlevel - est_tokens
        end

        -- granted: take everything at once
        if new_tat then
            tat = tonumber(fmt(new_tat))
            rqset.tat_ms = tat
            grants.all = grants.all + 1
            grants[class] = grants[class] + 1
            rqset.grants = grants.all
            rqset['grants:' .. class] = grants[class]
            waiting[class] = 0
            rqset['waiting:' .. class] = nil
            rqdel['waiting:' .. class] = true
        end
        if tokens_left then
            tlevel = tonumber(fmt(tokens_left))
            tpm_touched = true
        end
        if rph_on then rph_cur = rph_cur + 1 end
        if probe == 1 then
            probe_at = tonumber(fmt(now + probe_ms))
            qset.pause_probe_at_ms = probe_at
        elseif probe == 2 then
            breaker, probe_until = 'half_open', tonumber(fmt(now + lease_ms))
            rqset.breaker, rqset.breaker_probe_until_ms = breaker, probe_until
        end
        granted_calls[#granted_calls + 1] = now + lease_ms
        granted_calls[#granted_calls + 1] = call
        granted = granted + 1
        inflight_n = inflight_n + 1
        model_n = model_n + 1
        reserved = reserved + cost
        budget_touched = true
        return {1, 0, 'ok', cost, day, probe}
    end

    for i = 7, #ARGV, RESERVE_ASK do
        out[#out + 1] = ask(tonumber(ARGV[i]), ARGV[i + 1], tonumber(ARGV[i + 2]),
            tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]),
            tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]))
    end

    -- what the asks changed, written once
    if tpm_touched then
        rqset.tpm_tokens, rqset.tpm_ms = fmt(tlevel), fmt(now)
    end
    if granted > 0 then
        if rph_on then rqset.rph_cur = rph_cur end
        redis.call('ZADD', inflight, unpack(granted_calls))
        -- the models seen, and their states, are forgotten a week after
        -- their last call: model names come from tasks, so they must not
        -- pile up
        redis.call('ZADD', models, now, model)
        redis.call('ZREMRANGEBYSCORE', models, '-inf', now - MODEL_TTL_MS)
        if rq ~= q then redis.call('PEXPIRE', rq, MODEL_TTL_MS) end
        local minute = math.floor(sec / 60)
        for _, h in ipairs(rq == q and {q} or {q, rq}) do
            if get(h, 'window_minute', -1) ~= minute then
                redis.call('HSET', h, 'window_minute', minute, 'window_requests', 0)
            end
            redis.call('HINCRBY', h, 'window_requests', granted)
        end
        qset.inflight, qset.scope = inflight_n, L.scope
        qset.rph_used = rph_on and rph_cur or get(rq, 'rph_cur', 0)
        qset.rate_limiting = L.rate_on and 'on' or 'off'
    end
    if rq == q then
        for f, v in pairs(qset) do rqset[f] = v end
        qset = {}
    end
    hset_table(q, qset)
    hset_table(rq, rqset)
    local dels = {'HDEL', rq}
    for f in pairs(rqdel) do
        if not rqset[f] then dels[#dels + 1] = f end
    end
    if #dels > 2 then redis.call(unpack(dels)) end
    if budget_touched then publish_budget(spent, reserved, cap) end
    return mark_phases(out)
end

-- ================================================================= settle
-- The reports of the calls of one model a worker made in one turn of its
-- loop, in their order. Successes, most reports, are gathered and written
-- together; any other outcome first writes what the successes before it
-- gathered, then steers the state on its own, as if it had come alone.
--
-- ARGV: 1 'settle', 2 model, 3 window ms, 4 freeze ms, 5 breaker
--       threshold, 6 breaker cool-down ms, 7 pause probe interval ms, then
--       SETTLE_REPORT values per report: call id, ticks held, ticks billed,
--       the day they were held on, reasoning tokens (-1: no usage),
--       outcome, the limit a 429 named (requests|tokens), token estimate,
--       tokens used, Retry-After ms (-1: none), the provider's reason.
if op == 'settle' then
    local SETTLE_REPORT = 11
    local model = ARGV[2]
    local window, freeze = tonumber(ARGV[3]), tonumber(ARGV[4])
    local threshold, cooldown, probe_ms = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
    local L = read_limits(model) or NO_LIMITS
    local rq, oks = state_of(L)
    local cap = L == NO_LIMITS and get(q, 'budget_cap_ticks', 0) or L.cap
    local ceiling = L.rate_on and L.rpm / 60 or 0

    -- any outcome but a success, on its own
    local function settle_other(call, held, billed, held_day, reasoning, outcome, kind,
                                est_tokens, used_tokens, retry_after, pause_text)
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
        local previous_429 = outcome == 'rate_limited' and get(rq, 'last_429_ms', 0) or 0
        if outcome == 'rate_limited' and kind == 'tokens' then
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
                -- without a ceiling or a learned rate there is no rate to
                -- press: a lone 429 cannot say the fleet went too fast
                if not in_first_window(oldest, window) and
                    lone_at_light_load(rq, 'tpm_', previous_429, measured, trate > 0 and trate or math.huge,
                        window) then
                    short_freeze(rq, retry_after, freeze)
                else
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
            end
        elseif outcome == 'rate_limited' then
            redis.call('HSET', rq, 'last_429_ms', fmt(now))
            redis.call('HINCRBY', rq, 'rate_limited', 1)
            if L.adaptive and ceiling > 0 and now - get(rq, 'rate_last_decrease_ms', 0) >= window then
                local rate = request_rate(rq, L.rpm, true)
                local span, oldest = measure_span(rq, 'rate_', oks, window)
                local measured = successes(oks, span) * 1000 / span
                local new, bad, hold = step_down(rate, measured, retry_after, freeze)
                local first = in_first_window(oldest, window)
                if not first and lone_at_light_load(rq, 'rate_', previous_429, measured, rate, window) then
                    new = nil
                elseif first then
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
                if new == nil then
                    short_freeze(rq, retry_after, freeze)
                else
                    -- under the rate by far: never below what the provider let
                    -- through lately (at the limit the step down is small anyway,
                    -- and successes counted when they end can overstate a window)
                    if measured < FAR_SHARE * rate then
                        new = math.max(new, math.min(rate, 0.97 * accepted_peak(oks, window)))
                    end
                    new = math.max(MIN_RATE, new)
                    redis.call('HSET', rq, 'rate_known_bad', fmt3(math.max(bad, new)), 'rate_per_s', fmt3(new),
                        'rate_learned', 1, 'rate_last_decrease_ms', fmt(now), 'rate_probe_streak', 0,
                        'frozen_until_ms', fmt(math.max(get(rq, 'frozen_until_ms', 0), now + hold)))
                    redis.call('HINCRBY', rq, 'decreases', 1)
                end
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

    end

    -- the successes gathered so far
    local done, members, deltas = {}, {}, {}
    local reasoning_n, reasoning_max = 0, -1
    local spent, reserved = ledger()
    local function write_successes()
        if #done == 0 then return end
        redis.call('ZREM', inflight, unpack(done))
        redis.call('ZREMRANGEBYSCORE', inflight, '-inf', now)
        redis.call('HSET', q, 'inflight', redis.call('ZCARD', inflight))
        publish_budget(spent, reserved, cap)
        -- the token estimates settled to the real usage: refunded, or the
        -- rest charged (the bucket may go below zero; later calls then
        -- wait it out)
        local trate, tlearned = token_rate(rq, L.rate_on and L.tpm or 0, L.adaptive)
        if trate > 0 and #deltas > 0 then
            local level, capacity = bucket_level(rq, trate, tlearned, window)
            for _, d in ipairs(deltas) do level = tonumber(fmt(math.min(capacity, level + d))) end
            redis.call('HSET', rq, 'tpm_tokens', fmt(level), 'tpm_ms', fmt(now))
        end
        if reasoning_n > 0 then
            redis.call('HINCRBY', q, 'reasoning_n:' .. model, reasoning_n)
            if reasoning_max > get(q, 'reasoning_max:' .. model, 0) then
                redis.call('HSET', q, 'reasoning_max:' .. model, reasoning_max)
            end
        end
        redis.call('ZADD', oks, unpack(members))
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
            -- the request rate climbs back (at most once a window)
            if ceiling > 0 and redis.call('HGET', rq, 'rate_learned') == '1' then
                local new = climb(rq, 'rate_', request_rate(rq, L.rpm, true), ceiling, window, function()
                    return redis.call('ZCOUNT', oks, now - window, '+inf') * 1000 / window
                end)
                if new then redis.call('HSET', rq, 'rate_per_s', fmt3(new)) end
            end
            -- and so does a learned token rate (towards the ceiling, or
            -- for ever upwards without one)
            if tlearned then
                local top = L.tpm > 0 and L.tpm or math.huge
                local new = climb(rq, 'tpm_', trate, top, window, function()
                    local _, tokens = successes(oks, window)
                    return tokens * 60000 / window
                end)
                if new then
                    if new >= L.tpm and L.tpm > 0 then
                        redis.call('HDEL', rq, 'tpm_rate')   -- back at the ceiling
                    else
                        redis.call('HSET', rq, 'tpm_rate', fmt(new))
                    end
                end
            end
        end
        done, members, deltas, reasoning_n, reasoning_max = {}, {}, {}, 0, -1
    end

    for i = 8, #ARGV, SETTLE_REPORT do
        local call, held, billed, held_day = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]),
            tonumber(ARGV[i + 3])
        local reasoning, outcome = tonumber(ARGV[i + 4]), ARGV[i + 5]
        local est_tokens, used_tokens = tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8])
        if outcome == 'ok' then
            done[#done + 1] = call
            if held_day == day then reserved = math.max(0, reserved - held) end
            spent = spent + billed
            if est_tokens ~= used_tokens then deltas[#deltas + 1] = est_tokens - used_tokens end
            if reasoning >= 0 then
                reasoning_n = reasoning_n + 1
                reasoning_max = math.max(reasoning_max, reasoning)
            end
            members[#members + 1] = now
            members[#members + 1] = call .. '#' .. fmt(math.max(0, used_tokens))
        else
            write_successes()
            settle_other(call, held, billed, held_day, reasoning, outcome, ARGV[i + 6], est_tokens,
                used_tokens, tonumber(ARGV[i + 9]), ARGV[i + 10])
            spent, reserved = ledger()
        end
    end
    write_successes()
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
