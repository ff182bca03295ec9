#![allow(clippy::unwrap_used)]
//! The built dashboard served at `/`: files, the single-page fallback, caching, and `/api`
//! staying the API.

mod harness;

use gosight_api::ApiConfig;
use harness::Harness;

fn build_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gosight-dashboard-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><div id=root></div>").unwrap();
    std::fs::write(dir.join("assets/app-1a2b.js"), "console.log('app')").unwrap();
    std::fs::write(dir.join("favicon.svg"), "<svg/>").unwrap();
    dir
}

#[tokio::test]
async fn serves_the_build_with_a_single_page_fallback() {
    let dir = build_dir();
    let config = ApiConfig {
        dashboard_dir: dir.to_string_lossy().into_owned(),
        ..ApiConfig::default()
    };
    let h = Harness::with_config(config).await;
    let get = |path: &str| h.http.get(h.url(path)).send();

    let index = get("/").await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(index.text().await.unwrap().contains("id=root"));

    for route in [
        "/sessions",
        "/projects/3f1c/sessions/abc",
        "/login?next=%2Flive",
    ] {
        let page = get(route).await.unwrap();
        assert_eq!(page.status(), 200, "{route}");
        assert!(page.text().await.unwrap().contains("id=root"), "{route}");
    }

    let asset = get("/assets/app-1a2b.js").await.unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(asset.headers().contains_key("etag"));
    assert_eq!(asset.text().await.unwrap(), "console.log('app')");
    assert_eq!(get("/favicon.svg").await.unwrap().status(), 200);

    // Missing files stay 404 instead of turning into the app's page.
    assert_eq!(get("/assets/gone-9z.js").await.unwrap().status(), 404);
    assert_eq!(get("/robots.txt").await.unwrap().status(), 404);
    assert_eq!(get("/../Cargo.toml").await.unwrap().status(), 404);

    // The API keeps its own answers.
    for path in ["/api/v1/nope", "/api/other"] {
        let response = get(path).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("route"),
            "{path}: {body}"
        );
    }
    assert_eq!(get("/api/v1/projects").await.unwrap().status(), 401);
    assert_eq!(get("/health").await.unwrap().status(), 200);

    h.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn without_a_build_the_root_says_how_to_make_one() {
    let config = ApiConfig {
        dashboard_dir: "/nonexistent/gosight-dashboard".into(),
        ..ApiConfig::default()
    };
    let h = Harness::with_config(config).await;
    let root = h.http.get(h.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 404);
    assert!(root.text().await.unwrap().contains("npm run build"));
    assert_eq!(
        h.http
            .get(h.url("/api/v1/projects"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    h.stop().await;
}
