-- cache.lua -- the fleet's response cache: answers to requests asked
-- before, kept for a while and shared by every worker.
--
-- An answer is named by the SHA-1 of its request: the body the worker
-- builds with stream off, so the name covers the model, the messages, the
-- system prompt, max_tokens, the temperature and every parameter sent. The
-- cache is one hash (request hash -> the answer, a JSON object the worker
-- wrote, whose cost_ticks is what the call cost), an index of the same
-- hashes by expiry ms, and a meta hash: `bytes`, the size of the answers
-- held, and 'p:<hash>' = '<task id>|<until ms>' while one task calls the
-- provider for that request, so that an identical task waits for its
-- answer instead of calling too (for at most until ms; then it calls).
--
-- ARGV[1], the op:
--   get  body task pending_ms   -> {'hit', hash, answer} | {'wait', hash, ms}
--                                  | {'miss', hash}; a miss marks the
--                                  request pending for task
--   put  hash task answer ttl_ms max_bytes -> 'ok' | 'too_large'
--   drop hash task             -> 'ok': task's pending mark is lifted
-- Every op first forgets up to 16 expired answers. After a put, the
-- answers nearest their expiry go until the cache holds at most max_bytes;
-- and the three keys expire ttl_ms after the last put or miss, so an
-- unused cache goes away. Hits, misses and the cost the hits saved are
-- counted in the metrics hash (cache:hits, cache:misses,
-- cache:saved_ticks).
--
-- KEYS: 1 cache, 2 index, 3 meta, 4 metrics
fq_contract(4, false)
local cache, index, meta, metrics = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local op = ARGV[1]
local now = fq_now_ms()
local counts = {}

local function forget(h)
    local len = redis.call('HSTRLEN', cache, h)
    redis.call('HDEL', cache, h)
    redis.call('ZREM', index, h)
    if len > 0 then redis.call('HINCRBY', meta, 'bytes', -len) end
end

local function keep_for(ms)
    for _, key in ipairs({cache, index, meta}) do
        if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
    end
end

local function unmark(h, task)
    local p = redis.call('HGET', meta, 'p:' .. h)
    if p and string.sub(p, 1, #task + 1) == task .. '|' then
        redis.call('HDEL', meta, 'p:' .. h)
    end
end

for _, h in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, 16)) do
    forget(h)
end

local out
if op == 'get' then
    local body, task, pending_ms = ARGV[2], ARGV[3], tonumber(ARGV[4])
    local h = redis.sha1hex(body)
    local expires = tonumber(redis.call('ZSCORE', index, h))
    local answer = expires and expires > now and redis.call('HGET', cache, h)
    if answer then
        local ok, a = pcall(cjson.decode, answer)
        local saved = ok and type(a) == 'table' and tonumber(a['cost_ticks']) or 0
        fq_count(counts, 'cache:hits', 1)
        if saved > 0 then fq_count(counts, 'cache:saved_ticks', math.floor(saved)) end
        out = {'hit', h, answer}
    else
        local p = redis.call('HGET', meta, 'p:' .. h)
        local owner, until_ms
        if p then owner, until_ms = string.match(p, '^(.*)|(%d+)$') end
        until_ms = tonumber(until_ms)
        if owner and owner ~= task and until_ms and until_ms > now then
            out = {'wait', h, until_ms - now}
        else
            redis.call('HSET', meta, 'p:' .. h, task .. '|' .. (now + pending_ms))
            keep_for(pending_ms)
            fq_count(counts, 'cache:misses', 1)
            out = {'miss', h}
        end
    end
elseif op == 'put' then
    local h, task, answer, ttl_ms, max_bytes =
        ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
    unmark(h, task)
    if #answer > max_bytes then
        out = 'too_large'
    else
        local before = redis.call('HSTRLEN', cache, h)
        redis.call('HSET', cache, h, answer)
        redis.call('ZADD', index, now + ttl_ms, h)
        local bytes = redis.call('HINCRBY', meta, 'bytes', #answer - before)
        while bytes > max_bytes do
            local oldest = redis.call('ZRANGE', index, 0, 0)[1]
            if not oldest or oldest == h then break end
            forget(oldest)
            bytes = tonumber(redis.call('HGET', meta, 'bytes')) or 0
        end
        keep_for(ttl_ms)
        out = 'ok'
    end
elseif op == 'drop' then
    unmark(ARGV[2], ARGV[3])
    out = 'ok'
else
    error('cache.lua: unknown op ' .. tostring(op))
end
fq_add_counts(metrics, counts)
return out
