//! Column lists and row readers of the SQLite metadata tables.

use rusqlite::Row;

use super::codec::{Id, Json, Micros};
use crate::backend::metadata::*;

pub const USER: &str =
    "id, email, name, password_hash, role, disabled, created_at, updated_at, last_login_at";
pub const TOKEN: &str = "id, user_id, family_id, expires_at, created_at, revoked_at, replaced_by";
pub const PROJECT: &str = "id, name, slug, allowed_domains, settings, created_at, updated_at";
pub const PROJECT_P: &str =
    "p.id, p.name, p.slug, p.allowed_domains, p.settings, p.created_at, p.updated_at";
pub const KEY: &str = "id, project_id, name, key_prefix, permissions, rate_limit, rate_burst, \
                       is_active, expires_at, created_by, created_at, revoked_at, last_used_at";
pub const RULE: &str = "id, project_id, name, enabled, condition, channels, cooldown_seconds, \
                        created_by, created_at, updated_at, last_triggered_at";

fn id(r: &Row, at: usize) -> rusqlite::Result<uuid::Uuid> {
    Ok(r.get::<_, Id>(at)?.0)
}

fn opt_id(r: &Row, at: usize) -> rusqlite::Result<Option<uuid::Uuid>> {
    Ok(r.get::<_, Option<Id>>(at)?.map(|i| i.0))
}

fn time(r: &Row, at: usize) -> rusqlite::Result<time::OffsetDateTime> {
    Ok(r.get::<_, Micros>(at)?.0)
}

fn opt_time(r: &Row, at: usize) -> rusqlite::Result<Option<time::OffsetDateTime>> {
    Ok(r.get::<_, Option<Micros>>(at)?.map(|t| t.0))
}

fn json<T: serde::de::DeserializeOwned>(r: &Row, at: usize) -> rusqlite::Result<T> {
    Ok(r.get::<_, Json<T>>(at)?.0)
}

pub fn user_at(r: &Row, at: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: id(r, at)?,
        email: r.get(at + 1)?,
        name: r.get(at + 2)?,
        password_hash: r.get(at + 3)?,
        role: UserRole::parse(&r.get::<_, String>(at + 4)?),
        disabled: r.get(at + 5)?,
        created_at: time(r, at + 6)?,
        updated_at: time(r, at + 7)?,
        last_login_at: opt_time(r, at + 8)?,
    })
}

pub fn user(r: &Row) -> rusqlite::Result<User> {
    user_at(r, 0)
}

pub fn token(r: &Row) -> rusqlite::Result<RefreshToken> {
    Ok(RefreshToken {
        id: id(r, 0)?,
        user_id: id(r, 1)?,
        family_id: id(r, 2)?,
        expires_at: time(r, 3)?,
        created_at: time(r, 4)?,
        revoked_at: opt_time(r, 5)?,
        replaced_by: opt_id(r, 6)?,
    })
}

pub fn project(r: &Row) -> rusqlite::Result<Project> {
    Ok(Project {
        id: id(r, 0)?,
        name: r.get(1)?,
        slug: r.get(2)?,
        allowed_domains: json(r, 3)?,
        settings: json(r, 4)?,
        created_at: time(r, 5)?,
        updated_at: time(r, 6)?,
    })
}

/// A project row followed by the user's nullable member role.
pub fn access(r: &Row) -> rusqlite::Result<ProjectAccess> {
    Ok(ProjectAccess {
        project: project(r)?,
        role: r
            .get::<_, Option<String>>(7)?
            .as_deref()
            .and_then(MemberRole::parse),
    })
}

pub fn key(r: &Row) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: id(r, 0)?,
        project_id: id(r, 1)?,
        name: r.get(2)?,
        prefix: r.get(3)?,
        permissions: json(r, 4)?,
        rate_limit: r.get(5)?,
        rate_burst: r.get(6)?,
        is_active: r.get(7)?,
        expires_at: opt_time(r, 8)?,
        created_by: opt_id(r, 9)?,
        created_at: time(r, 10)?,
        revoked_at: opt_time(r, 11)?,
        last_used_at: opt_time(r, 12)?,
    })
}

pub fn key_record(r: &Row) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        key_id: id(r, 0)?,
        project_id: id(r, 1)?,
        permissions: json(r, 2)?,
        rate_limit: r.get::<_, i64>(3)?.clamp(1, i64::from(u32::MAX)) as u32,
        rate_burst: r.get::<_, i64>(4)?.clamp(1, i64::from(u32::MAX)) as u32,
        is_active: r.get(5)?,
        expires_at: opt_time(r, 6)?,
        allowed_domains: json(r, 7)?,
    })
}

pub fn member(r: &Row) -> rusqlite::Result<Member> {
    Ok(Member {
        user_id: id(r, 0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: MemberRole::parse(&r.get::<_, String>(3)?).unwrap_or(MemberRole::Viewer),
        created_at: time(r, 4)?,
    })
}

pub fn rule(r: &Row) -> rusqlite::Result<AlertRule> {
    Ok(AlertRule {
        id: id(r, 0)?,
        project_id: id(r, 1)?,
        name: r.get(2)?,
        enabled: r.get(3)?,
        condition: json(r, 4)?,
        channels: json(r, 5)?,
        cooldown_seconds: r.get(6)?,
        created_by: opt_id(r, 7)?,
        created_at: time(r, 8)?,
        updated_at: time(r, 9)?,
        last_triggered_at: opt_time(r, 10)?,
    })
}

pub fn history(r: &Row) -> rusqlite::Result<AlertHistoryEntry> {
    Ok(AlertHistoryEntry {
        id: r.get(0)?,
        rule_id: id(r, 1)?,
        rule_name: r.get(2)?,
        project_id: id(r, 3)?,
        triggered_at: time(r, 4)?,
        value: r.get(5)?,
        details: json(r, 6)?,
        deliveries: json(r, 7)?,
    })
}
