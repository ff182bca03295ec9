-- Accounts, projects, keys, members and alerting: GoSight's metadata.

CREATE TYPE member_role AS ENUM ('owner', 'admin', 'member', 'viewer');

CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text NOT NULL,
    name            text NOT NULL DEFAULT '',
    -- argon2id PHC string; never the password itself
    password_hash   text NOT NULL,
    -- 'admin' may manage every project and user; 'user' sees the projects they belong to
    role            text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    disabled        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE projects (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug            text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    -- origins the SDK may send from; empty means any
    allowed_domains text[] NOT NULL DEFAULT '{}',
    -- insight thresholds, replay mode and sampling, retention overrides
    settings        jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE project_members (
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            member_role NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user_idx ON project_members (user_id);

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            text NOT NULL DEFAULT '',
    -- the first characters of the key, shown in the dashboard to tell keys apart
    key_prefix      text NOT NULL,
    -- sha256 of the whole key; the key itself is shown once and never stored
    key_hash        bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    permissions     text[] NOT NULL DEFAULT '{write}',
    -- events per second and burst for this key's project
    rate_limit      integer NOT NULL DEFAULT 1000 CHECK (rate_limit > 0),
    rate_burst      integer NOT NULL DEFAULT 5000 CHECK (rate_burst > 0),
    is_active       boolean NOT NULL DEFAULT true,
    expires_at      timestamptz,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    last_used_at    timestamptz
);
CREATE INDEX api_keys_project_idx ON api_keys (project_id);

CREATE TABLE refresh_tokens (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- sha256 of the token
    token_hash      bytea NOT NULL UNIQUE,
    -- tokens rotated from one login share a family; reuse of a rotated token revokes the family
    family_id       uuid NOT NULL,
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    replaced_by     uuid REFERENCES refresh_tokens (id) ON DELETE SET NULL
);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE alert_rules (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    enabled         boolean NOT NULL DEFAULT true,
    -- what triggers it, e.g. {"metric": "js_errors", "op": ">", "threshold": 10, "window_s": 300}
    condition       jsonb NOT NULL,
    -- where it goes, e.g. [{"type": "telegram", "chat_id": "..."}, {"type": "webhook", "url": "..."}]
    channels        jsonb NOT NULL DEFAULT '[]',
    cooldown_seconds integer NOT NULL DEFAULT 900 CHECK (cooldown_seconds >= 0),
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_triggered_at timestamptz
);
CREATE INDEX alert_rules_project_idx ON alert_rules (project_id);

CREATE TABLE alert_history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id         uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    triggered_at    timestamptz NOT NULL DEFAULT now(),
    value           double precision NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}',
    -- per channel: {"telegram": "delivered", "webhook": "failed: 502"}
    deliveries      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_history_project_idx ON alert_history (project_id, triggered_at DESC);
