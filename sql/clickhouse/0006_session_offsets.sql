-- Where in its bus partition a session row was last brought up to date. After a restart or a
-- shard move, the processor reloads the row and skips redelivered events at or before it.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS last_partition Int32 DEFAULT -1;
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS last_offset Int64 DEFAULT -1;
