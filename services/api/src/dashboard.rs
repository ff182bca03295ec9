//! Serves the built dashboard (`api.dashboard_dir`): files as they are, `index.html` for every
//! other path outside `/api` so the single-page app's own routes survive a reload.
//!
//! Hashed bundles under `assets/` are cached for a year; `index.html` is revalidated on every
//! load, so a new build is picked up at once.

use std::path::{Path, PathBuf};

use actix_files::{Files, NamedFile};
use actix_web::dev::{ServiceRequest, ServiceResponse, fn_service};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// The build to serve: `dir` when it holds an `index.html`. Logs why there is none otherwise.
pub fn locate(dir: &str) -> Option<PathBuf> {
    if dir.is_empty() {
        return None;
    }
    let root = PathBuf::from(dir);
    if root.join("index.html").is_file() {
        tracing::info!(dashboard_dir = %dir, "serving the dashboard");
        Some(root)
    } else {
        tracing::warn!(
            dashboard_dir = %dir,
            "no dashboard build here; `/` explains how to build one"
        );
        None
    }
}

/// Mounts the dashboard at `/`, or without a build, a page on `/` saying how to make one.
pub fn configure(cfg: &mut web::ServiceConfig, root: Option<&Path>) {
    let Some(root) = root else {
        cfg.route("/", web::get().to(not_built));
        return;
    };
    let index = root.join("index.html");
    cfg.service(
        web::scope("")
            .wrap_fn(|request, service| {
                use actix_web::dev::Service;
                let immutable = request.path().starts_with("/assets/");
                let response = service.call(request);
                async move {
                    let mut response = response.await?;
                    if response.status().is_success() {
                        let value = if immutable { IMMUTABLE } else { REVALIDATE };
                        response
                            .headers_mut()
                            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
                    }
                    Ok(response)
                }
            })
            .service(
                Files::new("/", root)
                    .index_file("index.html")
                    .use_etag(true)
                    .use_last_modified(true)
                    .default_handler(fn_service(move |request: ServiceRequest| {
                        let index = index.clone();
                        async move { spa_fallback(request, &index).await }
                    })),
            ),
    );
}

/// A path the build has no file for: the app's `index.html`, unless it looks like a missing
/// file (`/assets/…` or a name with an extension), which stays a 404.
async fn spa_fallback(
    request: ServiceRequest,
    index: &Path,
) -> Result<ServiceResponse, actix_web::Error> {
    let (request, _) = request.into_parts();
    let path = request.path();
    let last = path.rsplit('/').next().unwrap_or_default();
    if path.starts_with("/assets/") || last.contains('.') {
        return Ok(ServiceResponse::new(
            request,
            HttpResponse::NotFound().finish(),
        ));
    }
    let response = NamedFile::open_async(index)
        .await?
        .use_etag(true)
        .into_response(&request);
    Ok(ServiceResponse::new(request, response))
}

async fn not_built() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body(
            "The GoSight dashboard is not built here. Run `npm ci && npm run build` in \
             dashboard/, or point api.dashboard_dir at a build.\n",
        )
}
