//! `GET /metrics` on a real server: pushes, pulls, duplicates, refused
//! groups and refused requests move the counters by exactly what happened;
//! the scrape-time gauges (open conflicts, devices by last sync, the
//! database's size) and the writer's figures are there and plausible; and
//! the metrics are refused to callers who may not read them.
//!
//! One test: the process's metrics recorder is shared by every server the
//! test binary starts, so the counts are compared before and after, with
//! nothing else running.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use gridsync_client_core::{NewDispute, StepDetails, SyncReport, Visit};
use gridsync_proto::{Action, ErrorBody, ErrorCode, Role, Value};
use gridsync_server_core::clock::now_ms;
use gridsync_tests::people::{GRID_A, TOWNSHIP};
use gridsync_tests::{DiesAfter, Handset, Kind, TestServer};

/// One scrape: every sample by its name and labels (sorted), e.g.
/// `gridsync_push_changes_total{outcome="accepted"}`.
#[derive(Debug, Clone)]
struct Scrape(HashMap<String, f64>);

impl Scrape {
    /// Parses the text exposition format: `name{k="v",…} value` lines,
    /// comments skipped. Every line must parse.
    fn parse(text: &str) -> Scrape {
        let mut samples = HashMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number in {line}"));
            let key = match series.split_once('{') {
                None => series.to_owned(),
                Some((name, labels)) => {
                    let labels = labels.strip_suffix('}').unwrap_or_else(|| panic!("closed labels: {line}"));
                    let mut sorted = BTreeMap::new();
                    for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                        let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("a label in {line}"));
                        sorted.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
                    }
                    let labels: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
                    format!("{name}{{{}}}", labels.join(","))
                }
            };
            assert!(samples.insert(key, value).is_none(), "a series twice: {line}");
        }
        Scrape(samples)
    }

    /// A sample's value, 0 when absent (a counter not yet touched).
    fn get(&self, key: &str) -> f64 {
        self.0.get(key).copied().unwrap_or(0.0)
    }

    /// A sample that must be there.
    fn must(&self, key: &str) -> f64 {
        *self.0.get(key).unwrap_or_else(|| panic!("{key} is scraped: {:#?}", self.0.keys()))
    }

    /// How far `key` moved since `before`.
    fn moved(&self, before: &Scrape, key: &str) -> f64 {
        self.get(key) - before.get(key)
    }
}

fn http() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().expect("an HTTP client")
}

fn scrape(server: &TestServer) -> anyhow::Result<Scrape> {
    let answer = http().get(format!("{}/metrics", server.url())).send()?;
    anyhow::ensure!(answer.status() == 200, "scrape answered {}", answer.status());
    let content_type = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    anyhow::ensure!(content_type.starts_with("text/plain; version=0.0.4"), "content type {content_type}");
    Ok(Scrape::parse(&answer.text()?))
}

fn visit(store: &mut gridsync_client_core::Store, address: &str) -> anyhow::Result<gridsync_proto::RecordId> {
    Ok(store.record_visit(&Visit {
        grid: None,
        household: None,
        address: Some(address.to_owned()),
        visited_ms: now_ms(),
        person_category: "general".into(),
        purpose: "routine".into(),
        result: None,
        follow_up_due: None,
        gps: None,
    })?)
}

/// What the handsets' sync reports add up to.
#[derive(Debug, Default)]
struct Tally {
    pushed: u64,
    duplicates: u64,
    refused_groups: u64,
    push_batches: u64,
    pull_pages: u64,
    pulled: u64,
    snapshots: u64,
}

impl Tally {
    fn add(&mut self, r: &SyncReport) {
        self.pushed += r.pushed;
        self.duplicates += r.duplicates;
        self.refused_groups += r.refused;
        self.push_batches += u64::from(r.push_batches);
        self.pull_pages += u64::from(r.pull_pages);
        self.pulled += r.pulled;
        self.snapshots += r.snapshots;
    }
}

#[test]
fn metrics_count_what_happened_and_only_trusted_callers_read_them() -> anyhow::Result<()> {
    let server = TestServer::start(Kind::Sqlite)?;
    let mut li = Handset::worker(&server, "网格员 李", GRID_A)?;
    let mut zhao = Handset::worker(&server, "网格员 赵", GRID_A)?;
    let mut centre = Handset::enrolled(&server, "镇综治中心 王", Role::TownshipAdmin, TOWNSHIP, None)?;

    let before = scrape(&server)?;
    assert_eq!(before.must("gridsync_devices{last_sync=\"never\"}"), 3.0, "three enrolled, none synced");
    assert_eq!(before.must("gridsync_conflicts_open"), 0.0);
    let mut tally = Tally::default();

    // Three visits of 6 changes, and a dispute; everyone syncs.
    let visits: Vec<_> =
        (0..3).map(|i| visit(&mut li.store, &format!("东关村 {i} 号"))).collect::<Result<_, _>>()?;
    let dispute = li.store.register_dispute(&NewDispute {
        place: None,
        source: "patrol".into(),
        source_record: None,
        category: "邻里纠纷".into(),
        summary: Some("排水沟堵塞".into()),
        risk: Some(1),
        parties: vec![],
        address: None,
        due: None,
    })?;
    let first = li.sync(&server)?;
    assert_eq!((first.push_batches, first.refused), (1, 0));
    tally.add(&first);
    tally.add(&zhao.sync(&server)?);
    tally.add(&centre.sync(&server)?);
    assert_eq!(tally.snapshots, 2 * 4, "both other devices got the four records whole: {tally:?}");

    // A push whose answer is lost, sent again: its changes come back as duplicates.
    li.store.set(visits[0], [("result".into(), Value::from("家中无人"))])?;
    let dying = DiesAfter::new(server.transport(), "/v1/sync/push", 1);
    li.store.sync(&dying).expect_err("the answer was lost");
    let resent = li.sync(&server)?;
    assert_eq!((resent.pushed, resent.duplicates), (0, 1), "{resent:?}");
    tally.add(&resent);
    // The lost push was handled and accepted too, unseen by any report.
    let (lost_pushes, lost_accepted) = (1, 1);

    // A conflict: the two workers set one field of a visit, each unaware of the other.
    li.store.set(visits[1], [("result".into(), Value::from("已解决"))])?;
    zhao.store.set(visits[1], [("result".into(), Value::from("待跟进"))])?;
    tally.add(&li.sync(&server)?);
    tally.add(&zhao.sync(&server)?);
    tally.add(&li.sync(&server)?);

    // A refused group: the centre escalates the dispute; the worker's offline edit of it is forbidden.
    centre.store.take_step(dispute, Action::Escalate, StepDetails::default())?;
    centre.store.set(dispute, [("assignee".into(), Value::from("网格员 李"))])?;
    tally.add(&centre.sync(&server)?);
    li.store.set(dispute, [("summary".into(), Value::from("已疏通一半"))])?;
    let refused = li.sync(&server)?;
    assert_eq!(refused.refused, 1, "{refused:?}");
    tally.add(&refused);

    // Refused requests: a wrong method and a wrong content type on the push route.
    let client = http();
    let url = format!("{}/v1/sync/push", server.url());
    assert_eq!(client.get(&url).send()?.status(), 405);
    let answer = client.post(&url).header("content-type", "text/plain").body("hello").send()?;
    assert_eq!(answer.status(), 415);

    let after = scrape(&server)?;
    let moved = |key: &str| after.moved(&before, key);
    assert_eq!(moved("gridsync_pushes_total"), (tally.push_batches + lost_pushes) as f64, "{tally:?}");
    assert_eq!(
        moved("gridsync_push_changes_total{outcome=\"accepted\"}"),
        (tally.pushed + lost_accepted) as f64,
        "{tally:?}"
    );
    assert_eq!(moved("gridsync_push_changes_total{outcome=\"duplicate\"}"), tally.duplicates as f64);
    assert_eq!(
        moved("gridsync_push_changes_total{outcome=\"refused\"}"),
        1.0,
        "one change in the refused group"
    );
    assert_eq!(moved("gridsync_push_groups_refused_total{code=\"forbidden\"}"), tally.refused_groups as f64);
    assert_eq!(moved("gridsync_pull_pages_total"), tally.pull_pages as f64, "{tally:?}");
    assert_eq!(moved("gridsync_pull_snapshots_total"), tally.snapshots as f64, "{tally:?}");
    assert_eq!(moved("gridsync_pull_changes_total"), tally.pulled as f64, "{tally:?}");
    // Every request to the sync routes took its time, by outcome.
    let count = |op: &str, outcome: &str| {
        moved(&format!("gridsync_sync_request_duration_seconds_count{{op=\"{op}\",outcome=\"{outcome}\"}}"))
    };
    assert_eq!(count("push", "ok"), (tally.push_batches + lost_pushes) as f64);
    assert_eq!(count("pull", "ok"), tally.pull_pages as f64);
    assert_eq!(count("push", "refused"), 2.0, "the wrong method and the wrong content type");
    assert!(moved("gridsync_sync_request_duration_seconds_sum{op=\"push\",outcome=\"ok\"}") > 0.0);
    for code in ["method_not_allowed", "unsupported_media_type"] {
        let key = format!("gridsync_refusals_total{{code=\"{code}\",route=\"/v1/sync/push\"}}");
        assert_eq!(moved(&key), 1.0, "{key}");
    }
    // The scrape-time gauges.
    assert_eq!(after.must("gridsync_conflicts_open"), 1.0, "the visit's result is in conflict");
    assert_eq!(after.must("gridsync_devices{last_sync=\"1h\"}"), 3.0, "all three synced just now");
    assert_eq!(after.must("gridsync_devices{last_sync=\"never\"}"), 0.0);
    assert_eq!(after.must("gridsync_devices{last_sync=\"older\"}"), 0.0);
    let bytes = after.must("gridsync_database_size_bytes");
    let on_disk: u64 = std::fs::read_dir(server.data_dir())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    assert!(bytes >= 4096.0 && bytes <= on_disk as f64 + 1_048_576.0, "{bytes} bytes; {on_disk} on disk");
    // The writer committed groups, and nothing waits for it now.
    assert!(moved("gridsync_writer_commit_duration_seconds_count") >= 1.0);
    assert!(moved("gridsync_writer_group_jobs_count") >= 1.0);
    assert_eq!(after.must("gridsync_writer_queue_depth"), 0.0);
    // No label names a device, a user or a place.
    let text = http().get(format!("{}/metrics", server.url())).send()?.text()?;
    for secret in [li.store.device_id().to_string(), "网格员".to_owned(), GRID_A.to_owned()] {
        assert!(!text.contains(&secret), "the metrics name {secret}");
    }

    // Through a proxy (even one on this machine), without a token: refused.
    let proxied =
        client.get(format!("{}/metrics", server.url())).header("x-forwarded-for", "192.0.2.7").send()?;
    assert_eq!(proxied.status(), 403);
    assert_eq!(proxied.json::<ErrorBody>()?.code, ErrorCode::Forbidden);

    // With a token set: only its bearer reads them, from anywhere.
    let token = "metrics-token-0123456789abcdef";
    let guarded = TestServer::start_on(Kind::Sqlite, |s| s.metrics_token = Some(token.to_owned()))?;
    let metrics = format!("{}/metrics", guarded.url());
    let none = client.get(&metrics).send()?;
    assert_eq!(none.status(), 401);
    assert_eq!(none.json::<ErrorBody>()?.code, ErrorCode::Unauthenticated);
    assert_eq!(client.get(&metrics).bearer_auth("metrics-token-0123456789abcdeF").send()?.status(), 401);
    let read = client.get(&metrics).bearer_auth(token).header("x-forwarded-for", "192.0.2.7").send()?;
    assert_eq!(read.status(), 200);
    assert!(read.text()?.contains("gridsync_database_size_bytes"));
    // A token too short to resist guessing stops the server from starting.
    let short = TestServer::start_on(Kind::Sqlite, |s| s.metrics_token = Some("short".to_owned()));
    let err = short.expect_err("a short token is refused").to_string();
    assert!(err.contains("metrics_token is too short"), "{err}");
    Ok(())
}
