//! [`MetadataStore`] on PostgreSQL, the schema of `sql/postgres/`.
//!
//! Multi-statement operations run in one transaction; those whose checks must hold until they
//! commit (first user, token rotation, membership changes) take row or table locks first.

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::metadata::*;
use crate::error::{Error, Result};

/// [`MetadataStore`] on PostgreSQL.
#[derive(Clone)]
pub struct PostgresMetadata {
    pool: deadpool_postgres::Pool,
}

impl std::fmt::Debug for PostgresMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresMetadata").finish_non_exhaustive()
    }
}

impl PostgresMetadata {
    pub fn new(pool: deadpool_postgres::Pool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &deadpool_postgres::Pool {
        &self.pool
    }
}

const USER: &str =
    "id, email, name, password_hash, role, disabled, created_at, updated_at, last_login_at";
const TOKEN: &str = "id, user_id, family_id, expires_at, created_at, revoked_at, replaced_by";
const PROJECT: &str =
    "p.id, p.name, p.slug, p.allowed_domains, p.settings, p.created_at, p.updated_at";
const KEY: &str = "id, project_id, name, key_prefix, permissions, rate_limit, rate_burst, is_active, \
                   expires_at, created_by, created_at, revoked_at, last_used_at";
const RULE: &str = "id, project_id, name, enabled, condition, channels, cooldown_seconds, \
                    created_by, created_at, updated_at, last_triggered_at";

fn user_at(r: &Row, at: usize) -> User {
    User {
        id: r.get(at),
        email: r.get(at + 1),
        name: r.get(at + 2),
        password_hash: r.get(at + 3),
        role: UserRole::parse(r.get(at + 4)),
        disabled: r.get(at + 5),
        created_at: r.get(at + 6),
        updated_at: r.get(at + 7),
        last_login_at: r.get(at + 8),
    }
}

fn token_of(r: &Row) -> RefreshToken {
    RefreshToken {
        id: r.get(0),
        user_id: r.get(1),
        family_id: r.get(2),
        expires_at: r.get(3),
        created_at: r.get(4),
        revoked_at: r.get(5),
        replaced_by: r.get(6),
    }
}

fn project_of(r: &Row) -> Project {
    Project {
        id: r.get(0),
        name: r.get(1),
        slug: r.get(2),
        allowed_domains: r.get(3),
        settings: r.get(4),
        created_at: r.get(5),
        updated_at: r.get(6),
    }
}

/// A project row followed by a nullable `role::text` column.
fn access_of(r: &Row) -> ProjectAccess {
    ProjectAccess {
        project: project_of(r),
        role: r.get::<_, Option<&str>>(7).and_then(MemberRole::parse),
    }
}

fn key_of(r: &Row) -> ApiKey {
    ApiKey {
        id: r.get(0),
        project_id: r.get(1),
        name: r.get(2),
        prefix: r.get(3),
        permissions: r.get(4),
        rate_limit: r.get(5),
        rate_burst: r.get(6),
        is_active: r.get(7),
        expires_at: r.get(8),
        created_by: r.get(9),
        created_at: r.get(10),
        revoked_at: r.get(11),
        last_used_at: r.get(12),
    }
}

fn rule_of(r: &Row) -> AlertRule {
    AlertRule {
        id: r.get(0),
        project_id: r.get(1),
        name: r.get(2),
        enabled: r.get(3),
        condition: r.get(4),
        channels: r.get(5),
        cooldown_seconds: r.get(6),
        created_by: r.get(7),
        created_at: r.get(8),
        updated_at: r.get(9),
        last_triggered_at: r.get(10),
    }
}

/// A unique violation becomes `Conflict(field)`; anything else stays a storage error.
fn conflict(field: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            Error::Conflict(field)
        } else {
            Error::Postgres(e)
        }
    }
}

async fn insert_key(
    client: &impl deadpool_postgres::GenericClient,
    project: Uuid,
    key: &NewApiKey,
) -> Result<ApiKey> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO api_keys (project_id, name, key_prefix, key_hash, permissions,
                                       rate_limit, rate_burst, expires_at, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {KEY}"
            ),
            &[
                &project,
                &key.name,
                &key.prefix,
                &key.hash.as_slice(),
                &key.permissions,
                &key.rate_limit,
                &key.rate_burst,
                &key.expires_at,
                &key.created_by,
            ],
        )
        .await
        .map_err(conflict("key"))?;
    Ok(key_of(&row))
}

/// Whether a project keeps an owner other than `leaving`.
async fn another_owner(
    tx: &deadpool_postgres::Transaction<'_>,
    project: Uuid,
    leaving: Uuid,
) -> Result<bool> {
    let owners: i64 = tx
        .query_one(
            "SELECT count(*) FROM project_members
             WHERE project_id = $1 AND role = 'owner' AND user_id <> $2",
            &[&project, &leaving],
        )
        .await?
        .get(0);
    Ok(owners > 0)
}

/// Locks the project's membership (until commit) and answers `user`'s current role.
async fn lock_membership(
    tx: &deadpool_postgres::Transaction<'_>,
    project: Uuid,
    user: Uuid,
) -> Result<Option<MemberRole>> {
    // Serialises membership changes per project, so the last-owner check holds at commit.
    // NO KEY UPDATE leaves foreign-key checks (inserting keys, rules) unblocked.
    tx.execute(
        "SELECT 1 FROM projects WHERE id = $1 FOR NO KEY UPDATE",
        &[&project],
    )
    .await?;
    let row = tx
        .query_opt(
            "SELECT role::text FROM project_members WHERE project_id = $1 AND user_id = $2",
            &[&project, &user],
        )
        .await?;
    Ok(row.and_then(|r| MemberRole::parse(r.get(0))))
}

#[async_trait]
impl MetadataStore for PostgresMetadata {
    async fn create_user(&self, user: NewUser) -> Result<User> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!(
                    "INSERT INTO users (email, name, password_hash, role) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING RETURNING {USER}"
                ),
                &[
                    &user.email,
                    &user.name,
                    &user.password_hash,
                    &user.role.as_str(),
                ],
            )
            .await?;
        row.map(|r| user_at(&r, 0)).ok_or(Error::Conflict("email"))
    }

    async fn create_first_user(&self, user: NewUser) -> Result<Option<User>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // Serialises concurrent set-ups so only one first user comes out of it.
        tx.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE", &[])
            .await?;
        let users: i64 = tx
            .query_one("SELECT count(*) FROM users", &[])
            .await?
            .get(0);
        if users > 0 {
            return Ok(None);
        }
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO users (email, name, password_hash, role) VALUES ($1, $2, $3, $4)
                     RETURNING {USER}"
                ),
                &[
                    &user.email,
                    &user.name,
                    &user.password_hash,
                    &user.role.as_str(),
                ],
            )
            .await
            .map_err(conflict("email"))?;
        tx.commit().await?;
        Ok(Some(user_at(&row, 0)))
    }

    async fn count_users(&self) -> Result<u64> {
        let client = self.pool.get().await?;
        let users: i64 = client
            .query_one("SELECT count(*) FROM users", &[])
            .await?
            .get(0);
        Ok(users.max(0) as u64)
    }

    async fn find_user(&self, id: Uuid) -> Result<Option<User>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(&format!("SELECT {USER} FROM users WHERE id = $1"), &[&id])
            .await?;
        Ok(row.map(|r| user_at(&r, 0)))
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!("SELECT {USER} FROM users WHERE lower(email) = lower($1)"),
                &[&email],
            )
            .await?;
        Ok(row.map(|r| user_at(&r, 0)))
    }

    async fn record_login(&self, user: Uuid) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE users SET last_login_at = now() WHERE id = $1",
                &[&user],
            )
            .await?;
        Ok(())
    }

    async fn issue_refresh_token(
        &self,
        user: Uuid,
        family: Uuid,
        token: NewRefreshToken,
    ) -> Result<RefreshToken> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO refresh_tokens (user_id, token_hash, family_id, expires_at)
                     VALUES ($1, $2, $3, $4) RETURNING {TOKEN}"
                ),
                &[
                    &user,
                    &token.token_hash.as_slice(),
                    &family,
                    &token.expires_at,
                ],
            )
            .await
            .map_err(conflict("token"))?;
        Ok(token_of(&row))
    }

    async fn find_refresh_token(&self, hash: &[u8; 32]) -> Result<Option<RefreshToken>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!("SELECT {TOKEN} FROM refresh_tokens WHERE token_hash = $1"),
                &[&hash.as_slice()],
            )
            .await?;
        Ok(row.as_ref().map(token_of))
    }

    async fn rotate_refresh_token(
        &self,
        presented: &[u8; 32],
        replacement: NewRefreshToken,
        reuse_leeway: std::time::Duration,
    ) -> Result<Rotation> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // The row lock makes a concurrent rotation of the same token wait, then see it revoked.
        let row = tx
            .query_opt(
                "SELECT t.id, t.family_id, t.revoked_at IS NOT NULL, t.expires_at < now(),
                        u.id, u.email, u.name, u.password_hash, u.role, u.disabled,
                        u.created_at, u.updated_at, u.last_login_at,
                        t.replaced_by IS NOT NULL AND t.reissued_at IS NULL
                          AND t.revoked_at > now() - make_interval(secs => $2)
                          AND EXISTS (SELECT 1 FROM refresh_tokens f
                                      WHERE f.family_id = t.family_id AND f.revoked_at IS NULL)
                 FROM refresh_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = $1 FOR UPDATE OF t",
                &[&presented.as_slice(), &reuse_leeway.as_secs_f64()],
            )
            .await?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        let (old, family): (Uuid, Uuid) = (row.get(0), row.get(1));
        let within_leeway: bool = row.get(13);
        if row.get::<_, bool>(2) && !within_leeway {
            tx.execute(
                "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now())
                 WHERE family_id = $1",
                &[&family],
            )
            .await?;
            tx.commit().await?;
            return Ok(Rotation::Reused { family_id: family });
        }
        let user = user_at(&row, 4);
        if row.get::<_, bool>(3) || user.disabled {
            return Ok(Rotation::Expired);
        }
        let new = tx
            .query_one(
                &format!(
                    "INSERT INTO refresh_tokens (user_id, token_hash, family_id, expires_at)
                     VALUES ($1, $2, $3, $4) RETURNING {TOKEN}"
                ),
                &[
                    &user.id,
                    &replacement.token_hash.as_slice(),
                    &family,
                    &replacement.expires_at,
                ],
            )
            .await
            .map_err(conflict("token"))?;
        let token = token_of(&new);
        // A token rotated again within the leeway keeps its first replacement and time, and
        // records that it was: it may be only once.
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()),
                                       replaced_by = coalesce(replaced_by, $2),
                                       reissued_at = CASE WHEN revoked_at IS NULL THEN NULL
                                                          ELSE now() END
             WHERE id = $1",
            &[&old, &token.id],
        )
        .await?;
        tx.commit().await?;
        Ok(Rotation::Rotated {
            user: Box::new(user),
            token,
        })
    }

    async fn revoke_refresh_family(&self, hash: &[u8; 32]) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now())
                 WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
                &[&hash.as_slice()],
            )
            .await?;
        Ok(())
    }

    async fn create_project(
        &self,
        project: NewProject,
        key: NewApiKey,
    ) -> Result<(Project, ApiKey)> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO projects AS p (name, slug) VALUES ($1, $2) RETURNING {PROJECT}"
                ),
                &[&project.name, &project.slug],
            )
            .await
            .map_err(conflict("slug"))?;
        let created = project_of(&row);
        tx.execute(
            "INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, 'owner')",
            &[&created.id, &project.owner],
        )
        .await?;
        let key = insert_key(&tx, created.id, &key).await?;
        tx.commit().await?;
        Ok((created, key))
    }

    async fn find_project(&self, id: Uuid) -> Result<Option<Project>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!("SELECT {PROJECT} FROM projects p WHERE p.id = $1"),
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(project_of))
    }

    async fn project_access(&self, project: Uuid, user: Uuid) -> Result<Option<ProjectAccess>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {PROJECT}, m.role::text FROM projects p
                     LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = $2
                     WHERE p.id = $1"
                ),
                &[&project, &user],
            )
            .await?;
        Ok(row.as_ref().map(access_of))
    }

    async fn list_projects(&self, user: Uuid, scope: ProjectScope) -> Result<Vec<ProjectAccess>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {PROJECT}, m.role::text FROM projects p
                     LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = $1
                     WHERE m.user_id IS NOT NULL OR $2
                     ORDER BY p.name, p.id"
                ),
                &[&user, &(scope == ProjectScope::All)],
            )
            .await?;
        Ok(rows.iter().map(access_of).collect())
    }

    async fn slugs_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT slug FROM projects WHERE starts_with(slug, $1) ORDER BY slug",
                &[&prefix],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn update_project(&self, id: Uuid, update: ProjectUpdate) -> Result<Option<Project>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE projects p SET name = coalesce($2, name),
                            allowed_domains = coalesce($3, allowed_domains),
                            settings = coalesce($4, settings), updated_at = now()
                     WHERE id = $1 RETURNING {PROJECT}"
                ),
                &[&id, &update.name, &update.allowed_domains, &update.settings],
            )
            .await?;
        Ok(row.as_ref().map(project_of))
    }

    async fn delete_project(&self, id: Uuid) -> Result<bool> {
        let client = self.pool.get().await?;
        let deleted = client
            .execute("DELETE FROM projects WHERE id = $1", &[&id])
            .await?;
        Ok(deleted > 0)
    }

    async fn create_api_key(&self, project: Uuid, key: NewApiKey) -> Result<ApiKey> {
        let client = self.pool.get().await?;
        insert_key(&client, project, &key).await
    }

    async fn find_api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT k.id, k.project_id, k.permissions, k.rate_limit, k.rate_burst,
                        k.is_active AND k.revoked_at IS NULL, k.expires_at, p.allowed_domains
                 FROM api_keys k JOIN projects p ON p.id = k.project_id
                 WHERE k.key_hash = $1",
                &[&hash.as_slice()],
            )
            .await?;
        Ok(row.map(|r| ApiKeyRecord {
            key_id: r.get(0),
            project_id: r.get(1),
            permissions: r.get(2),
            rate_limit: r.get::<_, i32>(3).max(1) as u32,
            rate_burst: r.get::<_, i32>(4).max(1) as u32,
            is_active: r.get(5),
            expires_at: r.get(6),
            allowed_domains: r.get(7),
        }))
    }

    async fn list_api_keys(&self, project: Uuid) -> Result<Vec<ApiKey>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {KEY} FROM api_keys WHERE project_id = $1 ORDER BY created_at, id"
                ),
                &[&project],
            )
            .await?;
        Ok(rows.iter().map(key_of).collect())
    }

    async fn revoke_api_key(&self, project: Uuid, key: Uuid) -> Result<bool> {
        let client = self.pool.get().await?;
        let changed = client
            .execute(
                "UPDATE api_keys SET is_active = false, revoked_at = coalesce(revoked_at, now())
                 WHERE id = $1 AND project_id = $2",
                &[&key, &project],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn list_members(&self, project: Uuid) -> Result<Vec<Member>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT u.id, u.email, u.name, m.role::text, m.created_at FROM project_members m
                 JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 ORDER BY u.email, u.id",
                &[&project],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Member {
                user_id: r.get(0),
                email: r.get(1),
                name: r.get(2),
                role: MemberRole::parse(r.get(3)).unwrap_or(MemberRole::Viewer),
                created_at: r.get(4),
            })
            .collect())
    }

    async fn set_member_role(
        &self,
        project: Uuid,
        user: Uuid,
        role: MemberRole,
        by_owner: bool,
    ) -> Result<MemberChange> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let current = lock_membership(&tx, project, user).await?;
        let was_owner = current == Some(MemberRole::Owner);
        if (role == MemberRole::Owner || was_owner) && !by_owner {
            return Ok(MemberChange::OwnerRequired);
        }
        if was_owner && role != MemberRole::Owner && !another_owner(&tx, project, user).await? {
            return Ok(MemberChange::LastOwner);
        }
        tx.execute(
            "INSERT INTO project_members (project_id, user_id, role)
             VALUES ($1, $2, $3::text::member_role)
             ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role",
            &[&project, &user, &role.as_str()],
        )
        .await?;
        tx.commit().await?;
        Ok(MemberChange::Applied)
    }

    async fn remove_member(
        &self,
        project: Uuid,
        user: Uuid,
        by_owner: bool,
    ) -> Result<MemberChange> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(current) = lock_membership(&tx, project, user).await? else {
            return Ok(MemberChange::NotMember);
        };
        if current == MemberRole::Owner {
            if !by_owner {
                return Ok(MemberChange::OwnerRequired);
            }
            if !another_owner(&tx, project, user).await? {
                return Ok(MemberChange::LastOwner);
            }
        }
        tx.execute(
            "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2",
            &[&project, &user],
        )
        .await?;
        tx.commit().await?;
        Ok(MemberChange::Applied)
    }

    async fn create_alert_rule(
        &self,
        project: Uuid,
        rule: AlertRuleInput,
        created_by: Option<Uuid>,
    ) -> Result<AlertRule> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO alert_rules (project_id, name, enabled, condition, channels,
                                              cooldown_seconds, created_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {RULE}"
                ),
                &[
                    &project,
                    &rule.name,
                    &rule.enabled,
                    &rule.condition,
                    &rule.channels,
                    &rule.cooldown_seconds,
                    &created_by,
                ],
            )
            .await?;
        Ok(rule_of(&row))
    }

    async fn find_alert_rule(&self, project: Uuid, rule: Uuid) -> Result<Option<AlertRule>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!("SELECT {RULE} FROM alert_rules WHERE id = $1 AND project_id = $2"),
                &[&rule, &project],
            )
            .await?;
        Ok(row.as_ref().map(rule_of))
    }

    async fn list_alert_rules(&self, project: Uuid) -> Result<Vec<AlertRule>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!("SELECT {RULE} FROM alert_rules WHERE project_id = $1 ORDER BY name, id"),
                &[&project],
            )
            .await?;
        Ok(rows.iter().map(rule_of).collect())
    }

    async fn update_alert_rule(
        &self,
        project: Uuid,
        rule: Uuid,
        input: AlertRuleInput,
    ) -> Result<Option<AlertRule>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE alert_rules SET name = $3, enabled = $4, condition = $5,
                            channels = $6, cooldown_seconds = $7, updated_at = now()
                     WHERE id = $1 AND project_id = $2 RETURNING {RULE}"
                ),
                &[
                    &rule,
                    &project,
                    &input.name,
                    &input.enabled,
                    &input.condition,
                    &input.channels,
                    &input.cooldown_seconds,
                ],
            )
            .await?;
        Ok(row.as_ref().map(rule_of))
    }

    async fn delete_alert_rule(&self, project: Uuid, rule: Uuid) -> Result<bool> {
        let client = self.pool.get().await?;
        let deleted = client
            .execute(
                "DELETE FROM alert_rules WHERE id = $1 AND project_id = $2",
                &[&rule, &project],
            )
            .await?;
        Ok(deleted > 0)
    }

    async fn record_alert(&self, alert: NewAlert) -> Result<i64> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO alert_history (rule_id, project_id, triggered_at, value, details,
                                            deliveries)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    &alert.rule_id,
                    &alert.project_id,
                    &alert.triggered_at,
                    &alert.value,
                    &alert.details,
                    &alert.deliveries,
                ],
            )
            .await?
            .get(0);
        tx.execute(
            "UPDATE alert_rules SET last_triggered_at = $2 WHERE id = $1",
            &[&alert.rule_id, &alert.triggered_at],
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn alert_history(
        &self,
        project: Uuid,
        query: HistoryQuery,
    ) -> Result<Vec<AlertHistoryEntry>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT h.id, h.rule_id, r.name, h.project_id, h.triggered_at, h.value,
                        h.details, h.deliveries
                 FROM alert_history h JOIN alert_rules r ON r.id = h.rule_id
                 WHERE h.project_id = $1 AND ($2::uuid IS NULL OR h.rule_id = $2)
                   AND ($3::bigint IS NULL OR h.id < $3)
                 ORDER BY h.id DESC LIMIT $4",
                &[
                    &project,
                    &query.rule,
                    &query.before,
                    &i64::from(query.limit),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AlertHistoryEntry {
                id: r.get(0),
                rule_id: r.get(1),
                rule_name: r.get(2),
                project_id: r.get(3),
                triggered_at: r.get::<_, OffsetDateTime>(4),
                value: r.get(5),
                details: r.get(6),
                deliveries: r.get(7),
            })
            .collect())
    }
}
