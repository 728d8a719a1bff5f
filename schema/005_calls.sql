-- 005_calls.sql -- what each call was: the model it went to (a task may
-- fall back to another model), how long the first token took, answers
-- taken from the response cache, and what fleetq changed in a request.
--
-- attempts.model is the model the attempt called; attempts.ttft_ms the
-- time to its first token (a stream's first content, else the first byte
-- of the answer; NULL when unknown). An attempt with outcome `cached` made
-- no call: its answer came from the response cache, from the task named
-- in tasks.cached_from. tasks.notes says which of the task's parameters
-- were not sent because its model does not accept them.

ALTER TABLE attempts ADD COLUMN model TEXT;
ALTER TABLE attempts ADD COLUMN ttft_ms INTEGER;
ALTER TABLE tasks ADD COLUMN cached_from TEXT;
ALTER TABLE tasks ADD COLUMN notes TEXT;

-- The error views count calls: an answer from the cache is neither a call
-- nor an error. The model is the attempt's own where it is known.
DROP VIEW errors;
CREATE VIEW errors AS
SELECT a.started_at,
       a.task_id,
       a.n,
       t.role,
       coalesce(a.model, t.model) AS model,
       a.http_status,
       a.outcome,
       a.error,
       a.latency_ms,
       a.worker
  FROM attempts AS a
  LEFT JOIN tasks AS t ON t.id = a.task_id
 WHERE a.outcome NOT IN ('ok', 'cached')
 ORDER BY a.started_at DESC, a.task_id, a.n DESC;

DROP VIEW error_rates_hourly;
CREATE VIEW error_rates_hourly AS
SELECT substr(a.started_at, 1, 13) || ':00Z'                             AS hour,
       coalesce(a.model, t.model, '?')                                  AS model,
       count(*)                                                         AS calls,
       sum(a.outcome <> 'ok')                                           AS errors,
       sum(a.outcome = 'rate_limited')                                  AS rate_limited,
       sum(a.outcome IN ('server_error', 'timeout', 'network', 'malformed')) AS provider_errors,
       round(100.0 * sum(a.outcome <> 'ok') / count(*), 1)              AS error_pct
  FROM attempts AS a
  LEFT JOIN tasks AS t ON t.id = a.task_id
 WHERE a.outcome <> 'cached'
 GROUP BY 1, 2
 ORDER BY 1 DESC, 2;

-- usage_daily's requests are calls: an answer from the cache is not one.
DROP VIEW usage_daily;
CREATE VIEW usage_daily AS
SELECT substr(finished_at, 1, 10)                              AS day,
       role,
       model,
       count(*)                                                AS tasks,
       sum(attempts - (cached_from IS NOT NULL))               AS requests,
       sum(prompt_tokens)                                      AS prompt_tokens,
       sum(completion_tokens)                                  AS completion_tokens,
       sum(reasoning_tokens)                                   AS reasoning_tokens,
       sum(cached_tokens)                                      AS cached_tokens,
       sum(prompt_tokens + completion_tokens + reasoning_tokens) AS tokens,
       sum(cost_ticks) / 1e10                                  AS cost_usd,
       sum(cost_ticks)                                         AS cost_ticks
  FROM tasks
 WHERE status IN ('done', 'failed')
 GROUP BY day, role, model
 ORDER BY day DESC, role, model;
