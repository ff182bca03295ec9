//! How much CPU the local Kafka-protocol broker spends with nothing to do: first with no
//! client, then with one idle producer (GoSight's producer settings) that has sent a single
//! record, as an ingest between requests has, then with that producer, a second one and an idle
//! consumer connected, as during an end-to-end run (ingest, processor, its insight producer).
//! The figure explains how much of this machine the end-to-end benchmarks have left for GoSight
//! itself.
//!
//! ```text
//! bash scripts/services.sh start && eval "$(bash scripts/services.sh env)"
//! cargo run --release -p gosight-common --example broker_cpu -- [broker-pid] [seconds]
//! ```
//!
//! Without a pid, the first process whose command line contains `noida-db start` is measured.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Duration;

use gosight_common::kafka::KafkaConfig;
use rdkafka::consumer::Consumer;
use rdkafka::producer::{FutureProducer, FutureRecord};

/// User + system CPU seconds of `pid` so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn find_broker() -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains("noida-db start").then_some(pid)
        })
}

/// A producer with GoSight's settings that has sent one record to `topic`.
async fn producer_after_a_record(
    config: &KafkaConfig,
    topic: &str,
) -> Result<FutureProducer, Box<dyn std::error::Error + Send + Sync>> {
    let producer = config.producer()?;
    producer
        .send(
            FutureRecord::to(topic).key("k").payload("one record"),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)?;
    Ok(producer)
}

async fn share_of_a_core(pid: u32, seconds: u64) -> f64 {
    let before = cpu_seconds(pid);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    (cpu_seconds(pid) - before) / seconds as f64
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let pid = match args.next() {
        Some(pid) => pid.parse()?,
        None => find_broker().ok_or("no broker process found; pass its pid")?,
    };
    let seconds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let config = KafkaConfig {
        brokers: std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()),
        ..KafkaConfig::default()
    };

    println!("broker pid {pid}, {seconds} s per step");
    println!(
        "no client:                        {:.2} cores",
        share_of_a_core(pid, seconds).await
    );
    let topic = format!("broker-cpu-{}", std::process::id());
    let producer = producer_after_a_record(&config, &topic).await?;
    println!(
        "one idle producer after a record: {:.2} cores",
        share_of_a_core(pid, seconds).await
    );
    let second = producer_after_a_record(&config, &topic).await?;
    let consumer = config.consumer(&format!("{topic}-group"), None)?;
    consumer.subscribe(&[topic.as_str()])?;
    let _ = tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await;
    println!(
        "two producers and a consumer:     {:.2} cores",
        share_of_a_core(pid, seconds).await
    );
    drop((producer, second, consumer));
    tokio::time::sleep(Duration::from_secs(3)).await;
    for step in 1..=3 {
        println!(
            "producer closed, {step}:               {:.2} cores",
            share_of_a_core(pid, seconds).await
        );
    }
    Ok(())
}
