-- 006_attempt_usage.sql -- what each call used and cost: the tokens the
-- provider counted for it and what it was billed (USD ticks), so that a
-- task's attempts add up to its row and spend can be told by the minute
-- (the dashboard's charts). NULL for attempts stored before this.

ALTER TABLE attempts ADD COLUMN prompt_tokens INTEGER;
ALTER TABLE attempts ADD COLUMN completion_tokens INTEGER;
ALTER TABLE attempts ADD COLUMN cost_ticks INTEGER;
