//! The metadata store: users, refresh tokens, projects and their settings, API keys, members
//! and roles, alert rules and the alerts they sent.
//!
//! [`MetadataStore`] is what the API, the CLI, the ingest and the processor call; it speaks in
//! typed records and never in SQL. Two implementations pass the same conformance suite
//! (`tests/metadata_conformance.rs`): [`PostgresMetadata`](super::PostgresMetadata) for the
//! distributed deployment and [`SqliteMetadata`](super::SqliteMetadata) for standalone mode.
//!
//! Rules every implementation keeps:
//!
//! - A taken email (case-insensitively), slug or key hash is [`Error::Conflict`](crate::Error)
//!   naming the field, never a storage failure.
//! - Timestamps are stored with microsecond precision (PostgreSQL's), truncated like PostgreSQL
//!   truncates them, and read back in UTC.
//! - Deleting a project deletes its members, keys, alert rules and alert history.
//! - Lists come in a fixed order, documented on each method; text compares bytewise.
//! - Secrets are never stored: keys and refresh tokens only as their sha256, passwords only as
//!   argon2id PHC strings.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::Result;

/// What the ingest needs to know about a write key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub key_id: Uuid,
    pub project_id: Uuid,
    pub permissions: Vec<String>,
    pub rate_limit: u32,
    pub rate_burst: u32,
    /// Active and not revoked.
    pub is_active: bool,
    pub expires_at: Option<OffsetDateTime>,
    pub allowed_domains: Vec<String>,
}

impl ApiKeyRecord {
    /// Active and not expired at `now`.
    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.is_active && self.expires_at.is_none_or(|at| at > now)
    }
}

/// Keys (and refresh tokens) are stored and looked up by their sha256, never in clear.
pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Global role of a user: `admin` manages everything, `user` sees the projects they belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    Admin,
    User,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::User => "user",
        }
    }

    /// Anything but `admin` is a plain user, as the schema allows only the two.
    pub fn parse(role: &str) -> Self {
        if role == "admin" {
            UserRole::Admin
        } else {
            UserRole::User
        }
    }
}

/// Role in one project, ordered: `viewer` < `member` < `admin` < `owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Viewer => "viewer",
            MemberRole::Member => "member",
            MemberRole::Admin => "admin",
            MemberRole::Owner => "owner",
        }
    }

    pub fn parse(role: &str) -> Option<Self> {
        match role {
            "viewer" => Some(MemberRole::Viewer),
            "member" => Some(MemberRole::Member),
            "admin" => Some(MemberRole::Admin),
            "owner" => Some(MemberRole::Owner),
            _ => None,
        }
    }
}

/// A user account.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub role: UserRole,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password hash stays out of logs.
        f.debug_struct("User")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A user to create.
#[derive(Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    /// argon2id PHC string; never the password itself.
    pub password_hash: String,
    pub role: UserRole,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A stored refresh token (its sha256 is the lookup key and is not repeated here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub id: Uuid,
    pub user_id: Uuid,
    /// Tokens rotated from one sign-in share a family.
    pub family_id: Uuid,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// The token this one was rotated into.
    pub replaced_by: Option<Uuid>,
}

/// A refresh token to store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// sha256 of the token handed to the client.
    pub token_hash: [u8; 32],
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for NewRefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewRefreshToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What presenting a refresh token for rotation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token is revoked and points at `token`, the new one, for `user`.
    Rotated {
        user: Box<User>,
        token: RefreshToken,
    },
    /// No token has this hash.
    Unknown,
    /// The token expired, or its user is disabled; nothing changed.
    Expired,
    /// The token had already been rotated (longer ago than the leeway) or revoked: a stolen
    /// copy. Its whole family is now revoked.
    Reused { family_id: Uuid },
}

/// A project.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    /// Origins the SDK may send from; empty means any.
    pub allowed_domains: Vec<String>,
    /// Insight thresholds, replay mode and sampling, retention overrides (a JSON object).
    pub settings: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A project to create with its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    pub name: String,
    /// `^[a-z0-9][a-z0-9-]{0,62}$`, unique.
    pub slug: String,
    pub owner: Uuid,
}

/// Fields of a project to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub allowed_domains: Option<Vec<String>>,
    pub settings: Option<serde_json::Value>,
}

/// Which projects [`MetadataStore::list_projects`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectScope {
    /// Those the user is a member of.
    MemberOf,
    /// Every project (for a global admin), with the user's role where they are a member.
    All,
}

/// A project and the role a given user holds in it (`None`: not a member).
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectAccess {
    pub project: Project,
    pub role: Option<MemberRole>,
}

/// A write key as listed: everything but the key, which is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub permissions: Vec<String>,
    pub rate_limit: i32,
    pub rate_burst: i32,
    pub is_active: bool,
    pub expires_at: Option<OffsetDateTime>,
    pub created_by: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// Active, not revoked and not expired at `now`.
    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.is_active && self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// A write key to store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub prefix: String,
    /// sha256 of the whole key ([`hash_api_key`]).
    pub hash: [u8; 32],
    pub permissions: Vec<String>,
    /// Events per second, at least 1.
    pub rate_limit: i32,
    /// At least 1.
    pub rate_burst: i32,
    pub expires_at: Option<OffsetDateTime>,
    pub created_by: Option<Uuid>,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A member of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: MemberRole,
    pub created_at: OffsetDateTime,
}

/// What a membership change came to. Checked and applied atomically, so two concurrent
/// changes cannot leave a project without an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    Applied,
    /// The user is not a member (for a removal).
    NotMember,
    /// Granting or taking away `owner` needs the caller to be an owner.
    OwnerRequired,
    /// It would leave the project without an owner.
    LastOwner,
}

/// An alert rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub enabled: bool,
    /// What triggers it, e.g. `{"metric": "js_errors", "op": ">", "threshold": 10, "window_s": 300}`.
    pub condition: serde_json::Value,
    /// Where it goes, e.g. `[{"type": "webhook", "url": "..."}]`.
    pub channels: serde_json::Value,
    pub cooldown_seconds: i32,
    pub created_by: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_triggered_at: Option<OffsetDateTime>,
}

/// The fields of an alert rule a user sets (on create and on replace).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRuleInput {
    /// 1 to 200 characters.
    pub name: String,
    pub enabled: bool,
    pub condition: serde_json::Value,
    pub channels: serde_json::Value,
    /// At least 0.
    pub cooldown_seconds: i32,
}

/// An alert the evaluator sent.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub rule_id: Uuid,
    pub project_id: Uuid,
    pub triggered_at: OffsetDateTime,
    pub value: f64,
    pub details: serde_json::Value,
    /// Per channel, e.g. `{"webhook": "delivered"}`.
    pub deliveries: serde_json::Value,
}

/// One sent alert, with its rule's name.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertHistoryEntry {
    /// Increasing in the order alerts were recorded.
    pub id: i64,
    pub rule_id: Uuid,
    pub rule_name: String,
    pub project_id: Uuid,
    pub triggered_at: OffsetDateTime,
    pub value: f64,
    pub details: serde_json::Value,
    pub deliveries: serde_json::Value,
}

/// A page of alert history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only this rule's alerts.
    pub rule: Option<Uuid>,
    /// Only alerts with an id below this (the previous page's last id).
    pub before: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait MetadataStore: Send + Sync + std::fmt::Debug {
    // Users.

    /// Creates a user; [`Error::Conflict`](crate::Error)`("email")` if the email is taken
    /// (case-insensitively).
    async fn create_user(&self, user: NewUser) -> Result<User>;
    /// Creates `user` only while no user exists at all, atomically: of concurrent calls at most
    /// one creates. `None` when a user already exists.
    async fn create_first_user(&self, user: NewUser) -> Result<Option<User>>;
    async fn count_users(&self) -> Result<u64>;
    async fn find_user(&self, id: Uuid) -> Result<Option<User>>;
    /// Case-insensitive.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// Sets `last_login_at` to now.
    async fn record_login(&self, user: Uuid) -> Result<()>;

    // Refresh tokens.

    /// Stores a new token of `user` in `family`.
    async fn issue_refresh_token(
        &self,
        user: Uuid,
        family: Uuid,
        token: NewRefreshToken,
    ) -> Result<RefreshToken>;
    /// The token with this sha256, whatever its state.
    async fn find_refresh_token(&self, hash: &[u8; 32]) -> Result<Option<RefreshToken>>;
    /// Rotates the token with sha256 `presented` into `replacement` (same user and family),
    /// atomically. A token rotated less than `reuse_leeway` ago, whose family is still signed
    /// in, rotates once more into `replacement` (two tabs or a reload refreshing with the same
    /// token at once); any other use of a rotated token is [`Rotation::Reused`].
    async fn rotate_refresh_token(
        &self,
        presented: &[u8; 32],
        replacement: NewRefreshToken,
        reuse_leeway: std::time::Duration,
    ) -> Result<Rotation>;
    /// Revokes every token in the family of the token with sha256 `hash`; nothing if unknown.
    async fn revoke_refresh_family(&self, hash: &[u8; 32]) -> Result<()>;

    // Projects.

    /// Creates a project with `project.owner` as its owner and a first key, in one transaction;
    /// `Conflict("slug")` if the slug is taken.
    async fn create_project(
        &self,
        project: NewProject,
        key: NewApiKey,
    ) -> Result<(Project, ApiKey)>;
    async fn find_project(&self, id: Uuid) -> Result<Option<Project>>;
    /// The project and `user`'s role in it; `None` if there is no such project.
    async fn project_access(&self, project: Uuid, user: Uuid) -> Result<Option<ProjectAccess>>;
    /// Ordered by name, then id.
    async fn list_projects(&self, user: Uuid, scope: ProjectScope) -> Result<Vec<ProjectAccess>>;
    /// The stored slugs that start with `prefix`, to pick a free one.
    async fn slugs_with_prefix(&self, prefix: &str) -> Result<Vec<String>>;
    /// `None` if there is no such project.
    async fn update_project(&self, id: Uuid, update: ProjectUpdate) -> Result<Option<Project>>;
    /// Deletes it with its members, keys, alert rules and history; false if there was none.
    async fn delete_project(&self, id: Uuid) -> Result<bool>;

    // API keys.

    /// `Conflict("key")` if a key with this hash exists.
    async fn create_api_key(&self, project: Uuid, key: NewApiKey) -> Result<ApiKey>;
    /// The key whose sha256 is `hash`, whatever its state; `None` if there is none.
    async fn find_api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>>;
    /// Ordered by creation, then id.
    async fn list_api_keys(&self, project: Uuid) -> Result<Vec<ApiKey>>;
    /// Deactivates the key (keeping the first revocation time); false if `project` has no such key.
    async fn revoke_api_key(&self, project: Uuid, key: Uuid) -> Result<bool>;

    // Members.

    /// Ordered by email, then user id.
    async fn list_members(&self, project: Uuid) -> Result<Vec<Member>>;
    /// Adds `user` with `role` or changes their role. `by_owner`: whether the caller acts as an
    /// owner, which granting or taking away `owner` needs.
    async fn set_member_role(
        &self,
        project: Uuid,
        user: Uuid,
        role: MemberRole,
        by_owner: bool,
    ) -> Result<MemberChange>;
    /// Removes `user` from the project; removing an owner needs `by_owner`.
    async fn remove_member(
        &self,
        project: Uuid,
        user: Uuid,
        by_owner: bool,
    ) -> Result<MemberChange>;

    // Alert rules and history.

    async fn create_alert_rule(
        &self,
        project: Uuid,
        rule: AlertRuleInput,
        created_by: Option<Uuid>,
    ) -> Result<AlertRule>;
    async fn find_alert_rule(&self, project: Uuid, rule: Uuid) -> Result<Option<AlertRule>>;
    /// Ordered by name, then id.
    async fn list_alert_rules(&self, project: Uuid) -> Result<Vec<AlertRule>>;
    /// Replaces the rule's fields; `None` if `project` has no such rule.
    async fn update_alert_rule(
        &self,
        project: Uuid,
        rule: Uuid,
        input: AlertRuleInput,
    ) -> Result<Option<AlertRule>>;
    async fn delete_alert_rule(&self, project: Uuid, rule: Uuid) -> Result<bool>;
    /// Records a sent alert and sets its rule's `last_triggered_at`; answers the entry's id.
    async fn record_alert(&self, alert: NewAlert) -> Result<i64>;
    /// Newest first (by id).
    async fn alert_history(
        &self,
        project: Uuid,
        query: HistoryQuery,
    ) -> Result<Vec<AlertHistoryEntry>>;
}
