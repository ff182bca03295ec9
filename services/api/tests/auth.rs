#![allow(clippy::unwrap_used)]
//! Sign-in against a real PostgreSQL: set-up, login, refresh rotation and reuse, logout, expiry.

mod harness;

use gosight_api::ApiConfig;
use gosight_api::accounts::UserRole;
use harness::Harness;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn first_admin_through_the_api_only_while_no_user_exists() {
    let h = Harness::start().await;
    let (status, body) = h.get("/api/v1/auth/setup", "").await;
    assert_eq!((status, body["needs_setup"].as_bool()), (200, Some(true)));
    let setup = json!({"email": "root@example.com", "password": "long enough pass"});
    let (status, body) = h
        .call(Method::POST, "/api/v1/auth/setup", "", Some(setup.clone()))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["role"], "admin");
    let token = body["access_token"].as_str().unwrap().to_string();
    let (status, me) = h.get("/api/v1/auth/me", &token).await;
    assert_eq!(
        (status, me["email"].as_str()),
        (200, Some("root@example.com"))
    );
    let again = json!({"email": "evil@example.com", "password": "long enough pass"});
    let (status, _) = h
        .call(Method::POST, "/api/v1/auth/setup", "", Some(again))
        .await;
    assert_eq!(status, 403);
    let (_, body) = h.get("/api/v1/auth/setup", "").await;
    assert_eq!(body["needs_setup"], false);
    h.stop().await;
}

#[tokio::test]
async fn login_refresh_rotation_reuse_and_logout() {
    // No leeway: a rotated token shown again is a stolen copy at once.
    let h = Harness::with_config(ApiConfig {
        refresh_reuse_leeway_seconds: 0,
        ..Default::default()
    })
    .await;
    h.user("ann@example.com", UserRole::User).await;
    let (status, body) = h
        .call(
            Method::POST,
            "/api/v1/auth/login",
            "",
            Some(json!({"email": "ann@example.com", "password": "wrong password"})),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "wrong email or password");
    let (status, _) = h
        .call(
            Method::POST,
            "/api/v1/auth/login",
            "",
            Some(json!({"email": "nobody@example.com", "password": "whatever it is"})),
        )
        .await;
    assert_eq!(status, 401);

    let login = h.login("ANN@example.com").await;
    let first = login["refresh_token"].as_str().unwrap().to_string();
    let refresh = |token: String| h.refresh(token);
    let (status, rotated) = refresh(first.clone()).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    let (status, _) = h
        .get("/api/v1/auth/me", rotated["access_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
    // Reusing the rotated token revokes the family: the newer token stops working too.
    let (status, body) = refresh(first).await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("already used"));
    let (status, _) = refresh(second).await;
    assert_eq!(status, 401);

    // Logout revokes the session's refresh token.
    let login = h.login("ann@example.com").await;
    let token = login["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(h.logout(&token).await, 204);
    let (status, _) = refresh(token).await;
    assert_eq!(status, 401);
    // Only hashes are stored.
    let client = h.pool.get().await.unwrap();
    let stored: i64 = client
        .query_one(
            "SELECT count(*) FROM refresh_tokens WHERE length(token_hash) = 32",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 4);
    h.stop().await;
}

#[tokio::test]
async fn bad_and_expired_tokens_get_401() {
    let h = Harness::with_config(ApiConfig {
        access_token_ttl_seconds: 1,
        ..Default::default()
    })
    .await;
    let token = h.user("bo@example.com", UserRole::User).await;
    assert_eq!(h.get("/api/v1/auth/me", &token).await.0, 200);
    let (status, body) = h.get("/api/v1/projects", "").await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = h.get("/api/v1/projects", "not.a.jwt").await;
    assert_eq!(status, 401);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = h.get("/api/v1/auth/me", &token).await;
    assert_eq!(status, 401);
    assert!(
        body["error"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    h.stop().await;
}

#[tokio::test]
async fn malformed_bodies_name_the_problem() {
    let h = Harness::start().await;
    let response = h
        .http
        .post(h.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["field"], "body");
    let (status, body) = h
        .call(
            Method::POST,
            "/api/v1/auth/login",
            "",
            Some(json!({"email": "a@b.c"})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("password"),
        "{body}"
    );
    h.stop().await;
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_not_the_others() {
    let h = Harness::with_config(ApiConfig {
        login_max_failures: 3,
        login_lockout_seconds: 600,
        ..Default::default()
    })
    .await;
    h.user("cy@example.com", UserRole::User).await;
    h.user("di@example.com", UserRole::User).await;
    let attempt = |email: &'static str, password: &'static str| {
        let h = &h;
        async move {
            let response = h
                .http
                .post(h.url("/api/v1/auth/login"))
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            let body: serde_json::Value = response.json().await.unwrap();
            (
                status,
                retry_after,
                body["error"].as_str().unwrap_or("").to_string(),
            )
        }
    };
    // A success clears the count: two failures, a success, two more do not lock.
    for _ in 0..2 {
        assert_eq!(attempt("cy@example.com", "guess").await.0, 401);
    }
    h.login("cy@example.com").await;
    for _ in 0..2 {
        assert_eq!(attempt("cy@example.com", "guess").await.0, 401);
    }
    assert_eq!(attempt("CY@example.com", "guess").await.0, 401);
    // The third failure in a row locks cy, even with the right password.
    let (status, retry_after, error) = attempt("cy@example.com", "correct horse battery").await;
    assert_eq!(status, 429, "{error}");
    assert!(
        retry_after.is_some_and(|s| (590..=600).contains(&s)),
        "{retry_after:?}"
    );
    assert!(error.contains("try again in 10 minutes"), "{error}");
    // Others sign in as before.
    h.login("di@example.com").await;
    // An unknown email is counted like a known one, so a lock does not tell which exist.
    for _ in 0..3 {
        assert_eq!(attempt("nobody@example.com", "guess").await.0, 401);
    }
    assert_eq!(attempt("nobody@example.com", "guess").await.0, 429);
    h.stop().await;
}

#[tokio::test]
async fn two_tabs_refreshing_with_one_token_stay_signed_in() {
    let h = Harness::start().await;
    h.user("tab@example.com", UserRole::User).await;
    let login = h.login("tab@example.com").await;
    let token = login["refresh_token"].as_str().unwrap().to_string();
    let refresh = |token: String| h.refresh(token);
    let (first, a) = refresh(token.clone()).await;
    let (second, b) = refresh(token.clone()).await;
    assert_eq!((first, second), (200, 200), "{a} {b}");
    let (a, b) = (
        a["refresh_token"].as_str().unwrap().to_string(),
        b["refresh_token"].as_str().unwrap().to_string(),
    );
    assert_ne!(a, b);
    assert_eq!(refresh(a.clone()).await.0, 200, "the first tab goes on");
    assert_eq!(refresh(b.clone()).await.0, 200, "and so does the second");
    // Signing out ends it for every tab.
    assert_eq!(h.logout(&token).await, 204);
    assert_eq!(refresh(token).await.0, 401);
    h.stop().await;
}
