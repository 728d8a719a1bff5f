-- 004_memory.sql -- the fleet's memory: every task that ended `done`,
-- searchable by its prompt and output (SQLite FTS5), and which earlier
-- results a task was given as context (`recall`).
--
-- tasks_fts indexes the `done` rows of tasks (an external-content table:
-- the text stays in tasks, the triggers keep the index in step with the
-- upserts and the prunes). Query it with MATCH:
--   SELECT t.id, t.output FROM tasks_fts JOIN tasks AS t ON t.rowid = tasks_fts.rowid
--    WHERE tasks_fts MATCH 'parser' ORDER BY rank LIMIT 5;

CREATE VIRTUAL TABLE tasks_fts USING fts5(
    prompt, output,
    role UNINDEXED, model UNINDEXED, flow_id UNINDEXED, finished_at UNINDEXED,
    content = 'tasks', content_rowid = 'rowid'
);

INSERT INTO tasks_fts (rowid, prompt, output, role, model, flow_id, finished_at)
SELECT rowid, prompt, output, role, model, flow_id, finished_at FROM tasks WHERE status = 'done';

CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks WHEN new.status = 'done' BEGIN
    INSERT INTO tasks_fts (rowid, prompt, output, role, model, flow_id, finished_at)
    VALUES (new.rowid, new.prompt, new.output, new.role, new.model, new.flow_id, new.finished_at);
END;

CREATE TRIGGER tasks_fts_update_old AFTER UPDATE ON tasks WHEN old.status = 'done' BEGIN
    INSERT INTO tasks_fts (tasks_fts, rowid, prompt, output, role, model, flow_id, finished_at)
    VALUES ('delete', old.rowid, old.prompt, old.output, old.role, old.model, old.flow_id,
            old.finished_at);
END;

CREATE TRIGGER tasks_fts_update_new AFTER UPDATE ON tasks WHEN new.status = 'done' BEGIN
    INSERT INTO tasks_fts (rowid, prompt, output, role, model, flow_id, finished_at)
    VALUES (new.rowid, new.prompt, new.output, new.role, new.model, new.flow_id, new.finished_at);
END;

CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks WHEN old.status = 'done' BEGIN
    INSERT INTO tasks_fts (tasks_fts, rowid, prompt, output, role, model, flow_id, finished_at)
    VALUES ('delete', old.rowid, old.prompt, old.output, old.role, old.model, old.flow_id,
            old.finished_at);
END;

-- `recalled`: the JSON array of the ids of the earlier results a task was
-- given as context, best match first (NULL when none).
ALTER TABLE tasks ADD COLUMN recalled TEXT;

-- One row per result recalled: task_id was given recalled_id's output.
CREATE VIEW task_recalls AS
SELECT t.id AS task_id, r.value AS recalled_id, r.key + 1 AS rank
  FROM tasks AS t, json_each(t.recalled) AS r
 WHERE t.recalled IS NOT NULL;
