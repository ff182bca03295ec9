-- GoSight's metadata in standalone mode: the tables of sql/postgres/0001_metadata.sql on SQLite.
--
-- Types: UUIDs are lowercase hyphenated TEXT; timestamps are INTEGER microseconds since the Unix
-- epoch, UTC (PostgreSQL's precision); text arrays and JSON documents are JSON TEXT; booleans
-- are 0 or 1. Every value is written by the application, so no column relies on a default for
-- its id or timestamps. Foreign keys are enforced (the store turns them on per connection).

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    -- argon2id PHC string; never the password itself
    password_hash   TEXT NOT NULL,
    -- 'admin' may manage every project and user; 'user' sees the projects they belong to
    role            TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_login_at   INTEGER
) STRICT;
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE projects (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug            TEXT NOT NULL UNIQUE CHECK (
                        length(slug) BETWEEN 1 AND 63
                        AND slug GLOB '[a-z0-9]*'
                        AND NOT slug GLOB '*[^a-z0-9-]*'),
    -- origins the SDK may send from (a JSON array of strings); empty means any
    allowed_domains TEXT NOT NULL DEFAULT '[]' CHECK (json_type(allowed_domains) = 'array'),
    -- insight thresholds, replay mode and sampling, retention overrides
    settings        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE project_members (
    project_id      TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
) STRICT;
CREATE INDEX project_members_user_idx ON project_members (user_id);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            TEXT NOT NULL DEFAULT '',
    -- the first characters of the key, shown in the dashboard to tell keys apart
    key_prefix      TEXT NOT NULL,
    -- sha256 of the whole key; the key itself is shown once and never stored
    key_hash        BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    permissions     TEXT NOT NULL DEFAULT '["write"]' CHECK (json_type(permissions) = 'array'),
    -- events per second and burst for this key's project
    rate_limit      INTEGER NOT NULL DEFAULT 1000 CHECK (rate_limit > 0),
    rate_burst      INTEGER NOT NULL DEFAULT 5000 CHECK (rate_burst > 0),
    is_active       INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    expires_at      INTEGER,
    created_by      TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    last_used_at    INTEGER
) STRICT;
CREATE INDEX api_keys_project_idx ON api_keys (project_id);

CREATE TABLE refresh_tokens (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- sha256 of the token
    token_hash      BLOB NOT NULL UNIQUE,
    -- tokens rotated from one login share a family; reuse of a rotated token revokes the family
    family_id       TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    replaced_by     TEXT REFERENCES refresh_tokens (id) ON DELETE SET NULL
) STRICT;
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE alert_rules (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- what triggers it, e.g. {"metric": "js_errors", "op": ">", "threshold": 10, "window_s": 300}
    condition       TEXT NOT NULL CHECK (json_valid(condition)),
    -- where it goes, e.g. [{"type": "telegram", "chat_id": "..."}, {"type": "webhook", "url": "..."}]
    channels        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(channels)),
    cooldown_seconds INTEGER NOT NULL DEFAULT 900 CHECK (cooldown_seconds >= 0),
    created_by      TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_triggered_at INTEGER
) STRICT;
CREATE INDEX alert_rules_project_idx ON alert_rules (project_id);

CREATE TABLE alert_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id         TEXT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    project_id      TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    triggered_at    INTEGER NOT NULL,
    value           REAL NOT NULL,
    details         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    -- per channel: {"telegram": "delivered", "webhook": "failed: 502"}
    deliveries      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(deliveries))
) STRICT;
CREATE INDEX alert_history_project_idx ON alert_history (project_id, id DESC);
