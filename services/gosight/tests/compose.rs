//! `compose/docker-compose.yml` and `compose/Dockerfile` against this binary: every gosight
//! service runs a command that exists, with an environment the component accepts as its config,
//! listens where the compose file publishes and probes, and names engines that are services of
//! the file; every path the image copies from the repository exists. No Docker is needed.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn compose() -> Value {
    let text = std::fs::read_to_string(repo().join("compose/docker-compose.yml")).unwrap();
    let mut doc: Value = serde_yaml::from_str(&text).unwrap();
    doc.apply_merge().unwrap();
    doc
}

/// `${NAME:-default}` as Compose fills it when `NAME` is not set.
fn interpolate(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let inner = &rest[start + 2..end];
        out.push_str(inner.split_once(":-").map_or("", |(_, default)| default));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The services built from the gosight image, with their command and environment.
fn gosight_services(doc: &Value) -> BTreeMap<String, (Vec<String>, BTreeMap<String, String>)> {
    let image = doc["x-gosight"]["image"].as_str().unwrap().to_string();
    doc["services"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, s)| s["image"].as_str() == Some(image.as_str()))
        .map(|(name, s)| {
            let command = s["command"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            let env = s["environment"]
                .as_mapping()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => interpolate(s),
                        other => serde_yaml::to_string(other).unwrap().trim().to_string(),
                    };
                    (k.as_str().unwrap().to_string(), v)
                })
                .collect();
            (name.as_str().unwrap().to_string(), (command, env))
        })
        .collect()
}

fn gosight(args: &[&str], env: &BTreeMap<String, String>) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gosight"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn every_component_runs_with_the_environment_the_compose_file_gives_it() {
    let doc = compose();
    let services = gosight_services(&doc);
    let names: Vec<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["alerts", "api", "ingest", "migrate", "processor-0"],
        "the gosight services"
    );
    for (name, (command, env)) in &services {
        let (ok, text) = gosight(&[command[0].as_str(), "--help"], env);
        assert!(
            ok,
            "{name}: `gosight {}` is not a command: {text}",
            command[0]
        );
        let (ok, text) = gosight(&["config", "check"], env);
        assert!(ok, "{name}: its environment is not a valid config: {text}");
        let (ok, config) = gosight(&["config", "print"], env);
        assert!(ok, "{name}: {config}");
        // What a service publishes, it listens on on every interface, not on the loopback of
        // its container.
        let listens: Vec<&str> = config.lines().filter(|l| l.contains("listen")).collect();
        if let Some(ports) = doc["services"][name.as_str()]["ports"].as_sequence() {
            for port in ports {
                let inside = port.as_str().unwrap().rsplit(':').next().unwrap();
                assert!(
                    config.contains(&format!("0.0.0.0:{inside}")),
                    "{name} publishes {inside} but listens on {listens:?}"
                );
            }
        }
        // The engines are services of the file.
        for (variable, scheme) in [
            ("KAFKA_BROKERS", ""),
            ("CLICKHOUSE_URL", "http://"),
            ("DATABASE_URL", "postgres://"),
            ("REDIS_URL", "redis://"),
        ] {
            let value = env
                .get(variable)
                .unwrap_or_else(|| panic!("{name}: no {variable}"));
            let host = value
                .trim_start_matches(scheme)
                .rsplit('@')
                .next()
                .unwrap()
                .split(':')
                .next()
                .unwrap();
            assert!(
                doc["services"][host].is_mapping(),
                "{name}: {variable} names `{host}`, which is not a service"
            );
        }
    }
    // The processor's shard id is its service name: a stable Kafka member id.
    assert_eq!(
        services["processor-0"].1["GOSIGHT_PROCESSOR__SHARD_ID"],
        "processor-0"
    );
    for (name, _) in services.iter().filter(|(n, _)| n.as_str() != "migrate") {
        let after = &doc["services"][name.as_str()]["depends_on"]["migrate"]["condition"];
        assert_eq!(
            after.as_str(),
            Some("service_completed_successfully"),
            "{name} starts after the migrations"
        );
    }
}

#[test]
fn the_image_copies_only_what_the_repository_has() {
    let dockerfile = std::fs::read_to_string(repo().join("compose/Dockerfile")).unwrap();
    let mut copied = 0;
    for line in dockerfile.lines() {
        let Some(args) = line.strip_prefix("COPY ") else {
            continue;
        };
        if args.starts_with("--from") {
            continue;
        }
        let parts: Vec<&str> = args.split_whitespace().collect();
        for source in &parts[..parts.len() - 1] {
            assert!(
                repo().join(source).exists(),
                "compose/Dockerfile copies {source}, which the repository does not have"
            );
            copied += 1;
        }
    }
    assert!(copied >= 8, "{copied} sources copied");
    // Every workspace member is in what the build stage copies.
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    for member in workspace_members(&manifest) {
        let top = member.split('/').next().unwrap();
        assert!(
            dockerfile.contains(&format!("COPY {top} {top}")),
            "the build stage does not copy {top} (workspace member {member})"
        );
    }
}

/// The `members` of `[workspace]`, one quoted path per line.
fn workspace_members(manifest: &str) -> Vec<String> {
    let start = manifest.find("members = [").unwrap();
    let end = manifest[start..].find(']').unwrap() + start;
    manifest[start..end]
        .lines()
        .skip(1)
        .filter_map(|l| l.trim().strip_prefix('"'))
        .map(|l| l.trim_end_matches(',').trim_end_matches('"').to_string())
        .collect()
}
