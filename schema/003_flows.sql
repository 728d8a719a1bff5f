-- 003_flows.sql -- flows: tasks that wait for others (`after`), and the
-- trees they make.
--
-- Every task belongs to a flow, named by the id of its root: a task with
-- no parents is its own root; a task with parents joins the flow of its
-- first parent. `parents` is the JSON array of the ids the task waited for
-- (NULL for a root); the task_parents view lists them one edge per row.
-- `plan` is, for a ceo task that planned, its plan depth (1: submitted by
-- a user; n + 1: a subtask of a plan of depth n); NULL for other tasks.

ALTER TABLE tasks ADD COLUMN flow_id TEXT;
ALTER TABLE tasks ADD COLUMN parents TEXT;
ALTER TABLE tasks ADD COLUMN plan INTEGER;
UPDATE tasks SET flow_id = id WHERE flow_id IS NULL;
CREATE INDEX tasks_flow ON tasks (flow_id);

-- One row per edge: task_id waited for parent_id.
CREATE VIEW task_parents AS
SELECT t.id AS task_id, p.value AS parent_id
  FROM tasks AS t, json_each(t.parents) AS p
 WHERE t.parents IS NOT NULL;

-- One row per flow, over its ended tasks: 'failed' when one failed,
-- else 'cancelled' when one was cancelled, expired or rejected, else
-- 'done'; the counts by status, tokens, cost, and its first and last times.
CREATE VIEW flows AS
SELECT flow_id,
       CASE WHEN sum(status = 'failed') > 0 THEN 'failed'
            WHEN sum(status <> 'done') > 0 THEN 'cancelled'
            ELSE 'done' END                                         AS status,
       count(*)                                                     AS tasks,
       sum(status = 'done')                                         AS done,
       sum(status = 'failed')                                       AS failed,
       sum(status = 'cancelled')                                    AS cancelled,
       sum(status IN ('expired', 'rejected'))                       AS other,
       sum(prompt_tokens + completion_tokens + reasoning_tokens)    AS tokens,
       sum(cost_ticks) / 1e10                                       AS cost_usd,
       sum(cost_ticks)                                              AS cost_ticks,
       min(submitted_at)                                            AS submitted_at,
       max(finished_at)                                             AS finished_at
  FROM tasks
 GROUP BY flow_id;
