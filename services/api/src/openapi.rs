//! The OpenAPI 3.1 document served at `/api/openapi.json`, built from [`ROUTES`]: one entry per
//! route the server registers (a test calls every one of them to show they exist).

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// Needs a bearer token.
    pub auth: bool,
    /// Query parameters as `name:type` (`string`, `integer`, `boolean`, `date-time`).
    pub query: &'static [&'static str],
    /// Takes a JSON body.
    pub body: bool,
}

const RANGE: &[&str] = &["from:date-time", "to:date-time"];

const fn r(method: &'static str, path: &'static str, summary: &'static str) -> Route {
    Route {
        method,
        path,
        summary,
        auth: true,
        query: &[],
        body: false,
    }
}

const fn with_body(route: Route) -> Route {
    Route {
        body: true,
        ..route
    }
}

const fn public(route: Route) -> Route {
    Route {
        auth: false,
        ..route
    }
}

const fn with_query(route: Route, query: &'static [&'static str]) -> Route {
    Route { query, ..route }
}

pub const ROUTES: &[Route] = &[
    public(with_body(r(
        "post",
        "/api/v1/auth/login",
        "Sign in with email and password",
    ))),
    public(with_body(r(
        "post",
        "/api/v1/auth/refresh",
        "Rotate a refresh token",
    ))),
    public(with_body(r(
        "post",
        "/api/v1/auth/logout",
        "Revoke a refresh token's family",
    ))),
    r("get", "/api/v1/auth/me", "The signed-in user"),
    public(r(
        "get",
        "/api/v1/auth/setup",
        "Whether the first admin must be created",
    )),
    public(with_body(r(
        "post",
        "/api/v1/auth/setup",
        "Create the first admin",
    ))),
    r("get", "/api/v1/projects", "The caller's projects"),
    with_body(r("post", "/api/v1/projects", "Create a project")),
    r("get", "/api/v1/projects/{id}", "A project"),
    with_body(r("patch", "/api/v1/projects/{id}", "Change a project")),
    r("delete", "/api/v1/projects/{id}", "Delete a project"),
    r(
        "get",
        "/api/v1/projects/{id}/keys",
        "Write keys (prefixes only)",
    ),
    with_body(r(
        "post",
        "/api/v1/projects/{id}/keys",
        "Create a write key",
    )),
    r(
        "delete",
        "/api/v1/projects/{id}/keys/{key}",
        "Revoke a write key",
    ),
    r("get", "/api/v1/projects/{id}/members", "Members"),
    with_body(r(
        "put",
        "/api/v1/projects/{id}/members",
        "Add a member or change a role",
    )),
    r(
        "delete",
        "/api/v1/projects/{id}/members/{user}",
        "Remove a member",
    ),
    r("get", "/api/v1/projects/{id}/alerts", "Alert rules"),
    with_body(r(
        "post",
        "/api/v1/projects/{id}/alerts",
        "Create an alert rule",
    )),
    with_query(
        r(
            "get",
            "/api/v1/projects/{id}/alerts/history",
            "Alerts sent, newest first",
        ),
        &["rule:string", "limit:integer", "cursor:integer"],
    ),
    r(
        "get",
        "/api/v1/projects/{id}/alerts/{rule}",
        "An alert rule",
    ),
    with_body(r(
        "put",
        "/api/v1/projects/{id}/alerts/{rule}",
        "Replace an alert rule",
    )),
    r(
        "delete",
        "/api/v1/projects/{id}/alerts/{rule}",
        "Delete an alert rule",
    ),
    with_query(
        r(
            "get",
            "/api/v1/projects/{id}/sessions",
            "Sessions, filtered and paginated",
        ),
        &[
            "from:date-time",
            "to:date-time",
            "user_id:string",
            "anonymous_id:string",
            "path:string",
            "url:string",
            "country:string",
            "device:string",
            "browser:string",
            "has_error:boolean",
            "has_rage_click:boolean",
            "has_dead_click:boolean",
            "min_duration_ms:integer",
            "max_duration_ms:integer",
            "min_events:integer",
            "sort:string",
            "order:string",
            "limit:integer",
            "cursor:string",
        ],
    ),
    r(
        "get",
        "/api/v1/projects/{id}/sessions/{session}",
        "A session, its timeline and insights",
    ),
    r(
        "delete",
        "/api/v1/projects/{id}/sessions/{session}",
        "Delete a session: its events, replay and insights",
    ),
    with_body(r(
        "post",
        "/api/v1/projects/{id}/erasure",
        "Erase every session of a user_id or an anonymous_id",
    )),
    r(
        "get",
        "/api/v1/projects/{id}/sessions/{session}/replay",
        "Replay chunks as NDJSON, in order",
    ),
    with_query(
        r(
            "get",
            "/api/v1/projects/{id}/funnel",
            "Sessions doing steps (page:/path, event:name) in order",
        ),
        &["step:string", "from:date-time", "to:date-time"],
    ),
    with_query(
        r(
            "get",
            "/api/v1/projects/{id}/overview",
            "Overview metrics and series",
        ),
        RANGE,
    ),
    with_query(
        r(
            "get",
            "/api/v1/projects/{id}/heatmap",
            "Click grid, scroll depth, top elements",
        ),
        &[
            "from:date-time",
            "to:date-time",
            "path:string",
            "device:string",
        ],
    ),
    with_query(
        r(
            "get",
            "/api/v1/projects/{id}/insights",
            "Insights grouped by type, path, selector",
        ),
        &[
            "from:date-time",
            "to:date-time",
            "type:string",
            "path:string",
            "limit:integer",
        ],
    ),
    with_query(
        r(
            "get",
            "/api/v1/projects/{id}/errors",
            "Errors grouped by fingerprint",
        ),
        &["from:date-time", "to:date-time", "limit:integer"],
    ),
    r(
        "get",
        "/api/v1/projects/{id}/live",
        "WebSocket of live sessions",
    ),
];

fn schema(kind: &str) -> Value {
    match kind {
        "date-time" => json!({"type": "string", "format": "date-time"}),
        "integer" => json!({"type": "integer", "minimum": 0}),
        "boolean" => json!({"type": "boolean"}),
        _ => json!({"type": "string"}),
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                       "schema": {"type": "string", "format": "uuid"}})
            })
            .collect();
        for q in route.query {
            let (name, kind) = q.split_once(':').unwrap_or((q, "string"));
            parameters.push(json!({"name": name, "in": "query", "required": name == "path" && route.path.ends_with("/heatmap"), "schema": schema(kind)}));
        }
        let mut operation = json!({
            "summary": route.summary,
            "parameters": parameters,
            "responses": {
                "200": {"description": "success"},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
                "503": {"$ref": "#/components/responses/Error"},
            },
        });
        if route.auth {
            operation["security"] = json!([{"bearer": []}]);
        }
        if route.body {
            operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "GoSight API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "responses": {"Error": {"description": "an error", "content": {"application/json": {"schema": {
                "type": "object", "required": ["error"],
                "properties": {"error": {"type": "string"}, "field": {"type": "string"}}
            }}}}},
        },
    })
}

/// `GET /api/openapi.json`
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
