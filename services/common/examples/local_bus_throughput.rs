//! Publish and consume throughput of [`LocalBus`]: concurrent publishers of 500-byte records,
//! then one consumer group reading everything back and committing.
//!
//! ```text
//! cargo run --release -p gosight-common --example local_bus_throughput -- [publishers] [records] [normal|full]
//! ```

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use bytes::Bytes;
use gosight_common::backend::{
    BusConsumer, BusRecord, EventBus, LocalBus, LocalBusConfig, Synchronous,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let publishers: usize = args.next().map_or(Ok(64), |a| a.parse())?;
    let records: usize = args.next().map_or(Ok(200_000), |a| a.parse())?;
    let synchronous = match args.next().as_deref() {
        Some("full") => Synchronous::Full,
        _ => Synchronous::Normal,
    };

    let dir = tempfile::tempdir()?;
    let mut config = LocalBusConfig::at(dir.path().join("bus.db"));
    config.synchronous = synchronous;
    let bus = LocalBus::open(&config)?;
    bus.ensure_topic("events", 12).await?;
    let payload = Bytes::from(vec![b'e'; 500]);

    let started = Instant::now();
    let per_publisher = records / publishers;
    let tasks: Vec<_> = (0..publishers)
        .map(|p| {
            let bus = bus.clone();
            let payload = payload.clone();
            tokio::spawn(async move {
                for seq in 0..per_publisher {
                    bus.publish(BusRecord {
                        topic: "events".into(),
                        key: format!("project:session-{}", (p * 7919 + seq) % 10_000),
                        payload: payload.clone(),
                        headers: vec![("traceparent".into(), b"00-0af7651916cd43dd-01".to_vec())],
                    })
                    .await?;
                }
                Ok::<_, gosight_common::Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let published = per_publisher * publishers;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "publish: {published} records of 500 B from {publishers} publishers ({synchronous:?}) in {elapsed:.2} s = {:.0} records/s",
        published as f64 / elapsed
    );

    let consumer = bus.consumer("bench", &["events"]).await?;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(1000);
    for _ in 0..published {
        batch.push(consumer.recv().await?);
        if batch.len() == 1000 {
            consumer.commit(&batch.iter().collect::<Vec<_>>()).await?;
            batch.clear();
        }
    }
    consumer.commit(&batch.iter().collect::<Vec<_>>()).await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "consume: {published} records, committing every 1000, in {elapsed:.2} s = {:.0} records/s",
        published as f64 / elapsed
    );
    let trimmed = bus.trim().await?;
    println!(
        "trim: {trimmed} records deleted, {} left",
        bus.stored_records().await?
    );
    Ok(())
}
