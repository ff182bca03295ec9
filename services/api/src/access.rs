//! Who may do what in a project.
//!
//! Roles are ordered: `viewer` < `member` < `admin` < `owner`. A global admin acts as an owner of
//! every project. Anyone who is not a member of a project is told it does not exist (404), so
//! project ids cannot be probed.

use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Roles in a project, as the metadata store keeps them.
pub use gosight_common::backend::MemberRole as ProjectRole;

/// The role `user` acts with, given their membership's role (`None`: not a member). A global
/// admin acts as owner everywhere; `None` for a non-member who is not an admin.
pub fn effective_role(user: &AuthUser, member_role: Option<ProjectRole>) -> Option<ProjectRole> {
    if user.is_admin() {
        return Some(ProjectRole::Owner);
    }
    member_role
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
    let Some(access) = state.meta.project_access(project, user.id).await? else {
        return Err(ApiError::NotFound("project".into()));
    };
    let Some(role) = effective_role(user, access.role) else {
        return Err(ApiError::NotFound("project".into()));
    };
    let viewers_watch = access
        .project
        .settings
        .pointer("/replay/viewers_can_watch")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true);
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
