//! Who may do what in a project.
//!
//! Roles are ordered: `viewer` < `member` < `admin` < `owner`. A global admin acts as an owner of
//! every project. Anyone who is not a member of a project is told it does not exist (404), so
//! project ids cannot be probed.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectRole {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl ProjectRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Viewer => "viewer",
            ProjectRole::Member => "member",
            ProjectRole::Admin => "admin",
            ProjectRole::Owner => "owner",
        }
    }

    pub fn parse(role: &str) -> Option<Self> {
        match role {
            "viewer" => Some(ProjectRole::Viewer),
            "member" => Some(ProjectRole::Member),
            "admin" => Some(ProjectRole::Admin),
            "owner" => Some(ProjectRole::Owner),
            _ => None,
        }
    }
}

/// The role `user` acts with, given their membership row's role (`None`: not a member). A
/// global admin acts as owner everywhere; `None` for a non-member who is not an admin.
pub fn effective_role(user: &AuthUser, member_role: Option<&str>) -> Option<ProjectRole> {
    if user.is_admin() {
        return Some(ProjectRole::Owner);
    }
    member_role.map(|role| ProjectRole::parse(role).unwrap_or(ProjectRole::Viewer))
}

/// What a request needs to be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Read analytics and settings.
    Read,
    /// Watch replays: members and up, unless the project lets viewers watch too.
    Replay,
    /// Change alert rules and annotations.
    Write,
    /// Change settings, keys and members.
    Manage,
}

/// The user's role in `project`, if it is allowed `need`; 404 for non-members, 403 otherwise.
pub async fn require(
    state: &AppState,
    user: &AuthUser,
    project: Uuid,
    need: Need,
) -> ApiResult<ProjectRole> {
    let client = state.pg.get().await?;
    let row = client
        .query_opt(
            "SELECT m.role::text, coalesce((p.settings->'replay'->>'viewers_can_watch')::boolean, true)
             FROM projects p LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = $2
             WHERE p.id = $1",
            &[&project, &user.id],
        )
        .await?;
    let Some(row) = row else {
        return Err(ApiError::NotFound("project".into()));
    };
    let Some(role) = effective_role(user, row.get::<_, Option<&str>>(0)) else {
        return Err(ApiError::NotFound("project".into()));
    };
    let viewers_watch: bool = row.get(1);
    let least = match need {
        Need::Read => ProjectRole::Viewer,
        Need::Replay if viewers_watch => ProjectRole::Viewer,
        Need::Replay | Need::Write => ProjectRole::Member,
        Need::Manage => ProjectRole::Admin,
    };
    if role < least {
        return Err(ApiError::Forbidden(format!(
            "your role `{}` may not do this; it needs `{}`",
            role.as_str(),
            least.as_str()
        )));
    }
    Ok(role)
}
