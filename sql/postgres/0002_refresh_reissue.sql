-- When a rotated refresh token was rotated once more within the reuse leeway (two tabs or a
-- reload refreshing with it at once). It may be only once: a third use is a stolen copy.
ALTER TABLE refresh_tokens ADD COLUMN IF NOT EXISTS reissued_at timestamptz;
