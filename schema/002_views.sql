-- 002_views.sql -- views for the two other things teams running an LLM
-- fleet watch besides spend (usage_daily): how often calls fail, and how
-- long they take.

-- Calls per UTC hour and model: how many failed, how many were rate
-- limited, how many were the provider's fault (5xx, timeouts, resets,
-- truncated bodies), and the share that failed.
CREATE VIEW error_rates_hourly AS
SELECT substr(a.started_at, 1, 13) || ':00Z'                             AS hour,
       coalesce(t.model, '?')                                           AS model,
       count(*)                                                         AS calls,
       sum(a.outcome <> 'ok')                                           AS errors,
       sum(a.outcome = 'rate_limited')                                  AS rate_limited,
       sum(a.outcome IN ('server_error', 'timeout', 'network', 'malformed')) AS provider_errors,
       round(100.0 * sum(a.outcome <> 'ok') / count(*), 1)              AS error_pct
  FROM attempts AS a
  LEFT JOIN tasks AS t ON t.id = a.task_id
 GROUP BY hour, model
 ORDER BY hour DESC, model;

-- Latency of successful calls per UTC day, role and model: mean, median,
-- 95th percentile (nearest rank) and maximum, in ms.
CREATE VIEW latency_daily AS
WITH ok AS (
    SELECT substr(a.started_at, 1, 10) AS day,
           t.role                      AS role,
           t.model                     AS model,
           a.latency_ms                AS ms,
           row_number() OVER w         AS k,
           count(*) OVER (PARTITION BY substr(a.started_at, 1, 10), t.role, t.model) AS n
      FROM attempts AS a
      JOIN tasks AS t ON t.id = a.task_id
     WHERE a.outcome = 'ok' AND a.latency_ms IS NOT NULL
    WINDOW w AS (PARTITION BY substr(a.started_at, 1, 10), t.role, t.model ORDER BY a.latency_ms)
)
SELECT day, role, model,
       max(n)                                      AS calls,
       CAST(round(avg(ms)) AS INTEGER)             AS avg_ms,
       min(CASE WHEN k * 100 >= n * 50 THEN ms END) AS p50_ms,
       min(CASE WHEN k * 100 >= n * 95 THEN ms END) AS p95_ms,
       max(ms)                                     AS max_ms
  FROM ok
 GROUP BY day, role, model
 ORDER BY day DESC, role, model;
