-- 001_init.sql -- the first schema of the fleetq result store.
--
-- The coordinator applies the files in schema/ in name order, each in its
-- own BEGIN IMMEDIATE ... COMMIT, and records the number at the front of
-- the file name in PRAGMA user_version; a file therefore holds no
-- transaction statements of its own and runs exactly once per database.
--
-- tasks holds one row per task in its final state, upserted by id; attempts
-- holds one row per API call, keyed by (task_id, n). Attempts are written
-- while a task is still running, so they carry no foreign key to tasks.
-- Times are ISO-8601 UTC text with milliseconds ("2026-11-23T12:00:00.123Z")
-- and NULL when unknown, so they sort and compare as text. Money is kept
-- twice: cost_ticks is the exact figure (1 USD = 10^10 ticks) and cost_usd
-- the same amount as a REAL for people.

CREATE TABLE tasks (
    id                TEXT NOT NULL PRIMARY KEY,
    role              TEXT,
    priority          INTEGER,
    status            TEXT NOT NULL
                      CHECK (status IN ('done', 'failed', 'rejected', 'expired', 'cancelled')),
    model             TEXT,
    prompt            TEXT,
    output            TEXT,
    error             TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens  INTEGER NOT NULL DEFAULT 0,
    cached_tokens     INTEGER NOT NULL DEFAULT 0,
    cost_usd          REAL NOT NULL DEFAULT 0,
    cost_ticks        INTEGER NOT NULL DEFAULT 0,
    latency_ms        INTEGER,
    submitted_at      TEXT,
    started_at        TEXT,
    finished_at       TEXT,
    worker            TEXT
) STRICT;

CREATE INDEX tasks_status ON tasks (status);
CREATE INDEX tasks_role_finished ON tasks (role, finished_at);
CREATE INDEX tasks_finished ON tasks (finished_at);

CREATE TABLE attempts (
    task_id     TEXT NOT NULL,
    n           INTEGER NOT NULL,
    http_status INTEGER,
    outcome     TEXT NOT NULL,
    error       TEXT,
    latency_ms  INTEGER,
    started_at  TEXT,
    worker      TEXT,
    PRIMARY KEY (task_id, n)
) STRICT;

CREATE INDEX attempts_started ON attempts (started_at);

-- Spend and usage per UTC day (of finishing), role and model, over the
-- tasks that reached the API: requests is the number of attempts, tokens
-- the sum of prompt, completion and reasoning tokens.
CREATE VIEW usage_daily AS
SELECT substr(finished_at, 1, 10)                              AS day,
       role,
       model,
       count(*)                                                AS tasks,
       sum(attempts)                                           AS requests,
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

-- API calls that did not succeed, newest first, with the task's role and
-- model (NULL while the task has no final row yet).
CREATE VIEW errors AS
SELECT a.started_at,
       a.task_id,
       a.n,
       t.role,
       t.model,
       a.http_status,
       a.outcome,
       a.error,
       a.latency_ms,
       a.worker
  FROM attempts AS a
  LEFT JOIN tasks AS t ON t.id = a.task_id
 WHERE a.outcome <> 'ok'
 ORDER BY a.started_at DESC, a.task_id, a.n DESC;
