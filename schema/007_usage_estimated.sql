-- 007_usage_estimated.sql -- whether a call's tokens are the provider's
-- count or fleetq's estimate: many OpenAI-compatible servers answer
-- without usage, and fleetq then estimates the prompt from what it sent
-- and the completion from the answer (about 4 bytes a token), prices that,
-- and counts it against the budget and the token quota as it would the
-- real figures. 1 on such an attempt, and on the task whose answer it was.

ALTER TABLE attempts ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
