//! `gosight standalone`: all of GoSight in one process on embedded storage.
//!
//! Everything lives in one data directory: `bus.db` (the event bus the ingest publishes to and
//! the processor consumes), `analytics.db` (events, sessions, insights, replays),
//! `metadata.db` (users, projects, keys, members, alert rules) and `jwt.secret`. One address
//! serves the SDK endpoints (`/v1/*`), the API (`/api/*`), the dashboard (`/`), `/health`,
//! `/ready` and `/metrics`. The components are the distributed ones on the embedded backends:
//! the same ingest pipeline (a 2xx means the bus committed the batch to `bus.db`), the same
//! processor shard as the only member of its group, the same API handlers, and in-process
//! live fan-out instead of Redis.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use gosight_api::AppState;
use gosight_api::accounts::{UserRole, create_project, create_user, random_token};
use gosight_common::backend::{
    AnalyticsStore, Durability, LiveFanout, LocalBus, LocalBusConfig, LocalFanout, MetadataStore,
    SqliteAnalytics, SqliteMetadata,
};
use gosight_common::config::Secret;
use gosight_common::health::Health;
use gosight_common::shutdown;
use gosight_ingest::{Dependencies, Ingestor};
use gosight_processor::Shard;
use gosight_processor::source::SoleMemberSource;
use tokio_util::sync::CancellationToken;

use super::demo;
use crate::config::Config;

/// The first admin standalone mode creates.
pub const ADMIN_EMAIL: &str = "admin@gosight.local";

/// What the first start created, shown once.
struct FirstRun {
    password: String,
    project_id: uuid::Uuid,
    write_key: String,
}

/// The secret signing access tokens: made on first start and kept, so sign-ins survive restarts.
fn jwt_secret(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("jwt.secret");
    if let Ok(secret) = std::fs::read_to_string(&path)
        && secret.trim().len() >= 32
    {
        return Ok(secret.trim().to_string());
    }
    let secret = random_token::<32>("");
    write_private(&path, &secret)?;
    Ok(secret)
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// While no user exists: an admin with a random password and a first project with a key.
async fn bootstrap(meta: &dyn MetadataStore) -> anyhow::Result<Option<FirstRun>> {
    if meta.count_users().await? > 0 {
        return Ok(None);
    }
    let password = random_token::<12>("");
    create_user(meta, ADMIN_EMAIL, "Admin", &password, UserRole::Admin).await?;
    let project = create_project(meta, "My site", ADMIN_EMAIL).await?;
    Ok(Some(FirstRun {
        password,
        project_id: project.project_id,
        write_key: project.write_key,
    }))
}

fn banner(
    listen: &str,
    first: Option<&FirstRun>,
    demo: Option<&demo::DemoProject>,
    ready_ms: u128,
) {
    let url = format!("http://{listen}/");
    let mut out = format!("\nGoSight is running (ready in {ready_ms} ms)\n\n  dashboard  {url}\n");
    match first {
        Some(first) => {
            out.push_str(&format!(
                "  sign in    {ADMIN_EMAIL} / {}   (shown only now)\n\n\
                 Add this to your site's pages for project \"My site\" ({}); the key is shown only now:\n\n  \
                 <script src=\"http://{listen}/sdk/gosight.iife.js\"></script>\n  \
                 <script>GoSight.init({{ projectKey: \"{}\", endpoint: \"http://{listen}\" }});</script>\n",
                first.password, first.project_id, first.write_key
            ));
        }
        None => out.push_str(&format!(
            "  sign in    with your account ({ADMIN_EMAIL} was created on first start;\n             \
             add users with `gosight user create`); new keys are in Settings → API keys\n"
        )),
    }
    if let Some(demo) = demo {
        out.push_str(&format!(
            "\nDemo traffic is flowing into project \"{}\" ({}).\n",
            demo::DEMO_PROJECT,
            demo.project_id
        ));
    }
    // Not a log line: the one place the first password and key are shown. A closed stdout
    // must not stop the server.
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{out}");
}

pub async fn run(
    config: Config,
    data_dir: &Path,
    listen: &str,
    demo_traffic: bool,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let meta: Arc<dyn MetadataStore> =
        Arc::new(SqliteMetadata::open(data_dir.join("metadata.db")).await?);
    let analytics: Arc<dyn AnalyticsStore> =
        Arc::new(SqliteAnalytics::open(&data_dir.join("analytics.db"), Durability::Process).await?);
    let bus = LocalBus::open(&LocalBusConfig {
        partitions: 4,
        ..LocalBusConfig::at(data_dir.join("bus.db"))
    })
    .with_context(|| format!("opening {}", data_dir.join("bus.db").display()))?;
    let live = Arc::new(LocalFanout::new());
    let topics = config.kafka.topics.clone();
    let first = bootstrap(meta.as_ref()).await?;

    let health = Health::default();
    let token = CancellationToken::new();
    shutdown::on_signal(token.clone(), health.clone());

    // The processor: the only member of its group on the embedded bus.
    health.register("shard");
    let consumer = bus
        .consumer(
            &config.processor.group_id,
            &[&topics.events_raw, &topics.replay_chunks],
        )
        .await?;
    let shard = {
        let (processor, topics, store, stop) = (
            config.processor.clone(),
            topics.clone(),
            analytics.clone(),
            token.clone(),
        );
        let (live, meta): (Arc<dyn LiveFanout>, Arc<dyn MetadataStore>) =
            (live.clone(), meta.clone());
        gosight_processor::spawn_shard(
            move || {
                Shard::new(
                    processor,
                    topics,
                    Box::new(SoleMemberSource::new(consumer)),
                    store,
                    None,
                    Some(live),
                    Some(meta),
                    stop,
                )
            },
            health.clone(),
        )
    };

    // The ingest pipeline, publishing to the embedded bus.
    gosight_common::metrics::handle();
    let ingestor = Arc::new(Ingestor::new(
        config.ingest.clone(),
        Dependencies {
            metadata: meta.clone(),
            bus: Arc::new(bus.clone()),
            topics: topics.clone(),
            redis: None,
            replay_enabled: config.retention.replay_days().is_some(),
        },
    )?);
    health.register("broker");
    health.register("keys");
    gosight_ingest::spawn_readiness(ingestor.clone(), health.clone(), token.clone());

    let mut api_config = config.api.clone();
    api_config.jwt_secret = Secret::new(jwt_secret(data_dir)?);
    let dashboard = gosight_api::dashboard::locate(&api_config.dashboard_dir);
    if dashboard.is_none() {
        tracing::warn!(
            "the dashboard is not built; run `npm ci && npm run build` in dashboard/ (scripts/standalone.sh does)"
        );
    }
    let state = AppState::new(api_config, meta.clone(), analytics, Some(live));
    // The SDK's build, if there is one, at `/sdk/gosight.iife.js` for the snippet.
    let sdk = ["sdk/dist", "../sdk/dist"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|dir| dir.join("gosight.iife.js").is_file());
    let server = {
        let (health, ingestor) = (health.clone(), ingestor.clone());
        HttpServer::new(move || {
            let (health, ingestor, state) = (health.clone(), ingestor.clone(), state.clone());
            let dashboard = dashboard.clone();
            let sdk = sdk.clone();
            App::new()
                .configure(|cfg| health.configure(cfg))
                .configure(|cfg| {
                    if let Some(dir) = sdk {
                        cfg.service(actix_files::Files::new("/sdk", dir));
                    }
                })
                .configure(|cfg| gosight_ingest::configure_http(cfg, ingestor))
                .configure(|cfg| gosight_api::configure_app(cfg, state, dashboard.as_deref()))
                .default_service(web::to(|| async { HttpResponse::NotFound().finish() }))
        })
        .disable_signals()
        .shutdown_timeout(10)
        .bind(listen)
        .with_context(|| format!("listening on {listen}"))?
    };
    let addr = server.addrs()[0].to_string();
    let running = server.run();
    let handle = running.handle();
    let server_task = tokio::spawn(running);

    let demo_project = if demo_traffic {
        let project = demo::prepare(meta.as_ref(), ADMIN_EMAIL).await?;
        tokio::spawn(demo::run(ingestor.clone(), project.clone(), token.clone()));
        Some(project)
    } else {
        None
    };
    banner(
        &addr,
        first.as_ref(),
        demo_project.as_ref(),
        started.elapsed().as_millis(),
    );
    tracing::info!(%addr, data_dir = %data_dir.display(), "standalone listening");

    token.cancelled().await;
    handle.stop(true).await;
    let _ = server_task.await;
    let shard = tokio::task::spawn_blocking(move || shard.join()).await?;
    if let Err(error) = bus.close().await {
        tracing::warn!(%error, "closing the bus");
    }
    match shard {
        Ok(Ok(())) | Ok(Err(gosight_processor::ProcessorError::Stopped)) => Ok(ExitCode::SUCCESS),
        Ok(Err(error)) => Err(error.into()),
        Err(_) => anyhow::bail!("the processor thread panicked"),
    }
}
