//! The [`EventBus`] / [`BusConsumer`] contract, written once and run against both
//! implementations: `local::*` on a [`LocalBus`] in a temporary directory, `kafka::*` on the
//! broker that `scripts/services.sh start` runs (each case on its own topic). After the shared
//! cases come the LocalBus-only ones: restart, `kill -9`, trimming, back-pressure.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gosight_common::Error;
use gosight_common::backend::{
    BusConsumer, BusMessage, BusRecord, Delivery, EventBus, KafkaBus, KafkaBusConsumer, LocalBus,
    LocalBusConfig,
};
use gosight_common::testing::{Engines, unique_name};

const WAIT: Duration = Duration::from_secs(30);
/// How long "nothing more arrives" is watched for.
const QUIET: Duration = Duration::from_secs(2);

/// One bus implementation under test.
trait Harness {
    fn bus(&self) -> &dyn EventBus;
    /// A topic of its own with `partitions` partitions.
    async fn topic(&self, partitions: i32) -> String;
    async fn consumer(&self, group: &str, topic: &str) -> Box<dyn BusConsumer>;
}

struct Local {
    _dir: tempfile::TempDir,
    bus: LocalBus,
}

impl Local {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bus = LocalBus::open(&LocalBusConfig::at(dir.path().join("bus.db"))).unwrap();
        Self { _dir: dir, bus }
    }
}

impl Harness for Local {
    fn bus(&self) -> &dyn EventBus {
        &self.bus
    }

    async fn topic(&self, partitions: i32) -> String {
        let name = unique_name("topic");
        assert_eq!(
            self.bus.ensure_topic(&name, partitions).await.unwrap(),
            partitions
        );
        name
    }

    async fn consumer(&self, group: &str, topic: &str) -> Box<dyn BusConsumer> {
        Box::new(self.bus.consumer(group, &[topic]).await.unwrap())
    }
}

struct Kafka {
    engines: Engines,
    bus: KafkaBus,
    topics: Mutex<Vec<String>>,
}

impl Kafka {
    fn new() -> Self {
        let engines = Engines::from_env();
        let bus = KafkaBus::new(&engines.kafka).unwrap();
        Self {
            engines,
            bus,
            topics: Mutex::new(Vec::new()),
        }
    }

    async fn finish(self) {
        let topics = self.topics.lock().unwrap().clone();
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        self.engines.kafka.delete_topics(&names).await.unwrap();
    }
}

impl Harness for Kafka {
    fn bus(&self) -> &dyn EventBus {
        &self.bus
    }

    async fn topic(&self, partitions: i32) -> String {
        let name = self.engines.kafka_topic(partitions).await.unwrap();
        self.topics.lock().unwrap().push(name.clone());
        name
    }

    async fn consumer(&self, group: &str, topic: &str) -> Box<dyn BusConsumer> {
        Box::new(KafkaBusConsumer::new(&self.engines.kafka, group, None, &[topic]).unwrap())
    }
}

/// Runs each case against both implementations: `local::<case>` and `kafka::<case>`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::Local::new()).await;
                }
            )*
        }
        mod kafka {
            $(
                #[tokio::test]
                async fn $case() {
                    let harness = super::Kafka::new();
                    super::$case(&harness).await;
                    harness.finish().await;
                }
            )*
        }
    };
}

conformance!(
    publish_answers_partition_and_consecutive_offsets,
    one_key_stays_in_one_partition_in_publish_order,
    different_keys_spread_over_partitions,
    a_group_receives_everything_published,
    recv_waits_for_the_next_record,
    a_new_member_resumes_after_the_commit_and_gets_the_rest_again,
    committed_reports_what_was_committed,
    two_groups_are_independent,
    headers_keys_and_binary_payloads_round_trip,
    publish_all_stores_every_record_in_key_order,
);

fn record(topic: &str, key: &str, payload: impl Into<Bytes>) -> BusRecord {
    BusRecord {
        topic: topic.to_string(),
        key: key.to_string(),
        payload: payload.into(),
        headers: vec![],
    }
}

async fn publish(bus: &dyn EventBus, record: BusRecord) -> Delivery {
    tokio::time::timeout(WAIT, bus.publish(record))
        .await
        .expect("publish timed out")
        .unwrap()
}

/// Publishes `count` records round-robin over `keys`, payload `<key>/<seq>`.
async fn publish_many(
    bus: &dyn EventBus,
    topic: &str,
    keys: &[&str],
    count: usize,
) -> Vec<Delivery> {
    let mut deliveries = Vec::with_capacity(count);
    for seq in 0..count {
        let key = keys[seq % keys.len()];
        deliveries.push(publish(bus, record(topic, key, format!("{key}/{seq}"))).await);
    }
    deliveries
}

async fn take(consumer: &dyn BusConsumer, count: usize) -> Vec<BusMessage> {
    let mut messages = Vec::with_capacity(count);
    while messages.len() < count {
        let message = tokio::time::timeout(WAIT, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out after {} of {count} messages", messages.len()))
            .unwrap();
        messages.push(message);
    }
    messages
}

async fn assert_nothing_more(consumer: &dyn BusConsumer) {
    if let Ok(message) = tokio::time::timeout(QUIET, consumer.recv()).await {
        panic!(
            "expected no more messages, got {:?}",
            message.map(|m| m.payload)
        );
    }
}

fn text(message: &BusMessage) -> String {
    String::from_utf8(message.payload.to_vec()).unwrap()
}

fn positions(messages: &[BusMessage]) -> HashSet<(i32, i64)> {
    messages.iter().map(|m| (m.partition, m.offset)).collect()
}

async fn publish_answers_partition_and_consecutive_offsets(h: &impl Harness) {
    let topic = h.topic(3).await;
    let deliveries = publish_many(h.bus(), &topic, &["one-key"], 5).await;
    let partition = deliveries[0].partition;
    assert!((0..3).contains(&partition), "{deliveries:?}");
    let offsets: Vec<i64> = deliveries.iter().map(|d| d.offset).collect();
    assert_eq!(
        offsets,
        vec![0, 1, 2, 3, 4],
        "a fresh partition counts from 0"
    );
    assert!(deliveries.iter().all(|d| d.partition == partition));
}

async fn one_key_stays_in_one_partition_in_publish_order(h: &impl Harness) {
    let topic = h.topic(4).await;
    let keys = ["project:s-a", "project:s-b", "project:s-c"];
    let deliveries = publish_many(h.bus(), &topic, &keys, 30).await;
    let mut partition_of_key = HashMap::new();
    for (seq, delivery) in deliveries.iter().enumerate() {
        let key = keys[seq % keys.len()];
        let first = *partition_of_key.entry(key).or_insert(delivery.partition);
        assert_eq!(first, delivery.partition, "{key} moved partitions");
    }

    let consumer = h.consumer(&unique_name("group"), &topic).await;
    let messages = take(consumer.as_ref(), 30).await;
    for key in keys {
        let of_key: Vec<&BusMessage> = messages
            .iter()
            .filter(|m| m.key.as_deref() == Some(key.as_bytes()))
            .collect();
        let order: Vec<String> = of_key.iter().map(|m| text(m)).collect();
        let expected: Vec<String> = (0..30)
            .filter(|seq| keys[seq % keys.len()] == key)
            .map(|seq| format!("{key}/{seq}"))
            .collect();
        assert_eq!(order, expected, "per-key order");
        assert!(of_key.iter().all(|m| m.partition == partition_of_key[key]));
        assert!(of_key.windows(2).all(|w| w[0].offset < w[1].offset));
    }
}

async fn publish_all_stores_every_record_in_key_order(h: &impl Harness) {
    let topic = h.topic(4).await;
    let keys = ["project:s-a", "project:s-b", "project:s-c"];
    let records: Vec<BusRecord> = (0..60)
        .map(|seq| {
            let key = keys[seq % keys.len()];
            record(&topic, key, format!("{key}/{seq}"))
        })
        .collect();
    tokio::time::timeout(WAIT, h.bus().publish_all(records))
        .await
        .expect("publish_all timed out")
        .unwrap();
    h.bus().publish_all(Vec::new()).await.unwrap();

    let consumer = h.consumer(&unique_name("group"), &topic).await;
    let messages = take(consumer.as_ref(), 60).await;
    for key in keys {
        let order: Vec<String> = messages
            .iter()
            .filter(|m| m.key.as_deref() == Some(key.as_bytes()))
            .map(text)
            .collect();
        let expected: Vec<String> = (0..60)
            .filter(|seq| keys[seq % keys.len()] == key)
            .map(|seq| format!("{key}/{seq}"))
            .collect();
        assert_eq!(order, expected, "per-key order");
    }
    assert_nothing_more(consumer.as_ref()).await;
}

async fn different_keys_spread_over_partitions(h: &impl Harness) {
    let topic = h.topic(4).await;
    let keys: Vec<String> = (0..64).map(|i| format!("project:session-{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let deliveries = publish_many(h.bus(), &topic, &keys, keys.len()).await;
    let used: HashSet<i32> = deliveries.iter().map(|d| d.partition).collect();
    assert_eq!(
        used,
        HashSet::from([0, 1, 2, 3]),
        "64 keys use every partition"
    );
}

async fn a_group_receives_everything_published(h: &impl Harness) {
    let topic = h.topic(4).await;
    let keys = ["a", "b", "c", "d", "e", "f", "g"];
    let deliveries = publish_many(h.bus(), &topic, &keys, 70).await;
    let consumer = h.consumer(&unique_name("group"), &topic).await;
    let messages = take(consumer.as_ref(), 70).await;
    let published: HashSet<(i32, i64)> =
        deliveries.iter().map(|d| (d.partition, d.offset)).collect();
    assert_eq!(positions(&messages), published);
    assert!(messages.iter().all(|m| m.topic == topic));
    // The message at a delivery's position is the record published there.
    let by_position: HashMap<(i32, i64), String> = messages
        .iter()
        .map(|m| ((m.partition, m.offset), text(m)))
        .collect();
    for (seq, delivery) in deliveries.iter().enumerate() {
        let key = keys[seq % keys.len()];
        assert_eq!(
            by_position[&(delivery.partition, delivery.offset)],
            format!("{key}/{seq}")
        );
    }
    assert_nothing_more(consumer.as_ref()).await;
}

async fn recv_waits_for_the_next_record(h: &impl Harness) {
    let topic = h.topic(2).await;
    let consumer = h.consumer(&unique_name("group"), &topic).await;
    let waiting = tokio::time::timeout(QUIET, consumer.recv()).await;
    assert!(waiting.is_err(), "recv returned with nothing published");
    let recv = consumer.recv();
    tokio::pin!(recv);
    // Publish while recv is pending: it wakes up without any further call.
    let published = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        publish(h.bus(), record(&topic, "k", "late")).await
    };
    let (message, delivery) = tokio::join!(tokio::time::timeout(WAIT, recv), published);
    let message = message.expect("recv did not wake up").unwrap();
    assert_eq!(text(&message), "late");
    assert_eq!(
        (message.partition, message.offset),
        (delivery.partition, delivery.offset)
    );
}

async fn a_new_member_resumes_after_the_commit_and_gets_the_rest_again(h: &impl Harness) {
    let topic = h.topic(2).await;
    publish_many(h.bus(), &topic, &["k1", "k2", "k3"], 12).await;
    let group = unique_name("group");
    let consumer = h.consumer(&group, &topic).await;
    let messages = take(consumer.as_ref(), 12).await;
    let (done, rest) = messages.split_at(7);
    let done: Vec<&BusMessage> = done.iter().collect();
    consumer.commit(&done).await.unwrap();
    drop(consumer);

    let consumer = h.consumer(&group, &topic).await;
    let again = take(consumer.as_ref(), rest.len()).await;
    assert_eq!(
        positions(&again),
        positions(rest),
        "exactly the uncommitted ones again"
    );
    assert_nothing_more(consumer.as_ref()).await;

    let delivery = publish(h.bus(), record(&topic, "k1", "after")).await;
    let next = take(consumer.as_ref(), 1).await;
    assert_eq!(text(&next[0]), "after");
    assert_eq!(
        (next[0].partition, next[0].offset),
        (delivery.partition, delivery.offset)
    );
}

async fn committed_reports_what_was_committed(h: &impl Harness) {
    let topic = h.topic(3).await;
    let group = unique_name("group");
    let consumer = h.consumer(&group, &topic).await;
    // Two keys on distinct partitions, so that one partition stays uncommitted.
    let (first, second) = two_keys_on_distinct_partitions(h, 3).await;
    publish_many(h.bus(), &topic, &[&first, &second], 6).await;
    let messages = take(consumer.as_ref(), 6).await;
    let before = consumer.committed(&topic, 3).await.unwrap();
    assert_eq!(before, vec![(0, None), (1, None), (2, None)]);

    let of_first: Vec<&BusMessage> = messages
        .iter()
        .filter(|m| m.key.as_deref() == Some(first.as_bytes()))
        .collect();
    consumer.commit(&of_first[..2]).await.unwrap();
    let partition = of_first[0].partition;
    let expected: Vec<(i32, Option<i64>)> = (0..3)
        .map(|p| (p, (p == partition).then_some(of_first[1].offset + 1)))
        .collect();
    assert_eq!(consumer.committed(&topic, 3).await.unwrap(), expected);
}

/// Two keys that the bus puts on different partitions of a `partitions`-partition topic, found
/// by publishing probes to a scratch topic (the partition depends only on key and count).
async fn two_keys_on_distinct_partitions(h: &impl Harness, partitions: i32) -> (String, String) {
    let probes = h.topic(partitions).await;
    let mut seen: HashMap<i32, String> = HashMap::new();
    for i in 0.. {
        let key = format!("key-{i}");
        let delivery = publish(h.bus(), record(&probes, &key, "probe")).await;
        seen.entry(delivery.partition).or_insert(key);
        if seen.len() == 2 {
            break;
        }
    }
    let mut keys = seen.into_values();
    (keys.next().unwrap(), keys.next().unwrap())
}

async fn two_groups_are_independent(h: &impl Harness) {
    let topic = h.topic(2).await;
    publish_many(h.bus(), &topic, &["a", "b", "c"], 9).await;
    let group_a = unique_name("group");
    let group_b = unique_name("group");

    let a = h.consumer(&group_a, &topic).await;
    let seen_a = take(a.as_ref(), 9).await;
    let refs: Vec<&BusMessage> = seen_a.iter().collect();
    a.commit(&refs).await.unwrap();
    drop(a);

    // B has its own offsets: it starts from the oldest record despite A's commit.
    let b = h.consumer(&group_b, &topic).await;
    let seen_b = take(b.as_ref(), 9).await;
    assert_eq!(positions(&seen_b), positions(&seen_a));
    assert_eq!(
        b.committed(&topic, 2).await.unwrap(),
        vec![(0, None), (1, None)]
    );
    drop(b);

    let a = h.consumer(&group_a, &topic).await;
    assert_nothing_more(a.as_ref()).await;
    drop(a);
    let b = h.consumer(&group_b, &topic).await;
    assert_eq!(take(b.as_ref(), 9).await.len(), 9, "B committed nothing");
}

async fn headers_keys_and_binary_payloads_round_trip(h: &impl Harness) {
    let topic = h.topic(1).await;
    let payload: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let headers = vec![
        (
            "traceparent".to_string(),
            b"00-4bf92f3577b34da6-00f067aa0ba902b7-01".to_vec(),
        ),
        ("binary".to_string(), vec![0, 1, 0xfe, 0xff, 0]),
    ];
    let key = "project:ß-session";
    publish(
        h.bus(),
        BusRecord {
            topic: topic.clone(),
            key: key.to_string(),
            payload: Bytes::from(payload.clone()),
            headers: headers.clone(),
        },
    )
    .await;
    publish(h.bus(), record(&topic, key, Bytes::new())).await;

    let consumer = h.consumer(&unique_name("group"), &topic).await;
    let messages = take(consumer.as_ref(), 2).await;
    assert_eq!(messages[0].payload.as_ref(), payload.as_slice());
    assert_eq!(messages[0].headers, headers);
    assert_eq!(messages[0].key.as_deref(), Some(key.as_bytes()));
    assert!(messages[1].payload.is_empty());
    assert!(messages[1].headers.is_empty());
}

// ---- LocalBus only ----

fn local_config(dir: &Path) -> LocalBusConfig {
    LocalBusConfig::at(dir.join("bus.db"))
}

#[tokio::test]
async fn local_reopen_keeps_records_offsets_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    let group = "processor";
    let (rest, next_offsets) = {
        let bus = LocalBus::open(&local_config(dir.path())).unwrap();
        bus.ensure_topic("events", 3).await.unwrap();
        let deliveries = publish_many(&bus, "events", &["a", "b", "c", "d"], 20).await;
        let consumer = bus.consumer(group, &["events"]).await.unwrap();
        let messages = take(&consumer, 20).await;
        let done: Vec<&BusMessage> = messages[..12].iter().collect();
        consumer.commit(&done).await.unwrap();
        let mut next = BTreeMap::new();
        for d in &deliveries {
            next.insert(d.partition, d.offset + 1);
        }
        (messages[12..].to_vec(), next)
        // The bus and its consumer are dropped here: the writer stops and the file is closed.
    };

    let bus = LocalBus::open(&local_config(dir.path())).unwrap();
    assert_eq!(
        bus.ensure_topic("events", 8).await.unwrap(),
        3,
        "partitions are fixed"
    );
    let consumer = bus.consumer(group, &["events"]).await.unwrap();
    let again = take(&consumer, rest.len()).await;
    assert_eq!(positions(&again), positions(&rest));
    let by_position: HashMap<_, _> = rest
        .iter()
        .map(|m| ((m.partition, m.offset), text(m)))
        .collect();
    assert!(
        again
            .iter()
            .all(|m| by_position[&(m.partition, m.offset)] == text(m))
    );
    assert_nothing_more(&consumer).await;

    // Offsets continue where they were in each partition.
    for (partition, next) in next_offsets {
        let key = (0..)
            .map(|i| format!("probe-{i}"))
            .find(|k| fnv1a_partition(k, 3) == partition)
            .unwrap();
        let delivery = publish(&bus, record("events", &key, "after restart")).await;
        assert_eq!((delivery.partition, delivery.offset), (partition, next));
    }
}

/// FNV-1a, as documented in `local_bus`: the test states the partitioning independently.
fn fnv1a_partition(key: &str, partitions: u64) -> i32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % partitions) as i32
}

#[tokio::test]
async fn local_file_is_refused_to_a_second_opener_and_a_group_to_a_second_member() {
    let dir = tempfile::tempdir().unwrap();
    let bus = LocalBus::open(&local_config(dir.path())).unwrap();
    let second = LocalBus::open(&local_config(dir.path()));
    assert!(
        second.is_err(),
        "two writers on one file would assign the same offsets"
    );

    let consumer = bus.consumer("g", &["t"]).await.unwrap();
    assert!(bus.consumer("g", &["t"]).await.is_err());
    drop(consumer);
    bus.consumer("g", &["t"]).await.unwrap();
}

#[tokio::test]
async fn local_trim_deletes_only_what_every_group_committed() {
    let dir = tempfile::tempdir().unwrap();
    let bus = LocalBus::open(&local_config(dir.path())).unwrap();
    bus.ensure_topic("events", 4).await.unwrap();
    let fast = bus.consumer("fast", &["events"]).await.unwrap();
    let slow = bus.consumer("slow", &["events"]).await.unwrap();
    publish_many(&bus, "events", &["a", "b", "c", "d", "e"], 100).await;

    let seen = take(&fast, 100).await;
    fast.commit(&seen.iter().collect::<Vec<_>>()).await.unwrap();
    assert_eq!(bus.trim().await.unwrap(), 0, "slow has committed nothing");
    assert_eq!(bus.stored_records().await.unwrap(), 100);

    let seen = take(&slow, 100).await;
    slow.commit(&seen[..40].iter().collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(bus.trim().await.unwrap(), 40);
    slow.commit(&seen.iter().collect::<Vec<_>>()).await.unwrap();
    assert_eq!(bus.trim().await.unwrap(), 60);
    assert_eq!(bus.stored_records().await.unwrap(), 0);

    // Offsets keep counting after everything was trimmed, also across a restart.
    let before = publish(&bus, record("events", "a", "x")).await;
    drop((fast, slow, bus));
    let bus = LocalBus::open(&local_config(dir.path())).unwrap();
    let after = publish(&bus, record("events", "a", "y")).await;
    assert_eq!(after.partition, before.partition);
    assert_eq!(after.offset, before.offset + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_size_stays_bounded_while_the_consumer_keeps_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.trim_interval_ms = 0;
    let bus = LocalBus::open(&config).unwrap();
    let consumer = bus.consumer("processor", &["events"]).await.unwrap();
    let payload = Bytes::from(vec![b'x'; 500]);
    for _round in 0..20 {
        let publishes =
            (0..500).map(|i| bus.publish(record("events", &format!("k{i}"), payload.clone())));
        for result in futures::future::join_all(publishes).await {
            result.unwrap();
        }
        let seen = take(&consumer, 500).await;
        consumer
            .commit(&seen.iter().collect::<Vec<_>>())
            .await
            .unwrap();
        // No explicit trim: the writer trims after commits on its own.
        let stored = bus.stored_records().await.unwrap();
        assert!(
            stored <= 1000,
            "{stored} records kept while the consumer keeps up"
        );
    }
    bus.trim().await.unwrap();
    assert_eq!(bus.stored_records().await.unwrap(), 0);
}

#[tokio::test]
async fn local_full_queue_fails_fast_with_a_retryable_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.queue_capacity = 4;
    let bus = LocalBus::open(&config).unwrap();
    let payload = Bytes::from(vec![7u8; 500]);
    let publishes =
        (0..2000).map(|i| bus.publish(record("events", &format!("k{i}"), payload.clone())));
    let results = futures::future::join_all(publishes).await;
    let refused: Vec<&Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        !refused.is_empty(),
        "2000 publishes at once into a queue of 4"
    );
    assert!(
        refused
            .iter()
            .all(|e| matches!(e, Error::Overloaded(_)) && e.is_retryable())
    );
    assert!(results.iter().any(Result::is_ok));
}

#[tokio::test]
async fn local_close_stops_publishing() {
    let dir = tempfile::tempdir().unwrap();
    let bus = LocalBus::open(&local_config(dir.path())).unwrap();
    publish(&bus, record("events", "k", "before")).await;
    bus.close().await.unwrap();
    let after = bus.publish(record("events", "k", "after")).await;
    assert!(matches!(after, Err(Error::Closed(_))), "{after:?}");
    assert!(bus.check().await.is_err());
}

const CHILD_DIR: &str = "GOSIGHT_BUS_KILL_CHILD_DIR";

/// The child of [`local_kill_9_keeps_every_acknowledged_record`]; does nothing unless started
/// by it. Publishes from 8 tasks until killed, printing `acked <partition> <offset> <id>` for
/// each publish that resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_child_publisher() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let bus = LocalBus::open(&local_config(Path::new(&dir))).unwrap();
    bus.ensure_topic("events", 4).await.unwrap();
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let mut tasks = Vec::new();
    for task in 0..8 {
        let bus = bus.clone();
        let stdout = Arc::clone(&stdout);
        tasks.push(tokio::spawn(async move {
            for seq in 0.. {
                let id = format!("{task}-{seq}");
                let payload = format!("{id:<500}");
                let delivery = bus
                    .publish(record("events", &format!("key-{}", seq % 16), payload))
                    .await
                    .unwrap();
                let mut out = stdout.lock().unwrap();
                writeln!(out, "acked {} {} {id}", delivery.partition, delivery.offset).unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[test]
fn local_kill_9_keeps_every_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "kill_9_child_publisher",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked: Vec<(i32, i64, String)> = Vec::new();
    let parse = |line: &str| -> Option<(i32, i64, String)> {
        let mut parts = line.strip_prefix("acked ")?.split(' ');
        Some((
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
            parts.next()?.to_string(),
        ))
    };
    while acked.len() < 5000 {
        let line = lines.next().expect("child ended before 5000 acks").unwrap();
        acked.extend(parse(&line));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Acknowledgements printed before the kill are still in the pipe.
    for line in lines {
        match line {
            Ok(line) => acked.extend(parse(&line)),
            Err(_) => break, // a line cut off by the kill
        }
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let bus = LocalBus::open(&local_config(dir.path())).unwrap();
        let consumer = bus.consumer("verify", &["events"]).await.unwrap();
        let stored = bus.stored_records().await.unwrap() as usize;
        assert!(
            stored >= acked.len(),
            "{stored} stored, {} acknowledged",
            acked.len()
        );
        let messages = take(&consumer, stored).await;
        let by_position: HashMap<(i32, i64), String> = messages
            .iter()
            .map(|m| ((m.partition, m.offset), text(m).trim_end().to_string()))
            .collect();
        for (partition, offset, id) in &acked {
            assert_eq!(
                by_position.get(&(*partition, *offset)),
                Some(id),
                "acknowledged record {id} at {partition}/{offset}"
            );
        }
        // Offsets have no gaps: every partition holds 0..n.
        let mut per_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for m in &messages {
            per_partition.entry(m.partition).or_default().push(m.offset);
        }
        for (partition, mut offsets) in per_partition {
            offsets.sort_unstable();
            let expected: Vec<i64> = (0..offsets.len() as i64).collect();
            assert_eq!(offsets, expected, "partition {partition}");
        }
        println!("kill -9: {} acknowledged, {stored} stored", acked.len());
    });
}
