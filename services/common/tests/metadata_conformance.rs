//! The cases every [`MetadataStore`] must pass, each written once and run against
//! [`SqliteMetadata`] (a file in a temporary directory) and [`PostgresMetadata`] (its own
//! migrated database on the server `scripts/services.sh` starts; `DATABASE_URL`).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use gosight_common::Error;
use gosight_common::backend::*;
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Rotated tokens never rotate again.
const NO_LEEWAY: std::time::Duration = std::time::Duration::ZERO;

type Store = Arc<dyn MetadataStore>;

/// Runs every case against both stores: `sqlite::<case>` and `postgres::<case>`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = gosight_common::backend::SqliteMetadata::open(
                        dir.path().join("metadata.db"),
                    )
                    .await
                    .unwrap();
                    super::$case(std::sync::Arc::new(store)).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let engines = gosight_common::testing::Engines::from_env();
                    let config = engines.migrated_postgres().await.unwrap();
                    let pool = config.pool().unwrap();
                    let store = gosight_common::backend::PostgresMetadata::new(pool.clone());
                    super::$case(std::sync::Arc::new(store)).await;
                    pool.close();
                    engines.drop_postgres_database(&config).await.unwrap();
                }
            )*
        }
    };
}

conformance!(
    users_are_created_and_found,
    a_taken_email_conflicts_case_insensitively,
    only_one_first_user_comes_out_of_concurrent_setups,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    concurrent_rotations_of_one_token_let_one_win,
    a_token_rotated_moments_ago_rotates_once_more_while_signed_in,
    logout_revokes_only_its_family,
    projects_are_created_updated_and_deleted,
    a_taken_slug_conflicts,
    keys_are_found_by_hash_listed_and_revoked,
    members_change_roles_and_keep_an_owner,
    users_see_the_projects_they_belong_to,
    alert_rules_are_created_listed_replaced_and_deleted,
    alert_history_pages_newest_first,
    deleting_a_project_deletes_what_belongs_to_it,
    timestamps_and_arrays_round_trip,
);

/// PostgreSQL's `timestamptz` precision: microseconds, truncated towards 2000-01-01.
fn stored(t: OffsetDateTime) -> OffsetDateTime {
    let epoch = datetime!(2000-01-01 0:00 UTC);
    epoch + Duration::microseconds((t - epoch).whole_microseconds() as i64)
}

fn recent(t: OffsetDateTime) -> bool {
    (OffsetDateTime::now_utc() - t).abs() < Duration::minutes(1)
}

fn new_user(email: &str, role: UserRole) -> NewUser {
    NewUser {
        email: email.into(),
        name: format!("name of {email}"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role,
    }
}

fn new_key(name: &str) -> (String, NewApiKey) {
    let secret = format!("gs_{}", Uuid::new_v4().simple());
    let key = NewApiKey {
        name: name.into(),
        prefix: secret[..11].to_string(),
        hash: hash_api_key(&secret),
        permissions: vec!["write".into()],
        rate_limit: 1000,
        rate_burst: 5000,
        expires_at: None,
        created_by: None,
    };
    (secret, key)
}

fn new_token(expires_in: Duration) -> ([u8; 32], NewRefreshToken) {
    let hash = hash_api_key(&Uuid::new_v4().to_string());
    let token = NewRefreshToken {
        token_hash: hash,
        expires_at: OffsetDateTime::now_utc() + expires_in,
    };
    (hash, token)
}

async fn user(store: &Store, email: &str) -> User {
    store
        .create_user(new_user(email, UserRole::User))
        .await
        .unwrap()
}

async fn project(store: &Store, slug: &str, owner: Uuid) -> Project {
    let project = NewProject {
        name: slug.to_uppercase(),
        slug: slug.into(),
        owner,
    };
    store
        .create_project(project, new_key("default").1)
        .await
        .unwrap()
        .0
}

fn rule_input(name: &str) -> AlertRuleInput {
    AlertRuleInput {
        name: name.into(),
        enabled: true,
        condition: json!({"metric": "js_errors", "op": ">", "threshold": 10.5, "window_s": 300}),
        channels: json!([{"type": "webhook", "url": "https://hooks.example/x"}]),
        cooldown_seconds: 900,
    }
}

async fn users_are_created_and_found(store: Store) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    let created = store
        .create_user(new_user("Ada@Example.com", UserRole::Admin))
        .await
        .unwrap();
    assert_eq!(created.email, "Ada@Example.com");
    assert_eq!(created.name, "name of Ada@Example.com");
    assert_eq!(created.role, UserRole::Admin);
    assert!(!created.disabled);
    assert!(created.password_hash.starts_with("$argon2id$"));
    assert!(recent(created.created_at) && created.last_login_at.is_none());
    assert_eq!(
        store.find_user(created.id).await.unwrap(),
        Some(created.clone())
    );
    let by_email = store.find_user_by_email("ada@EXAMPLE.com").await.unwrap();
    assert_eq!(by_email, Some(created.clone()));
    assert_eq!(
        store.find_user_by_email("bob@example.com").await.unwrap(),
        None
    );
    assert_eq!(store.find_user(Uuid::new_v4()).await.unwrap(), None);
    let plain = user(&store, "bob@example.com").await;
    assert_eq!(plain.role, UserRole::User);
    assert_eq!(store.count_users().await.unwrap(), 2);

    store.record_login(created.id).await.unwrap();
    let logged_in = store.find_user(created.id).await.unwrap().unwrap();
    assert!(logged_in.last_login_at.is_some_and(recent));
    assert_eq!(
        store
            .find_user(plain.id)
            .await
            .unwrap()
            .unwrap()
            .last_login_at,
        None
    );
}

async fn a_taken_email_conflicts_case_insensitively(store: Store) {
    user(&store, "ada@example.com").await;
    let again = store
        .create_user(new_user("ADA@example.COM", UserRole::Admin))
        .await;
    assert!(matches!(again, Err(Error::Conflict("email"))), "{again:?}");
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn only_one_first_user_comes_out_of_concurrent_setups(store: Store) {
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .create_first_user(new_user(&format!("admin{i}@example.com"), UserRole::Admin))
                .await
                .unwrap()
        })
    });
    let results = futures::future::join_all(attempts).await;
    let created: Vec<User> = results.into_iter().filter_map(|r| r.unwrap()).collect();
    assert_eq!(created.len(), 1, "exactly one set-up wins");
    assert_eq!(store.count_users().await.unwrap(), 1);
    let late = store
        .create_first_user(new_user("late@example.com", UserRole::Admin))
        .await
        .unwrap();
    assert_eq!(late, None);
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_family(store: Store) {
    let ada = user(&store, "ada@example.com").await;
    let family = Uuid::new_v4();
    let (first_hash, first) = new_token(Duration::days(30));
    let issued = store
        .issue_refresh_token(ada.id, family, first.clone())
        .await
        .unwrap();
    assert_eq!((issued.user_id, issued.family_id), (ada.id, family));
    assert_eq!(issued.expires_at, stored(first.expires_at));
    assert_eq!(issued.revoked_at, None);
    assert_eq!(
        store.find_refresh_token(&first_hash).await.unwrap(),
        Some(issued.clone())
    );

    let unknown = store
        .rotate_refresh_token(&[7; 32], new_token(Duration::days(1)).1, NO_LEEWAY)
        .await
        .unwrap();
    assert_eq!(unknown, Rotation::Unknown);

    let (second_hash, second) = new_token(Duration::days(30));
    let Rotation::Rotated { user, token } = store
        .rotate_refresh_token(&first_hash, second, NO_LEEWAY)
        .await
        .unwrap()
    else {
        panic!("a fresh token rotates");
    };
    assert_eq!(user.id, ada.id);
    assert_eq!(user.email, "ada@example.com");
    assert_eq!((token.user_id, token.family_id), (ada.id, family));
    let old = store
        .find_refresh_token(&first_hash)
        .await
        .unwrap()
        .unwrap();
    assert!(old.revoked_at.is_some_and(recent));
    assert_eq!(old.replaced_by, Some(token.id));
    let new = store
        .find_refresh_token(&second_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.revoked_at, None);

    // The rotated token shown again: a stolen copy. The whole family goes.
    let reused = store
        .rotate_refresh_token(&first_hash, new_token(Duration::days(30)).1, NO_LEEWAY)
        .await
        .unwrap();
    assert_eq!(reused, Rotation::Reused { family_id: family });
    let new = store
        .find_refresh_token(&second_hash)
        .await
        .unwrap()
        .unwrap();
    assert!(new.revoked_at.is_some());
    let again = store
        .rotate_refresh_token(&second_hash, new_token(Duration::days(30)).1, NO_LEEWAY)
        .await
        .unwrap();
    assert_eq!(again, Rotation::Reused { family_id: family });

    // An expired token does not rotate and is left as it was.
    let (old_hash, expired) = new_token(-Duration::minutes(1));
    store
        .issue_refresh_token(ada.id, Uuid::new_v4(), expired)
        .await
        .unwrap();
    let rotation = store
        .rotate_refresh_token(&old_hash, new_token(Duration::days(1)).1, NO_LEEWAY)
        .await
        .unwrap();
    assert_eq!(rotation, Rotation::Expired);
    let left = store.find_refresh_token(&old_hash).await.unwrap().unwrap();
    assert_eq!((left.revoked_at, left.replaced_by), (None, None));
}

async fn a_token_rotated_moments_ago_rotates_once_more_while_signed_in(store: Store) {
    let leeway = std::time::Duration::from_secs(30);
    let ada = user(&store, "ada@example.com").await;
    let family = Uuid::new_v4();
    let (first_hash, first) = new_token(Duration::days(30));
    store
        .issue_refresh_token(ada.id, family, first)
        .await
        .unwrap();
    let (second_hash, second) = new_token(Duration::days(30));
    let rotate = |hash: [u8; 32], token: NewRefreshToken| {
        let store = store.clone();
        async move {
            store
                .rotate_refresh_token(&hash, token, leeway)
                .await
                .unwrap()
        }
    };
    let Rotation::Rotated {
        token: second_row, ..
    } = rotate(first_hash, second).await
    else {
        panic!("a fresh token rotates");
    };
    // Another tab refreshes with the same token a moment later: it rotates too, and the
    // first tab's token stays good.
    let (third_hash, third) = new_token(Duration::days(30));
    let Rotation::Rotated { token, user } = rotate(first_hash, third).await else {
        panic!("a token rotated within the leeway rotates again");
    };
    assert_eq!((user.id, token.family_id), (ada.id, family));
    let first_row = store
        .find_refresh_token(&first_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first_row.replaced_by,
        Some(second_row.id),
        "the first replacement is kept"
    );
    for hash in [second_hash, third_hash] {
        let row = store.find_refresh_token(&hash).await.unwrap().unwrap();
        assert_eq!(row.revoked_at, None);
    }
    // A third use is no tab's: the family is revoked.
    assert_eq!(
        rotate(first_hash, new_token(Duration::days(30)).1).await,
        Rotation::Reused { family_id: family }
    );
    for hash in [second_hash, third_hash] {
        let row = store.find_refresh_token(&hash).await.unwrap().unwrap();
        assert!(row.revoked_at.is_some());
    }
    // Signed out: the leeway does not bring a family back.
    let signed_out = Uuid::new_v4();
    let (c_hash, c) = new_token(Duration::days(30));
    store
        .issue_refresh_token(ada.id, signed_out, c)
        .await
        .unwrap();
    let (d_hash, d) = new_token(Duration::days(30));
    assert!(matches!(rotate(c_hash, d).await, Rotation::Rotated { .. }));
    store.revoke_refresh_family(&d_hash).await.unwrap();
    assert_eq!(
        rotate(c_hash, new_token(Duration::days(30)).1).await,
        Rotation::Reused {
            family_id: signed_out
        }
    );
    // Without a leeway, the same reuse signs the family out.
    let other = Uuid::new_v4();
    let (a_hash, a) = new_token(Duration::days(30));
    store.issue_refresh_token(ada.id, other, a).await.unwrap();
    let (b_hash, b) = new_token(Duration::days(30));
    store
        .rotate_refresh_token(&a_hash, b, NO_LEEWAY)
        .await
        .unwrap();
    let reused = store
        .rotate_refresh_token(&a_hash, new_token(Duration::days(30)).1, NO_LEEWAY)
        .await
        .unwrap();
    assert_eq!(reused, Rotation::Reused { family_id: other });
    let b_row = store.find_refresh_token(&b_hash).await.unwrap().unwrap();
    assert!(b_row.revoked_at.is_some());
}

async fn concurrent_rotations_of_one_token_let_one_win(store: Store) {
    let ada = user(&store, "ada@example.com").await;
    let (hash, token) = new_token(Duration::days(1));
    store
        .issue_refresh_token(ada.id, Uuid::new_v4(), token)
        .await
        .unwrap();
    let attempts = (0..6).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .rotate_refresh_token(&hash, new_token(Duration::days(1)).1, NO_LEEWAY)
                .await
                .unwrap()
        })
    });
    let results: Vec<Rotation> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let won = results
        .iter()
        .filter(|r| matches!(r, Rotation::Rotated { .. }))
        .count();
    let reused = results
        .iter()
        .filter(|r| matches!(r, Rotation::Reused { .. }))
        .count();
    assert_eq!((won, reused), (1, 5), "{results:?}");
}

async fn logout_revokes_only_its_family(store: Store) {
    let ada = user(&store, "ada@example.com").await;
    let (a_hash, a) = new_token(Duration::days(1));
    store
        .issue_refresh_token(ada.id, Uuid::new_v4(), a)
        .await
        .unwrap();
    let (b_hash, b) = new_token(Duration::days(1));
    store
        .rotate_refresh_token(&a_hash, b, NO_LEEWAY)
        .await
        .unwrap();
    let (other_hash, other) = new_token(Duration::days(1));
    store
        .issue_refresh_token(ada.id, Uuid::new_v4(), other)
        .await
        .unwrap();

    store.revoke_refresh_family(&b_hash).await.unwrap();
    let first = store.find_refresh_token(&a_hash).await.unwrap().unwrap();
    let second = store.find_refresh_token(&b_hash).await.unwrap().unwrap();
    assert!(first.revoked_at.is_some() && second.revoked_at.is_some());
    let untouched = store
        .find_refresh_token(&other_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.revoked_at, None);
    // Revoking keeps the first revocation time; unknown tokens are no error.
    store.revoke_refresh_family(&a_hash).await.unwrap();
    let later = store.find_refresh_token(&a_hash).await.unwrap().unwrap();
    assert_eq!(later.revoked_at, first.revoked_at);
    store.revoke_refresh_family(&[9; 32]).await.unwrap();
}

async fn projects_are_created_updated_and_deleted(store: Store) {
    let ada = user(&store, "ada@example.com").await;
    let (secret, key) = new_key("default");
    let (created, first_key) = store
        .create_project(
            NewProject {
                name: "Shop".into(),
                slug: "shop".into(),
                owner: ada.id,
            },
            key,
        )
        .await
        .unwrap();
    assert_eq!(
        (created.name.as_str(), created.slug.as_str()),
        ("Shop", "shop")
    );
    assert_eq!(created.allowed_domains, Vec::<String>::new());
    assert_eq!(created.settings, json!({}));
    assert!(recent(created.created_at));
    assert_eq!(first_key.project_id, created.id);
    let found = store
        .find_api_key(&hash_api_key(&secret))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.key_id, first_key.id);
    let members = store.list_members(created.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(
        (members[0].user_id, members[0].role),
        (ada.id, MemberRole::Owner)
    );
    assert_eq!(
        store.find_project(created.id).await.unwrap(),
        Some(created.clone())
    );

    let settings = json!({
        "insights": {"rage_min_clicks": 4, "dead_click_ms": 1500.5},
        "replay": {"mode": "on_error", "sampling": 0.25, "viewers_can_watch": false},
        "retention": {"events_days": 30},
        "note": "ünïcødé ✓",
    });
    let updated = store
        .update_project(
            created.id,
            ProjectUpdate {
                name: Some("Shop EU".into()),
                allowed_domains: Some(vec!["shop.example.com".into(), "*.example.com".into()]),
                settings: Some(settings.clone()),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.name, "Shop EU");
    assert_eq!(
        updated.allowed_domains,
        ["shop.example.com", "*.example.com"]
    );
    assert_eq!(updated.settings, settings);
    assert_eq!(
        (updated.slug.as_str(), updated.created_at),
        ("shop", created.created_at)
    );
    assert!(updated.updated_at >= created.updated_at);
    // Nothing to change keeps everything.
    let kept = store
        .update_project(created.id, ProjectUpdate::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.name, kept.allowed_domains, kept.settings),
        (
            updated.name.clone(),
            updated.allowed_domains.clone(),
            settings
        )
    );
    let missing = store
        .update_project(Uuid::new_v4(), ProjectUpdate::default())
        .await
        .unwrap();
    assert_eq!(missing, None);

    assert!(store.delete_project(created.id).await.unwrap());
    assert_eq!(store.find_project(created.id).await.unwrap(), None);
    assert!(!store.delete_project(created.id).await.unwrap());
}

async fn a_taken_slug_conflicts(store: Store) {
    let ada = user(&store, "ada@example.com").await;
    project(&store, "shop", ada.id).await;
    project(&store, "shop-2", ada.id).await;
    project(&store, "shopping", ada.id).await;
    project(&store, "other", ada.id).await;
    let (secret, key) = new_key("default");
    let again = store
        .create_project(
            NewProject {
                name: "Shop again".into(),
                slug: "shop".into(),
                owner: ada.id,
            },
            key,
        )
        .await;
    assert!(matches!(again, Err(Error::Conflict("slug"))), "{again:?}");
    // Nothing of the failed project stays behind, not even its key.
    assert_eq!(
        store.find_api_key(&hash_api_key(&secret)).await.unwrap(),
        None
    );
    let taken = store.slugs_with_prefix("shop").await.unwrap();
    assert_eq!(taken, ["shop", "shop-2", "shopping"]);
    assert!(store.slugs_with_prefix("nothing").await.unwrap().is_empty());
}

async fn keys_are_found_by_hash_listed_and_revoked(store: Store) {
    let ada = user(&store, "ada@example.com").await;
    let shop = project(&store, "shop", ada.id).await;
    store
        .update_project(
            shop.id,
            ProjectUpdate {
                allowed_domains: Some(vec!["shop.example.com".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let expires = OffsetDateTime::now_utc() + Duration::days(7);
    let (secret, mut key) = new_key("ci");
    key.permissions = vec!["write".into(), "read".into()];
    key.rate_limit = 50;
    key.rate_burst = 75;
    key.expires_at = Some(expires);
    key.created_by = Some(ada.id);
    let created = store.create_api_key(shop.id, key.clone()).await.unwrap();
    assert_eq!(created.prefix, &secret[..11]);
    assert_eq!(created.permissions, ["write", "read"]);
    assert_eq!((created.rate_limit, created.rate_burst), (50, 75));
    assert_eq!(created.expires_at, Some(stored(expires)));
    assert_eq!(created.created_by, Some(ada.id));
    assert!(created.is_active && created.is_usable(OffsetDateTime::now_utc()));

    let record = store
        .find_api_key(&hash_api_key(&secret))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record,
        ApiKeyRecord {
            key_id: created.id,
            project_id: shop.id,
            permissions: vec!["write".into(), "read".into()],
            rate_limit: 50,
            rate_burst: 75,
            is_active: true,
            expires_at: Some(stored(expires)),
            allowed_domains: vec!["shop.example.com".into()],
        }
    );
    assert!(!record.is_usable(expires + Duration::seconds(1)));
    assert_eq!(store.find_api_key(&[0; 32]).await.unwrap(), None);

    let duplicate = store.create_api_key(shop.id, key).await;
    assert!(
        matches!(duplicate, Err(Error::Conflict("key"))),
        "{duplicate:?}"
    );

    let listed = store.list_api_keys(shop.id).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["default", "ci"], "in creation order");
    assert_eq!(listed[1], created);
    let text = format!("{listed:?}");
    assert!(
        !text.contains(&secret) && !text.contains(&secret[11..]),
        "no secret in a list"
    );

    let other = project(&store, "other", ada.id).await;
    assert!(!store.revoke_api_key(other.id, created.id).await.unwrap());
    assert!(!store.revoke_api_key(shop.id, Uuid::new_v4()).await.unwrap());
    assert!(store.revoke_api_key(shop.id, created.id).await.unwrap());
    let record = store
        .find_api_key(&hash_api_key(&secret))
        .await
        .unwrap()
        .unwrap();
    assert!(!record.is_active && !record.is_usable(OffsetDateTime::now_utc()));
    let revoked = store.list_api_keys(shop.id).await.unwrap().remove(1);
    assert!(!revoked.is_active && revoked.revoked_at.is_some_and(recent));
    assert!(store.revoke_api_key(shop.id, created.id).await.unwrap());
    let again = store.list_api_keys(shop.id).await.unwrap().remove(1);
    assert_eq!(
        again.revoked_at, revoked.revoked_at,
        "the first revocation time stays"
    );

    // A key past its expiry is found but not usable.
    let (old_secret, mut old) = new_key("old");
    old.expires_at = Some(OffsetDateTime::now_utc() - Duration::minutes(1));
    store.create_api_key(shop.id, old).await.unwrap();
    let record = store
        .find_api_key(&hash_api_key(&old_secret))
        .await
        .unwrap()
        .unwrap();
    assert!(record.is_active && !record.is_usable(OffsetDateTime::now_utc()));
}

async fn members_change_roles_and_keep_an_owner(store: Store) {
    let olga = user(&store, "olga@example.com").await;
    let anna = user(&store, "anna@example.com").await;
    let bert = user(&store, "bert@example.com").await;
    let p = project(&store, "shop", olga.id).await.id;
    use MemberChange::*;
    use MemberRole as R;
    assert_eq!(
        store
            .set_member_role(p, anna.id, R::Member, false)
            .await
            .unwrap(),
        Applied
    );
    assert_eq!(
        store
            .set_member_role(p, bert.id, R::Viewer, false)
            .await
            .unwrap(),
        Applied
    );
    let members = store.list_members(p).await.unwrap();
    let listed: Vec<(&str, MemberRole)> =
        members.iter().map(|m| (m.email.as_str(), m.role)).collect();
    assert_eq!(
        listed,
        [
            ("anna@example.com", R::Member),
            ("bert@example.com", R::Viewer),
            ("olga@example.com", R::Owner),
        ]
    );
    assert_eq!(members[0].name, "name of anna@example.com");
    assert!(recent(members[0].created_at));

    assert_eq!(
        store
            .set_member_role(p, anna.id, R::Admin, false)
            .await
            .unwrap(),
        Applied
    );
    // `owner` is granted and taken away by owners only.
    assert_eq!(
        store
            .set_member_role(p, anna.id, R::Owner, false)
            .await
            .unwrap(),
        OwnerRequired
    );
    assert_eq!(
        store
            .set_member_role(p, olga.id, R::Admin, false)
            .await
            .unwrap(),
        OwnerRequired
    );
    assert_eq!(
        store.remove_member(p, olga.id, false).await.unwrap(),
        OwnerRequired
    );
    assert_eq!(
        store
            .set_member_role(p, anna.id, R::Owner, true)
            .await
            .unwrap(),
        Applied
    );
    assert_eq!(
        store
            .set_member_role(p, olga.id, R::Member, true)
            .await
            .unwrap(),
        Applied
    );
    // Anna is the last owner now.
    assert_eq!(
        store
            .set_member_role(p, anna.id, R::Admin, true)
            .await
            .unwrap(),
        LastOwner
    );
    assert_eq!(
        store.remove_member(p, anna.id, true).await.unwrap(),
        LastOwner
    );
    assert_eq!(
        store
            .set_member_role(p, anna.id, R::Owner, true)
            .await
            .unwrap(),
        Applied
    );

    assert_eq!(
        store.remove_member(p, bert.id, false).await.unwrap(),
        Applied
    );
    assert_eq!(
        store.remove_member(p, bert.id, false).await.unwrap(),
        NotMember
    );
    let roles: Vec<(Uuid, MemberRole)> = store
        .list_members(p)
        .await
        .unwrap()
        .iter()
        .map(|m| (m.user_id, m.role))
        .collect();
    assert_eq!(roles, [(anna.id, R::Owner), (olga.id, R::Member)]);
}

async fn users_see_the_projects_they_belong_to(store: Store) {
    let olga = user(&store, "olga@example.com").await;
    let anna = user(&store, "anna@example.com").await;
    // Two projects end up named ALPHA: they sort by id.
    let beta = project(&store, "beta", olga.id).await;
    let alpha = project(&store, "alpha", olga.id).await;
    let gamma = project(&store, "gamma", anna.id).await;
    store
        .update_project(
            gamma.id,
            ProjectUpdate {
                name: Some("ALPHA".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .set_member_role(beta.id, anna.id, MemberRole::Viewer, true)
        .await
        .unwrap();

    let names = |list: Vec<ProjectAccess>| -> Vec<(String, Option<MemberRole>)> {
        list.into_iter().map(|a| (a.project.name, a.role)).collect()
    };
    let olgas = store
        .list_projects(olga.id, ProjectScope::MemberOf)
        .await
        .unwrap();
    assert_eq!(
        names(olgas),
        [
            ("ALPHA".to_string(), Some(MemberRole::Owner)),
            ("BETA".to_string(), Some(MemberRole::Owner)),
        ]
    );
    let annas = store
        .list_projects(anna.id, ProjectScope::MemberOf)
        .await
        .unwrap();
    assert_eq!(
        names(annas),
        [
            ("ALPHA".to_string(), Some(MemberRole::Owner)),
            ("BETA".to_string(), Some(MemberRole::Viewer)),
        ]
    );
    let all = store
        .list_projects(anna.id, ProjectScope::All)
        .await
        .unwrap();
    let ids: Vec<Uuid> = all.iter().map(|a| a.project.id).collect();
    let mut alphas = [alpha.id, gamma.id];
    alphas.sort();
    assert_eq!(ids, [alphas[0], alphas[1], beta.id], "by name, then id");
    let roles: Vec<Option<MemberRole>> = all.iter().map(|a| a.role).collect();
    let alpha_role = |id| {
        if id == gamma.id {
            Some(MemberRole::Owner)
        } else {
            None
        }
    };
    assert_eq!(
        roles,
        [
            alpha_role(alphas[0]),
            alpha_role(alphas[1]),
            Some(MemberRole::Viewer)
        ]
    );

    let access = store
        .project_access(alpha.id, anna.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((access.project.id, access.role), (alpha.id, None));
    let access = store
        .project_access(beta.id, anna.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(access.role, Some(MemberRole::Viewer));
    assert_eq!(
        access.project,
        store.find_project(beta.id).await.unwrap().unwrap()
    );
    assert_eq!(
        store.project_access(Uuid::new_v4(), anna.id).await.unwrap(),
        None
    );
}

async fn alert_rules_are_created_listed_replaced_and_deleted(store: Store) {
    let ada = user(&store, "ada@example.com").await;
    let p = project(&store, "shop", ada.id).await.id;
    let other = project(&store, "other", ada.id).await.id;
    let created = store
        .create_alert_rule(p, rule_input("Errors"), Some(ada.id))
        .await
        .unwrap();
    assert_eq!(created.name, "Errors");
    assert_eq!(created.condition, rule_input("x").condition);
    assert_eq!(created.channels, rule_input("x").channels);
    assert_eq!((created.enabled, created.cooldown_seconds), (true, 900));
    assert_eq!((created.project_id, created.created_by), (p, Some(ada.id)));
    assert!(recent(created.created_at) && created.last_triggered_at.is_none());
    store
        .create_alert_rule(p, rule_input("Clicks"), None)
        .await
        .unwrap();
    store
        .create_alert_rule(other, rule_input("Elsewhere"), None)
        .await
        .unwrap();

    let names: Vec<String> = store
        .list_alert_rules(p)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["Clicks", "Errors"]);
    assert_eq!(
        store.find_alert_rule(p, created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        store.find_alert_rule(other, created.id).await.unwrap(),
        None
    );

    let input = AlertRuleInput {
        name: "Rage".into(),
        enabled: false,
        condition: json!({"metric": "rage_clicks", "op": ">=", "threshold": 3, "window_s": 60,
                          "path": "/checkout"}),
        channels: json!([]),
        cooldown_seconds: 0,
    };
    let replaced = store
        .update_alert_rule(p, created.id, input.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            replaced.name.as_str(),
            replaced.enabled,
            replaced.cooldown_seconds
        ),
        ("Rage", false, 0)
    );
    assert_eq!(
        (replaced.condition, replaced.channels),
        (input.condition.clone(), json!([]))
    );
    assert_eq!(replaced.created_at, created.created_at);
    assert!(replaced.updated_at >= created.updated_at);
    assert_eq!(
        store
            .update_alert_rule(other, created.id, input)
            .await
            .unwrap(),
        None
    );

    assert!(!store.delete_alert_rule(other, created.id).await.unwrap());
    assert!(store.delete_alert_rule(p, created.id).await.unwrap());
    assert_eq!(store.find_alert_rule(p, created.id).await.unwrap(), None);
    assert!(!store.delete_alert_rule(p, created.id).await.unwrap());
}

async fn alert_history_pages_newest_first(store: Store) {
    let ada = user(&store, "ada@example.com").await;
    let p = project(&store, "shop", ada.id).await.id;
    let errors = store
        .create_alert_rule(p, rule_input("Errors"), None)
        .await
        .unwrap();
    let clicks = store
        .create_alert_rule(p, rule_input("Clicks"), None)
        .await
        .unwrap();
    let at = datetime!(2024-03-01 12:00:00.123_456_7 UTC);
    let mut ids = Vec::new();
    for (i, rule) in [errors.id, clicks.id, errors.id].into_iter().enumerate() {
        let id = store
            .record_alert(NewAlert {
                rule_id: rule,
                project_id: p,
                triggered_at: at + Duration::minutes(i as i64),
                value: 11.5 + i as f64,
                details: json!({"count": 11 + i, "path": "/"}),
                deliveries: json!({"webhook": "delivered"}),
            })
            .await
            .unwrap();
        ids.push(id);
    }
    assert!(ids[0] < ids[1] && ids[1] < ids[2]);
    let rule = store.find_alert_rule(p, errors.id).await.unwrap().unwrap();
    assert_eq!(
        rule.last_triggered_at,
        Some(stored(at + Duration::minutes(2)))
    );

    let page = |rule, before, limit| HistoryQuery {
        rule,
        before,
        limit,
    };
    let first = store.alert_history(p, page(None, None, 2)).await.unwrap();
    let values: Vec<f64> = first.iter().map(|h| h.value).collect();
    assert_eq!(values, [13.5, 12.5]);
    assert_eq!(first[0].rule_name, "Errors");
    assert_eq!(first[1].rule_name, "Clicks");
    assert_eq!(first[0].triggered_at, stored(at + Duration::minutes(2)));
    assert_eq!(first[0].details, json!({"count": 13, "path": "/"}));
    assert_eq!(first[0].deliveries, json!({"webhook": "delivered"}));
    assert_eq!(first[0].project_id, p);
    let rest = store
        .alert_history(p, page(None, Some(first[1].id), 2))
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|h| h.id).collect::<Vec<_>>(), [ids[0]]);
    let only_errors = store
        .alert_history(p, page(Some(errors.id), None, 10))
        .await
        .unwrap();
    assert_eq!(
        only_errors.iter().map(|h| h.id).collect::<Vec<_>>(),
        [ids[2], ids[0]]
    );
    let other = project(&store, "other", ada.id).await.id;
    assert!(
        store
            .alert_history(other, page(None, None, 10))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn deleting_a_project_deletes_what_belongs_to_it(store: Store) {
    let olga = user(&store, "olga@example.com").await;
    let anna = user(&store, "anna@example.com").await;
    let doomed = project(&store, "doomed", olga.id).await.id;
    let kept = project(&store, "kept", olga.id).await.id;
    store
        .set_member_role(doomed, anna.id, MemberRole::Member, true)
        .await
        .unwrap();
    let (secret, key) = new_key("ci");
    store.create_api_key(doomed, key).await.unwrap();
    let rule = store
        .create_alert_rule(doomed, rule_input("Errors"), None)
        .await
        .unwrap();
    store
        .record_alert(NewAlert {
            rule_id: rule.id,
            project_id: doomed,
            triggered_at: OffsetDateTime::now_utc(),
            value: 1.0,
            details: json!({}),
            deliveries: json!({}),
        })
        .await
        .unwrap();
    let kept_rule = store
        .create_alert_rule(kept, rule_input("Kept"), None)
        .await
        .unwrap();

    assert!(store.delete_project(doomed).await.unwrap());
    assert_eq!(
        store.find_api_key(&hash_api_key(&secret)).await.unwrap(),
        None
    );
    assert!(store.list_api_keys(doomed).await.unwrap().is_empty());
    assert!(store.list_members(doomed).await.unwrap().is_empty());
    assert!(store.list_alert_rules(doomed).await.unwrap().is_empty());
    let history = HistoryQuery {
        rule: None,
        before: None,
        limit: 10,
    };
    assert!(
        store
            .alert_history(doomed, history)
            .await
            .unwrap()
            .is_empty()
    );
    let annas = store
        .list_projects(anna.id, ProjectScope::MemberOf)
        .await
        .unwrap();
    assert!(annas.is_empty());
    // Users and other projects stay.
    assert!(store.find_user(anna.id).await.unwrap().is_some());
    assert_eq!(store.list_api_keys(kept).await.unwrap().len(), 1);
    assert_eq!(store.list_alert_rules(kept).await.unwrap(), [kept_rule]);
}

async fn timestamps_and_arrays_round_trip(store: Store) {
    let ada = user(&store, "ada@example.com").await;
    let p = project(&store, "shop", ada.id).await.id;
    let instants = [
        datetime!(2031-07-08 09:10:11.999_999_999 UTC),
        datetime!(1999-12-31 23:59:59.000_000_5 UTC),
        datetime!(2030-01-01 00:00:00.5 +02:00),
    ];
    for (i, at) in instants.into_iter().enumerate() {
        let (secret, mut key) = new_key(&format!("k{i}"));
        key.expires_at = Some(at);
        key.permissions = vec![
            String::new(),
            "with \"quotes\", commas".into(),
            "ü,{}".into(),
        ];
        let created = store.create_api_key(p, key.clone()).await.unwrap();
        let expected = stored(at);
        assert_eq!(created.expires_at, Some(expected));
        assert_eq!(
            created.expires_at.map(|t| t.offset()),
            Some(time::UtcOffset::UTC)
        );
        let record = store
            .find_api_key(&hash_api_key(&secret))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.expires_at, Some(expected));
        assert_eq!(record.permissions, key.permissions);
    }
    assert_eq!(
        stored(instants[1]),
        datetime!(1999-12-31 23:59:59.000_001 UTC),
        "truncated towards 2000-01-01 as PostgreSQL does"
    );
    let domains = vec![
        "a.example".to_string(),
        "*.b.example".into(),
        "c.example:8080".into(),
    ];
    let updated = store
        .update_project(
            p,
            ProjectUpdate {
                allowed_domains: Some(domains.clone()),
                settings: Some(json!({"nested": {"list": [1, 2.5, null, true, "x"]}})),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.allowed_domains, domains);
    let found = store.find_project(p).await.unwrap().unwrap();
    assert_eq!(found, updated);
    assert_eq!(found.settings["nested"]["list"][1], json!(2.5));
    let record = store.find_api_key(&hash_api_key("nope")).await.unwrap();
    assert_eq!(record, None);
}

/// SQLite only: reopening a file keeps its data and applies no migration twice.
#[tokio::test]
async fn sqlite_file_reopens_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("metadata.db");
    let first = SqliteMetadata::open(&path).await.unwrap();
    let ada = user(&(Arc::new(first.clone()) as Store), "ada@example.com").await;
    drop(first);
    let again = SqliteMetadata::open(&path).await.unwrap();
    assert_eq!(again.path(), path);
    assert_eq!(again.find_user(ada.id).await.unwrap(), Some(ada));
    assert!(path.with_file_name("metadata.db-wal").exists(), "WAL mode");
}
