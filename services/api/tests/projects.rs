#![allow(clippy::unwrap_used)]
//! Projects, keys, members, alert rules and project isolation against a real PostgreSQL and
//! ClickHouse.

mod harness;

use gosight_api::accounts::UserRole;
use gosight_common::backend::{MetadataStore, PostgresMetadata, hash_api_key};
use harness::Harness;
use reqwest::Method;
use serde_json::json;

/// Every project-scoped endpoint with a body it accepts.
fn endpoints(project: &str) -> Vec<(Method, String, Option<serde_json::Value>)> {
    let p = format!("/api/v1/projects/{project}");
    let any = "00000000-0000-4000-8000-000000000001";
    let rule = json!({"name": "errors", "condition": {"metric": "js_errors", "op": ">", "threshold": 5, "window_s": 300}});
    vec![
        (Method::GET, p.clone(), None),
        (Method::PATCH, p.clone(), Some(json!({"name": "mine now"}))),
        (Method::DELETE, p.clone(), None),
        (Method::GET, format!("{p}/keys"), None),
        (
            Method::POST,
            format!("{p}/keys"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("{p}/keys/{any}"), None),
        (Method::GET, format!("{p}/members"), None),
        (
            Method::PUT,
            format!("{p}/members"),
            Some(json!({"email": "eve@example.com", "role": "owner"})),
        ),
        (Method::DELETE, format!("{p}/members/{any}"), None),
        (Method::GET, format!("{p}/alerts"), None),
        (Method::POST, format!("{p}/alerts"), Some(rule.clone())),
        (Method::GET, format!("{p}/alerts/history"), None),
        (Method::GET, format!("{p}/alerts/{any}"), None),
        (Method::PUT, format!("{p}/alerts/{any}"), Some(rule)),
        (Method::DELETE, format!("{p}/alerts/{any}"), None),
        (Method::GET, format!("{p}/sessions"), None),
        (Method::GET, format!("{p}/sessions/{any}"), None),
        (Method::GET, format!("{p}/sessions/{any}/replay"), None),
        (Method::GET, format!("{p}/overview"), None),
        (Method::GET, format!("{p}/heatmap?path=/"), None),
        (Method::GET, format!("{p}/insights"), None),
        (Method::GET, format!("{p}/errors"), None),
        (Method::GET, format!("{p}/live"), None),
    ]
}

#[tokio::test]
async fn a_member_of_another_project_gets_nothing_from_any_endpoint() {
    let h = Harness::start().await;
    let alice = h.user("alice@example.com", UserRole::User).await;
    let eve = h.user("eve@example.com", UserRole::User).await;
    let project = h.project(&alice, "Alice's shop").await;
    h.project(&eve, "Eve's shop").await;
    let (_, listed) = h.get("/api/v1/projects", &eve).await;
    let names: Vec<&str> = listed["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Eve's shop"]);
    for (method, path, body) in endpoints(&project.to_string()) {
        let (status, answer) = h.call(method.clone(), &path, &eve, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    // Nothing changed: alice still owns it alone, under its name.
    let (status, body) = h.get(&format!("/api/v1/projects/{project}"), &alice).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("Alice's shop")));
    let (_, members) = h
        .get(&format!("/api/v1/projects/{project}/members"), &alice)
        .await;
    assert_eq!(members["members"].as_array().unwrap().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn viewers_read_but_change_nothing() {
    let h = Harness::start().await;
    let alice = h.user("alice@example.com", UserRole::User).await;
    let vic = h.user("vic@example.com", UserRole::User).await;
    let project = h.project(&alice, "Shop").await;
    let p = format!("/api/v1/projects/{project}");
    let (status, _) = h
        .call(
            Method::PUT,
            &format!("{p}/members"),
            &alice,
            Some(json!({"email": "vic@example.com", "role": "viewer"})),
        )
        .await;
    assert_eq!(status, 200);
    for (method, path, body) in endpoints(&project.to_string()) {
        let (status, answer) = h.call(method.clone(), &path, &vic, body).await;
        let writes = method != Method::GET || path.ends_with("/keys");
        if writes {
            assert_eq!(status, 403, "{method} {path}: {answer}");
        } else {
            assert!(
                status == 200 || status == 404 || (status == 400 && path.ends_with("/live")),
                "{method} {path}: {status} {answer}"
            );
        }
    }
    // Replay can be kept from viewers.
    let (status, _) = h
        .call(
            Method::PATCH,
            &p,
            &alice,
            Some(json!({"settings": {"replay": {"viewers_can_watch": false}}})),
        )
        .await;
    assert_eq!(status, 200);
    let any = "00000000-0000-4000-8000-000000000001";
    let (status, _) = h.get(&format!("{p}/sessions/{any}/replay"), &vic).await;
    assert_eq!(status, 403);
    h.stop().await;
}

#[tokio::test]
async fn keys_are_shown_once_stored_hashed_and_revocable() {
    let h = Harness::start().await;
    let alice = h.user("alice@example.com", UserRole::User).await;
    let project = h.project(&alice, "Shop").await;
    let p = format!("/api/v1/projects/{project}");
    let (status, created) = h
        .call(
            Method::POST,
            &format!("{p}/keys"),
            &alice,
            Some(json!({"name": "site", "rate_limit": 50})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("gs_") && key.starts_with(created["prefix"].as_str().unwrap()));
    let (_, listed) = h.get(&format!("{p}/keys"), &alice).await;
    let text = listed.to_string();
    assert!(!text.contains(&key), "a listed key shows only its prefix");
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2);
    let metadata = PostgresMetadata::new(h.pool.clone());
    let record = metadata
        .find_api_key(&hash_api_key(&key))
        .await
        .unwrap()
        .unwrap();
    assert!(record.is_usable(time::OffsetDateTime::now_utc()));
    assert_eq!(record.rate_limit, 50);
    let id = created["id"].as_str().unwrap();
    let (status, _) = h
        .call(Method::DELETE, &format!("{p}/keys/{id}"), &alice, None)
        .await;
    assert_eq!(status, 204);
    let record = metadata
        .find_api_key(&hash_api_key(&key))
        .await
        .unwrap()
        .unwrap();
    assert!(!record.is_usable(time::OffsetDateTime::now_utc()));
    let (status, body) = h
        .call(
            Method::POST,
            &format!("{p}/keys"),
            &alice,
            Some(json!({"expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("expires_at")));
    h.stop().await;
}

#[tokio::test]
async fn members_and_the_last_owner() {
    let h = Harness::start().await;
    let alice = h.user("alice@example.com", UserRole::User).await;
    let adam = h.user("adam@example.com", UserRole::User).await;
    let project = h.project(&alice, "Shop").await;
    let p = format!("/api/v1/projects/{project}");
    let alice_id = h.get("/api/v1/auth/me", &alice).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let put = |email: &str, role: &str| json!({"email": email, "role": role});
    let members = format!("{p}/members");
    assert_eq!(
        h.call(
            Method::PUT,
            &members,
            &alice,
            Some(put("adam@example.com", "admin"))
        )
        .await
        .0,
        200
    );
    // A project admin cannot make owners or remove the owner.
    let (status, _) = h
        .call(
            Method::PUT,
            &members,
            &adam,
            Some(put("adam@example.com", "owner")),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = h
        .call(
            Method::DELETE,
            &format!("{members}/{alice_id}"),
            &adam,
            None,
        )
        .await;
    assert_eq!(status, 403);
    // The last owner cannot step down.
    let (status, body) = h
        .call(
            Method::PUT,
            &members,
            &alice,
            Some(put("alice@example.com", "member")),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = h
        .call(
            Method::PUT,
            &members,
            &alice,
            Some(put("nobody@example.com", "member")),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("email")));
    let (status, body) = h
        .call(
            Method::PUT,
            &members,
            &alice,
            Some(put("adam@example.com", "emperor")),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    h.stop().await;
}

#[tokio::test]
async fn settings_and_alert_rules_are_validated() {
    let h = Harness::start().await;
    let alice = h.user("alice@example.com", UserRole::User).await;
    let project = h.project(&alice, "Shop").await;
    let p = format!("/api/v1/projects/{project}");
    let (status, body) = h
        .call(
            Method::PATCH,
            &p,
            &alice,
            Some(json!({"settings": {"insights": {"rage_min_clicks": "many"}}})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("settings.insights"))
    );
    let (status, body) = h
        .call(
            Method::PATCH,
            &p,
            &alice,
            Some(json!({"allowed_domains": ["shop.example.com"], "settings": {"replay": {"mode": "always", "sampling": 0.5}}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["allowed_domains"], json!(["shop.example.com"]));

    let alerts = format!("{p}/alerts");
    let bad = json!({"name": "x", "condition": {"metric": "js_errors", "op": "~", "threshold": 1, "window_s": 300}});
    let (status, body) = h.call(Method::POST, &alerts, &alice, Some(bad)).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("condition.op"))
    );
    let bad = json!({"name": "x", "condition": {"metric": "js_errors", "op": ">", "threshold": 1, "window_s": 300}, "channels": [{"type": "webhook", "url": "ftp://x"}]});
    let (status, body) = h.call(Method::POST, &alerts, &alice, Some(bad)).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("channels.url"))
    );
    let good = json!({"name": "Errors spike", "condition": {"metric": "js_errors", "op": ">", "threshold": 10, "window_s": 300}, "channels": [{"type": "telegram", "chat_id": "-1001"}, {"type": "webhook", "url": "https://hooks.example.com/x"}]});
    let (status, rule) = h.call(Method::POST, &alerts, &alice, Some(good)).await;
    assert_eq!(status, 201, "{rule}");
    let id = rule["id"].as_str().unwrap();
    let changed = json!({"name": "Errors spike", "enabled": false, "condition": {"metric": "rage_clicks", "op": ">=", "threshold": 3, "window_s": 600}});
    let (status, rule) = h
        .call(
            Method::PUT,
            &format!("{alerts}/{id}"),
            &alice,
            Some(changed),
        )
        .await;
    assert_eq!(status, 200, "{rule}");
    assert_eq!(
        (
            rule["enabled"].as_bool(),
            rule["condition"]["metric"].as_str()
        ),
        (Some(false), Some("rage_clicks"))
    );
    let (_, listed) = h.get(&alerts, &alice).await;
    assert_eq!(listed["rules"].as_array().unwrap().len(), 1);

    // Alerts the evaluator sent, newest first, a page at a time.
    let client = h.pool.get().await.unwrap();
    for value in [11.0f64, 12.0, 13.0] {
        client
            .execute(
                "INSERT INTO alert_history (rule_id, project_id, value, deliveries)
                 VALUES ($1, $2, $3, '{\"webhook\": \"delivered\"}')",
                &[&id.parse::<uuid::Uuid>().unwrap(), &project, &value],
            )
            .await
            .unwrap();
    }
    let (status, page) = h.get(&format!("{alerts}/history?limit=2"), &alice).await;
    assert_eq!(status, 200, "{page}");
    let values: Vec<f64> = page["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [13.0, 12.0]);
    assert_eq!(page["history"][0]["rule_name"], "Errors spike");
    assert_eq!(page["history"][0]["deliveries"]["webhook"], "delivered");
    let cursor = page["next_cursor"].as_i64().unwrap();
    let (_, rest) = h
        .get(
            &format!("{alerts}/history?rule={id}&cursor={cursor}"),
            &alice,
        )
        .await;
    assert_eq!(rest["history"][0]["value"], 11.0);
    assert!(rest["next_cursor"].is_null());
    for bad in ["rule=nope", "limit=0", "limit=500"] {
        let (status, _) = h.get(&format!("{alerts}/history?{bad}"), &alice).await;
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(
        h.call(Method::DELETE, &format!("{alerts}/{id}"), &alice, None)
            .await
            .0,
        204
    );
    assert_eq!(h.get(&format!("{alerts}/{id}"), &alice).await.0, 404);
    let (status, body) = h.get("/api/v1/projects/not-a-uuid", &alice).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("path")));
    h.stop().await;
}

#[tokio::test]
async fn every_documented_route_exists_and_guards_itself() {
    let h = Harness::start().await;
    let response = h.http.get(h.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let doc: serde_json::Value = response.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    let any = "00000000-0000-4000-8000-000000000001";
    for (path, methods) in paths {
        for (method, operation) in methods.as_object().unwrap() {
            operations += 1;
            let concrete: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { any } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut request = h.http.request(method.clone(), h.url(&concrete));
            if operation.get("requestBody").is_some() {
                request = request.json(&json!({}));
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            assert_ne!(
                body["error"], "route not found",
                "{method} {path} is not routed"
            );
            if operation.get("security").is_some() {
                assert_eq!(status, 401, "{method} {path} without a token: {body}");
            } else {
                assert!(status < 500, "{method} {path}: {status} {body}");
            }
        }
    }
    assert_eq!(operations, gosight_api::openapi::ROUTES.len());
    h.stop().await;
}
