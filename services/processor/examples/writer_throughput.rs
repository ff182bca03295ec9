//! One `TableWriter` into ClickHouse: inserts N event rows (default 500,000) in batches of
//! 10,000 through Add/Flush, as a shard round does, and reports rows per second.
//!
//! `eval "$(bash scripts/services.sh env)"; cargo run --release -p gosight-processor --example writer_throughput [ROWS] [--without-views] [--full-rows]`
//!
//! `--without-views` drops the materialized views fed by `events` in the bench database first:
//! the insert's own cost, apart from the rollups it feeds.
//!
//! `--full-rows` fills the rows like the clicks of `gosight-loadgen` (`--event-bytes 500`): a
//! URL with a query, the target's selector and text, and a `payload` column of about 400 bytes.
//! By default the rows are sparse, with a `payload` of about 70 bytes.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use actix::prelude::*;
use gosight_common::backend::EventRow;
use gosight_common::migrate::{self, ClickHouseTarget};
use gosight_common::retention::RetentionConfig;
use gosight_common::testing::{Engines, unique_name};
use gosight_processor::actors::{Add, Flush, TableWriter};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(500_000);
    let without_views = args.iter().any(|a| a == "--without-views");
    let full_rows = args.iter().any(|a| a == "--full-rows");
    System::new().block_on(async move {
        let engines = Engines::from_env();
        let mut config = engines.clickhouse.clone();
        config.database = unique_name("bench");
        migrate::run(&ClickHouseTarget::new(config.clone()), &migrate::embedded("clickhouse").unwrap(), &RetentionConfig::default())
            .await
            .unwrap();
        if without_views {
            let client = config.client();
            let views: Vec<String> = client
                .query("SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'")
                .fetch_all()
                .await
                .unwrap();
            for view in &views {
                client.query(&format!("DROP VIEW {view}")).execute().await.unwrap();
            }
            println!("dropped {} views", views.len());
        }
        let writer = TableWriter::<EventRow>::new(std::sync::Arc::new(gosight_common::backend::ClickHouseStore::new(&config)), "events", 10_000, CancellationToken::new()).start();
        let project = Uuid::new_v4();
        let now = OffsetDateTime::now_utc();
        let sessions: Vec<Uuid> = (0..1000).map(|_| Uuid::new_v4()).collect();
        let batches: Vec<Vec<EventRow>> = (0..total / 10_000)
            .map(|b| {
                (0..10_000)
                    .map(|i| {
                        let n = b * 10_000 + i;
                        let mut row = EventRow::new(project, sessions[n % 1000], Uuid::new_v4(), "click", now - Duration::from_millis(n as u64));
                        let page = n % 500;
                        row.path = format!("/products/{page}").into();
                        row.x = (n % 1280) as i32;
                        row.viewport_width = 1280;
                        if full_rows {
                            full_row(&mut row, n, page);
                        } else {
                            row.url = format!("https://shop.example/products/{page}").into();
                            row.target_selector = "main > button.buy".into();
                            row.payload = format!("{{\"eventId\":\"{n}\",\"type\":\"EVENT_TYPE_CLICK\",\"click\":{{\"x\":{}}}}}", n % 1280);
                        }
                        row
                    })
                    .collect()
            })
            .collect();
        let started = Instant::now();
        let mut written = 0;
        for batch in batches {
            writer.do_send(Add(batch));
            written += writer.send(Flush).await.unwrap().unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        println!("rows={written} seconds={secs:.2} rows_per_s={:.0}", written as f64 / secs);
        engines.drop_clickhouse_database(&config).await.unwrap();
    });
}

/// The columns `gosight-loadgen --event-bytes 500` fills for a click, with the same filler.
fn full_row(row: &mut EventRow, n: usize, page: usize) {
    let filler: String = "abcdefghij".repeat(8);
    let (x, y) = (n * 37 % 1280, n * 53 % 720);
    let selector = format!("main > section:nth-child(2) > button#buy-{page}.{filler}");
    row.url = format!("https://shop.example/products/{page}?ref={filler}").into();
    row.title = "Product page".into();
    row.y = y as i32;
    row.page_x = x as i32;
    row.page_y = (n * 91 % 4000) as i32;
    row.viewport_height = 720;
    row.document_height = 4000;
    row.target_tag = "button".into();
    row.target_text = filler.clone().into();
    row.payload = format!(
        "{{\"click\":{{\"x\":{x},\"y\":{y},\"pageX\":{x},\"pageY\":{},\"viewportWidth\":1280,\"viewportHeight\":720,\"documentHeight\":4000,\"target\":{{\"tag\":\"button\",\"id\":\"buy-{page}\",\"classes\":[\"btn\",\"btn-primary\"],\"selector\":\"{selector}\",\"text\":\"{filler}\"}}}}}}",
        n * 91 % 4000
    );
    row.target_selector = selector.into();
}
