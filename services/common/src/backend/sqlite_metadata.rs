//! [`MetadataStore`] on one embedded SQLite file, for standalone mode.
//!
//! The schema is `sql/sqlite/metadata/`, applied on [`SqliteMetadata::open`] by the migration
//! runner (each file once). The file is in WAL mode with foreign keys on, so readers never wait
//! for the writer and deleting a project cascades as on PostgreSQL.
//!
//! Connections are [`SqliteDb`]'s, as for the embedded analytics store: one writer, so writes
//! are serialised in the process, and each multi-statement write is one `BEGIN IMMEDIATE`
//! transaction, which is what makes the first-user, token-rotation and last-owner checks atomic
//! (also against another process on the same file, which waits up to
//! [`super::sqlite_db::BUSY_TIMEOUT`]); reads on the read-only pool.

mod codec;
mod rows;

use std::path::Path;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use self::codec::{Id, Json, Micros, opt_id, opt_micros};
use self::rows::{KEY, PROJECT, PROJECT_P, RULE, TOKEN, USER};
use super::metadata::*;
use super::sqlite_db::{Durability, SqliteDb};
use crate::error::{Error, Result};

/// [`MetadataStore`] on an embedded SQLite file; cheap to clone.
#[derive(Clone)]
pub struct SqliteMetadata {
    db: SqliteDb,
}

impl std::fmt::Debug for SqliteMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteMetadata")
            .field("path", &self.db.path())
            .finish_non_exhaustive()
    }
}

/// A unique violation becomes `Conflict(field)`; anything else stays a storage error.
fn conflict(field: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    move |e| match &e {
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ) =>
        {
            Error::Conflict(field)
        }
        _ => Error::Sqlite(e),
    }
}

impl SqliteMetadata {
    /// Opens (creating it and its directory if needed) the file at `path`, e.g.
    /// `DIR/metadata.db`, and applies the migrations it does not have yet.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        // Metadata changes are few and matter: each commit is synced to the disk.
        let db = SqliteDb::open(path.as_ref(), Durability::Machine, "sqlite/metadata").await?;
        Ok(Self { db })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.db.read(f).await
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.db.write(f).await
    }
}

fn insert_user(c: &Connection, user: &NewUser) -> Result<User> {
    let now = Micros(Micros::now());
    c.query_row(
        &format!(
            "INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING {USER}"
        ),
        params![
            Id(Uuid::new_v4()),
            user.email,
            user.name,
            user.password_hash,
            user.role.as_str(),
            now
        ],
        rows::user,
    )
    .map_err(conflict("email"))
}

fn insert_token(
    c: &Connection,
    user: Uuid,
    family: Uuid,
    token: &NewRefreshToken,
) -> Result<RefreshToken> {
    c.query_row(
        &format!(
            "INSERT INTO refresh_tokens (id, user_id, token_hash, family_id, expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {TOKEN}"
        ),
        params![
            Id(Uuid::new_v4()),
            Id(user),
            token.token_hash.as_slice(),
            Id(family),
            Micros(token.expires_at),
            Micros(Micros::now())
        ],
        rows::token,
    )
    .map_err(conflict("token"))
}

fn insert_key(c: &Connection, project: Uuid, key: &NewApiKey) -> Result<ApiKey> {
    c.query_row(
        &format!(
            "INSERT INTO api_keys (id, project_id, name, key_prefix, key_hash, permissions,
                                   rate_limit, rate_burst, expires_at, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING {KEY}"
        ),
        params![
            Id(Uuid::new_v4()),
            Id(project),
            key.name,
            key.prefix,
            key.hash.as_slice(),
            Json(&key.permissions),
            key.rate_limit,
            key.rate_burst,
            opt_micros(key.expires_at),
            opt_id(key.created_by),
            Micros(Micros::now())
        ],
        rows::key,
    )
    .map_err(conflict("key"))
}

fn member_role(c: &Connection, project: Uuid, user: Uuid) -> Result<Option<MemberRole>> {
    let role: Option<String> = c
        .query_row(
            "SELECT role FROM project_members WHERE project_id = ?1 AND user_id = ?2",
            params![Id(project), Id(user)],
            |r| r.get(0),
        )
        .optional()?;
    Ok(role.as_deref().and_then(MemberRole::parse))
}

fn another_owner(c: &Connection, project: Uuid, leaving: Uuid) -> Result<bool> {
    let owners: i64 = c.query_row(
        "SELECT count(*) FROM project_members
         WHERE project_id = ?1 AND role = 'owner' AND user_id <> ?2",
        params![Id(project), Id(leaving)],
        |r| r.get(0),
    )?;
    Ok(owners > 0)
}

fn revoke_family(c: &Connection, family: Uuid) -> Result<()> {
    c.execute(
        "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE family_id = ?1",
        params![Id(family), Micros(Micros::now())],
    )?;
    Ok(())
}

#[async_trait]
impl MetadataStore for SqliteMetadata {
    async fn create_user(&self, user: NewUser) -> Result<User> {
        self.write(move |c| insert_user(c, &user)).await
    }

    async fn create_first_user(&self, user: NewUser) -> Result<Option<User>> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let users: i64 = tx.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
            if users > 0 {
                return Ok(None);
            }
            let created = insert_user(&tx, &user)?;
            tx.commit()?;
            Ok(Some(created))
        })
        .await
    }

    async fn count_users(&self) -> Result<u64> {
        self.read(|c| {
            let users: i64 = c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
            Ok(users.max(0) as u64)
        })
        .await
    }

    async fn find_user(&self, id: Uuid) -> Result<Option<User>> {
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {USER} FROM users WHERE id = ?1"),
                [Id(id)],
                rows::user,
            )
            .optional()?)
        })
        .await
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = email.to_string();
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {USER} FROM users WHERE lower(email) = lower(?1)"),
                [email],
                rows::user,
            )
            .optional()?)
        })
        .await
    }

    async fn record_login(&self, user: Uuid) -> Result<()> {
        self.write(move |c| {
            c.execute(
                "UPDATE users SET last_login_at = ?2 WHERE id = ?1",
                params![Id(user), Micros(Micros::now())],
            )?;
            Ok(())
        })
        .await
    }

    async fn issue_refresh_token(
        &self,
        user: Uuid,
        family: Uuid,
        token: NewRefreshToken,
    ) -> Result<RefreshToken> {
        self.write(move |c| insert_token(c, user, family, &token))
            .await
    }

    async fn find_refresh_token(&self, hash: &[u8; 32]) -> Result<Option<RefreshToken>> {
        let hash = *hash;
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {TOKEN} FROM refresh_tokens WHERE token_hash = ?1"),
                [hash.as_slice()],
                rows::token,
            )
            .optional()?)
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &[u8; 32],
        replacement: NewRefreshToken,
        reuse_leeway: std::time::Duration,
    ) -> Result<Rotation> {
        let presented = *presented;
        let leeway_micros = i64::try_from(reuse_leeway.as_micros()).unwrap_or(i64::MAX);
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = Micros::now();
            let found = tx
                .query_row(
                    "SELECT t.id, t.family_id, t.revoked_at IS NOT NULL, t.expires_at < ?2,
                            u.id, u.email, u.name, u.password_hash, u.role, u.disabled,
                            u.created_at, u.updated_at, u.last_login_at,
                            t.replaced_by IS NOT NULL AND t.reissued_at IS NULL
                              AND t.revoked_at > ?2 - ?3
                              AND EXISTS (SELECT 1 FROM refresh_tokens f
                                          WHERE f.family_id = t.family_id
                                            AND f.revoked_at IS NULL)
                     FROM refresh_tokens t JOIN users u ON u.id = t.user_id
                     WHERE t.token_hash = ?1",
                    params![presented.as_slice(), Micros(now), leeway_micros],
                    |r| {
                        Ok((
                            r.get::<_, Id>(0)?.0,
                            r.get::<_, Id>(1)?.0,
                            r.get::<_, bool>(2)?,
                            r.get::<_, bool>(3)?,
                            rows::user_at(r, 4)?,
                            r.get::<_, bool>(13)?,
                        ))
                    },
                )
                .optional()?;
            let Some((old, family, revoked, expired, user, within_leeway)) = found else {
                return Ok(Rotation::Unknown);
            };
            if revoked && !within_leeway {
                revoke_family(&tx, family)?;
                tx.commit()?;
                return Ok(Rotation::Reused { family_id: family });
            }
            if expired || user.disabled {
                return Ok(Rotation::Expired);
            }
            let token = insert_token(&tx, user.id, family, &replacement)?;
            // A token rotated again within the leeway keeps its first replacement and time, and
            // records that it was: it may be only once.
            tx.execute(
                "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, ?2),
                                           replaced_by = coalesce(replaced_by, ?3),
                                           reissued_at = CASE WHEN revoked_at IS NULL THEN NULL
                                                              ELSE ?2 END
                 WHERE id = ?1",
                params![Id(old), Micros(now), Id(token.id)],
            )?;
            tx.commit()?;
            Ok(Rotation::Rotated {
                user: Box::new(user),
                token,
            })
        })
        .await
    }

    async fn revoke_refresh_family(&self, hash: &[u8; 32]) -> Result<()> {
        let hash = *hash;
        self.write(move |c| {
            c.execute(
                "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, ?2)
                 WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?1)",
                params![hash.as_slice(), Micros(Micros::now())],
            )?;
            Ok(())
        })
        .await
    }

    async fn create_project(
        &self,
        project: NewProject,
        key: NewApiKey,
    ) -> Result<(Project, ApiKey)> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = Micros(Micros::now());
            let created = tx
                .query_row(
                    &format!(
                        "INSERT INTO projects (id, name, slug, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?4) RETURNING {PROJECT}"
                    ),
                    params![Id(Uuid::new_v4()), project.name, project.slug, now],
                    rows::project,
                )
                .map_err(conflict("slug"))?;
            tx.execute(
                "INSERT INTO project_members (project_id, user_id, role, created_at)
                 VALUES (?1, ?2, 'owner', ?3)",
                params![Id(created.id), Id(project.owner), now],
            )?;
            let key = insert_key(&tx, created.id, &key)?;
            tx.commit()?;
            Ok((created, key))
        })
        .await
    }

    async fn find_project(&self, id: Uuid) -> Result<Option<Project>> {
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {PROJECT} FROM projects WHERE id = ?1"),
                [Id(id)],
                rows::project,
            )
            .optional()?)
        })
        .await
    }

    async fn project_access(&self, project: Uuid, user: Uuid) -> Result<Option<ProjectAccess>> {
        self.read(move |c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {PROJECT_P}, m.role FROM projects p
                     LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = ?2
                     WHERE p.id = ?1"
                ),
                [Id(project), Id(user)],
                rows::access,
            )
            .optional()?)
        })
        .await
    }

    async fn list_projects(&self, user: Uuid, scope: ProjectScope) -> Result<Vec<ProjectAccess>> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT {PROJECT_P}, m.role FROM projects p
                 LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = ?1
                 WHERE m.user_id IS NOT NULL OR ?2
                 ORDER BY p.name, p.id"
            ))?;
            let rows =
                statement.query_map(params![Id(user), scope == ProjectScope::All], rows::access)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn slugs_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = prefix.to_string();
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT slug FROM projects WHERE substr(slug, 1, length(?1)) = ?1 ORDER BY slug",
            )?;
            let rows = statement.query_map([prefix], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn update_project(&self, id: Uuid, update: ProjectUpdate) -> Result<Option<Project>> {
        self.write(move |c| {
            Ok(c.query_row(
                &format!(
                    "UPDATE projects SET name = coalesce(?2, name),
                            allowed_domains = coalesce(?3, allowed_domains),
                            settings = coalesce(?4, settings), updated_at = ?5
                     WHERE id = ?1 RETURNING {PROJECT}"
                ),
                params![
                    Id(id),
                    update.name,
                    update.allowed_domains.map(Json),
                    update.settings.map(Json),
                    Micros(Micros::now())
                ],
                rows::project,
            )
            .optional()?)
        })
        .await
    }

    async fn delete_project(&self, id: Uuid) -> Result<bool> {
        self.write(move |c| Ok(c.execute("DELETE FROM projects WHERE id = ?1", [Id(id)])? > 0))
            .await
    }

    async fn create_api_key(&self, project: Uuid, key: NewApiKey) -> Result<ApiKey> {
        self.write(move |c| insert_key(c, project, &key)).await
    }

    async fn find_api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>> {
        let hash = *hash;
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT k.id, k.project_id, k.permissions, k.rate_limit, k.rate_burst,
                        k.is_active AND k.revoked_at IS NULL, k.expires_at, p.allowed_domains
                 FROM api_keys k JOIN projects p ON p.id = k.project_id
                 WHERE k.key_hash = ?1",
                [hash.as_slice()],
                rows::key_record,
            )
            .optional()?)
        })
        .await
    }

    async fn list_api_keys(&self, project: Uuid) -> Result<Vec<ApiKey>> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT {KEY} FROM api_keys WHERE project_id = ?1 ORDER BY created_at, id"
            ))?;
            let rows = statement.query_map([Id(project)], rows::key)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn revoke_api_key(&self, project: Uuid, key: Uuid) -> Result<bool> {
        self.write(move |c| {
            let changed = c.execute(
                "UPDATE api_keys SET is_active = 0, revoked_at = coalesce(revoked_at, ?3)
                 WHERE id = ?1 AND project_id = ?2",
                params![Id(key), Id(project), Micros(Micros::now())],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn list_members(&self, project: Uuid) -> Result<Vec<Member>> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT u.id, u.email, u.name, m.role, m.created_at FROM project_members m
                 JOIN users u ON u.id = m.user_id WHERE m.project_id = ?1 ORDER BY u.email, u.id",
            )?;
            let rows = statement.query_map([Id(project)], rows::member)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn set_member_role(
        &self,
        project: Uuid,
        user: Uuid,
        role: MemberRole,
        by_owner: bool,
    ) -> Result<MemberChange> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let was_owner = member_role(&tx, project, user)? == Some(MemberRole::Owner);
            if (role == MemberRole::Owner || was_owner) && !by_owner {
                return Ok(MemberChange::OwnerRequired);
            }
            if was_owner && role != MemberRole::Owner && !another_owner(&tx, project, user)? {
                return Ok(MemberChange::LastOwner);
            }
            tx.execute(
                "INSERT INTO project_members (project_id, user_id, role, created_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
                params![Id(project), Id(user), role.as_str(), Micros(Micros::now())],
            )?;
            tx.commit()?;
            Ok(MemberChange::Applied)
        })
        .await
    }

    async fn remove_member(
        &self,
        project: Uuid,
        user: Uuid,
        by_owner: bool,
    ) -> Result<MemberChange> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some(current) = member_role(&tx, project, user)? else {
                return Ok(MemberChange::NotMember);
            };
            if current == MemberRole::Owner {
                if !by_owner {
                    return Ok(MemberChange::OwnerRequired);
                }
                if !another_owner(&tx, project, user)? {
                    return Ok(MemberChange::LastOwner);
                }
            }
            tx.execute(
                "DELETE FROM project_members WHERE project_id = ?1 AND user_id = ?2",
                params![Id(project), Id(user)],
            )?;
            tx.commit()?;
            Ok(MemberChange::Applied)
        })
        .await
    }

    async fn create_alert_rule(
        &self,
        project: Uuid,
        rule: AlertRuleInput,
        created_by: Option<Uuid>,
    ) -> Result<AlertRule> {
        self.write(move |c| {
            Ok(c.query_row(
                &format!(
                    "INSERT INTO alert_rules (id, project_id, name, enabled, condition, channels,
                                              cooldown_seconds, created_by, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) RETURNING {RULE}"
                ),
                params![
                    Id(Uuid::new_v4()),
                    Id(project),
                    rule.name,
                    rule.enabled,
                    Json(&rule.condition),
                    Json(&rule.channels),
                    rule.cooldown_seconds,
                    opt_id(created_by),
                    Micros(Micros::now())
                ],
                rows::rule,
            )?)
        })
        .await
    }

    async fn find_alert_rule(&self, project: Uuid, rule: Uuid) -> Result<Option<AlertRule>> {
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {RULE} FROM alert_rules WHERE id = ?1 AND project_id = ?2"),
                [Id(rule), Id(project)],
                rows::rule,
            )
            .optional()?)
        })
        .await
    }

    async fn list_alert_rules(&self, project: Uuid) -> Result<Vec<AlertRule>> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT {RULE} FROM alert_rules WHERE project_id = ?1 ORDER BY name, id"
            ))?;
            let rows = statement.query_map([Id(project)], rows::rule)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn update_alert_rule(
        &self,
        project: Uuid,
        rule: Uuid,
        input: AlertRuleInput,
    ) -> Result<Option<AlertRule>> {
        self.write(move |c| {
            Ok(c.query_row(
                &format!(
                    "UPDATE alert_rules SET name = ?3, enabled = ?4, condition = ?5,
                            channels = ?6, cooldown_seconds = ?7, updated_at = ?8
                     WHERE id = ?1 AND project_id = ?2 RETURNING {RULE}"
                ),
                params![
                    Id(rule),
                    Id(project),
                    input.name,
                    input.enabled,
                    Json(&input.condition),
                    Json(&input.channels),
                    input.cooldown_seconds,
                    Micros(Micros::now())
                ],
                rows::rule,
            )
            .optional()?)
        })
        .await
    }

    async fn delete_alert_rule(&self, project: Uuid, rule: Uuid) -> Result<bool> {
        self.write(move |c| {
            let deleted = c.execute(
                "DELETE FROM alert_rules WHERE id = ?1 AND project_id = ?2",
                [Id(rule), Id(project)],
            )?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn record_alert(&self, alert: NewAlert) -> Result<i64> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let id: i64 = tx.query_row(
                "INSERT INTO alert_history (rule_id, project_id, triggered_at, value, details,
                                            deliveries)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                params![
                    Id(alert.rule_id),
                    Id(alert.project_id),
                    Micros(alert.triggered_at),
                    alert.value,
                    Json(&alert.details),
                    Json(&alert.deliveries)
                ],
                |r| r.get(0),
            )?;
            tx.execute(
                "UPDATE alert_rules SET last_triggered_at = ?2 WHERE id = ?1",
                params![Id(alert.rule_id), Micros(alert.triggered_at)],
            )?;
            tx.commit()?;
            Ok(id)
        })
        .await
    }

    async fn alert_history(
        &self,
        project: Uuid,
        query: HistoryQuery,
    ) -> Result<Vec<AlertHistoryEntry>> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT h.id, h.rule_id, r.name, h.project_id, h.triggered_at, h.value,
                        h.details, h.deliveries
                 FROM alert_history h JOIN alert_rules r ON r.id = h.rule_id
                 WHERE h.project_id = ?1 AND (?2 IS NULL OR h.rule_id = ?2)
                   AND (?3 IS NULL OR h.id < ?3)
                 ORDER BY h.id DESC LIMIT ?4",
            )?;
            let rows = statement.query_map(
                params![
                    Id(project),
                    opt_id(query.rule),
                    query.before,
                    i64::from(query.limit)
                ],
                rows::history,
            )?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }
}
