//! A handset that dies mid-sync loses nothing and doubles nothing; a server
//! restarted on its database (the data directory, or the same PostgreSQL
//! database) carries on where it stopped.

use gridsync_client_core::{Store, SyncOptions, Visit};
use gridsync_proto::RecordId;
use gridsync_server_core::clock::now_ms;
use gridsync_tests::{DiesAfter, Handset, Kind, TestServer};

gridsync_tests::matrix![
    killed_between_push_and_acknowledgement,
    killed_in_the_middle_of_a_push_of_several_batches,
    killed_between_pull_pages,
    a_restarted_server_keeps_everything_and_devices_carry_on
];

/// A routine visit to an address in the worker's own grid: the create and
/// the grid, time, person category, purpose and address, 6 changes.
fn visit(store: &mut Store, address: &str) -> anyhow::Result<RecordId> {
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

/// Changes per [`visit`].
const VISIT_CHANGES: u64 = 6;

fn killed_between_push_and_acknowledgement(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut worker = Handset::new(&server, "网格员")?;
    let mut peer = Handset::new(&server, "peer")?;
    let id = worker.store.start_patrol(now_ms())?;
    worker.store.note(id, "巡查正常")?;
    // The patrol's create, grid and started_ms, then the note (was 3: create, grid, note).
    assert_eq!(worker.store.pending()?, 4);

    // The push reaches the server and commits, but the answer is never read.
    let dying = DiesAfter::new(server.transport(), "/v1/sync/push", 1);
    let err = worker.store.sync(&dying).expect_err("the process died");
    assert!(err.to_string().contains("simulated crash"));
    assert_eq!(server.inspect()?.change_count()?, 4, "the server committed the push");
    assert_eq!(worker.store.pending()?, 4, "not acknowledged, so still queued");

    // The app starts again and syncs: the re-sent changes are duplicates.
    worker.restart()?;
    assert_eq!(worker.store.pending()?, 4);
    let report = worker.sync(&server)?;
    assert_eq!((report.pushed, report.duplicates), (0, 4));
    assert_eq!(worker.store.pending()?, 0);
    assert_eq!(server.inspect()?.change_count()?, 4, "nothing doubled");

    // Another device of the same grid sees the record exactly once, note included once.
    peer.sync(&server)?;
    let seen = peer.store.get(id)?.expect("record arrived");
    assert_eq!(seen.entries().len(), 1);
    assert_eq!(Some(seen), worker.store.get(id)?);
    Ok(())
}

fn killed_in_the_middle_of_a_push_of_several_batches(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut worker = Handset::new(&server, "w")?;
    for i in 0..10 {
        visit(&mut worker.store, &format!("东关村 {i} 号"))?;
    }
    let total = 10 * VISIT_CHANGES;
    // Two visits (whole write groups of 6 changes) per push, as before with
    // two records of 2 changes in batches of 4.
    let small = SyncOptions { push_batch: 2 * VISIT_CHANGES as usize, ..SyncOptions::default() };
    // Batch 1 is acknowledged; batch 2 commits but its answer is lost.
    let dying = DiesAfter::new(server.transport(), "/v1/sync/push", 2);
    worker.store.sync_with(&dying, &small).expect_err("died");
    // Was 16 and 8 with 2-change visits: now a batch is 2 visits of 6 changes.
    let batch = 2 * VISIT_CHANGES;
    assert_eq!(worker.store.pending()?, total - batch, "only the acknowledged batch left the outbox");
    assert_eq!(server.inspect()?.change_count()?, 2 * batch);

    worker.restart()?;
    let report = worker.store.sync_with(&server.transport(), &small)?;
    // Was (12, 4): the lost batch comes back as duplicates, the rest is new.
    assert_eq!((report.pushed, report.duplicates), (total - 2 * batch, batch));
    assert_eq!(server.inspect()?.change_count()?, total);
    assert_eq!(server.inspect()?.record_count()?, 10);
    Ok(())
}

fn killed_between_pull_pages(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start_on(kind, |s| s.max_page = 5)?;
    let mut writer = Handset::new(&server, "w")?;
    let mut reader = Handset::new(&server, "r")?;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(writer.store.start_patrol(now_ms() + i)?);
    }
    writer.sync(&server)?;
    // Records new to the reader come whole, as snapshots, in one page (ADR 0019).
    let first = reader.sync(&server)?;
    assert_eq!((first.snapshots, first.pull_pages), (6, 1), "{first:?}");
    // Their later changes come through the log, 5 a page.
    for id in &ids {
        writer.store.set(*id, [("summary".into(), gridsync_proto::Value::from("一切正常"))])?;
    }
    writer.sync(&server)?;

    let small = SyncOptions { pull_page: 5, ..SyncOptions::default() };
    let dying = DiesAfter::new(server.transport(), "/v1/sync/pull", 2);
    reader.store.sync_with(&dying, &small).expect_err("died on page 2");
    let cursor_after_page_1 = reader.store.cursor();
    assert!(cursor_after_page_1 > 0, "page 1 was committed with its cursor");

    reader.restart()?;
    assert_eq!(reader.store.cursor(), cursor_after_page_1);
    let report = reader.store.sync_with(&server.transport(), &small)?;
    assert_eq!(report.pulled, 1, "the rest, from the stored cursor, each change once: {report:?}");
    let all = reader.store.list(&Default::default())?;
    assert_eq!(all.len(), 6);
    for record in &all {
        assert_eq!(Some(record), writer.store.get(record.id())?.as_ref());
    }
    Ok(())
}

fn a_restarted_server_keeps_everything_and_devices_carry_on(kind: Kind) -> anyhow::Result<()> {
    let mut server = TestServer::start(kind)?;
    let mut worker = Handset::new(&server, "w")?;
    let mut peer = Handset::new(&server, "peer")?;
    for i in 0..3 {
        visit(&mut worker.store, &format!("东关村 {i} 号"))?;
    }
    worker.sync(&server)?;
    let first = peer.sync(&server)?;
    assert_eq!(first.snapshots, 3, "new records arrive as snapshots: {first:?}");
    // A change made offline while the server is down.
    let late = visit(&mut worker.store, "东关村 9 号")?;

    server.restart()?;
    assert_eq!(server.inspect()?.change_count()?, 3 * VISIT_CHANGES, "every acknowledged change kept");
    // The devices carry on with their keys and cursors: nothing is sent twice.
    let report = worker.sync(&server)?;
    assert_eq!((report.pushed, report.duplicates), (VISIT_CHANGES, 0));
    let report = peer.sync(&server)?;
    assert_eq!(report.snapshots, 1, "only what is new since its cursor: {report:?}");
    assert_eq!(peer.store.get(late)?, worker.store.get(late)?);
    assert_eq!(peer.store.list(&Default::default())?.len(), 4);
    // The users, codes and enrollment live in the database too.
    let mut newcomer = Handset::new(&server, "newcomer")?;
    assert_eq!(newcomer.sync(&server)?.snapshots, 4);
    assert_eq!(server.inspect()?.record_count()?, 4);
    Ok(())
}
