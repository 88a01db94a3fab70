//! A handset that dies mid-sync loses nothing and doubles nothing.

use gridsync_client_core::SyncOptions;
use gridsync_proto::{RecordKind, Value};
use gridsync_tests::{DiesAfter, Handset, TestServer};

#[test]
fn killed_between_push_and_acknowledgement() -> anyhow::Result<()> {
    let server = TestServer::start()?;
    let mut worker = Handset::new(&server, "网格员")?;
    let mut peer = Handset::new(&server, "peer")?;
    let id = worker.store.create(RecordKind::Patrol, [("grid".into(), Value::from("G-07"))])?;
    worker.store.note(id, "巡查正常")?;
    assert_eq!(worker.store.pending()?, 3);

    // The push reaches the server and commits, but the answer is never read.
    let dying = DiesAfter::new(server.transport(), "/v1/sync/push", 1);
    let err = worker.store.sync(&dying).expect_err("the process died");
    assert!(err.to_string().contains("simulated crash"));
    assert_eq!(server.inspect()?.change_count()?, 3, "the server committed the push");
    assert_eq!(worker.store.pending()?, 3, "not acknowledged, so still queued");

    // The app starts again and syncs: the re-sent changes are duplicates.
    worker.restart()?;
    assert_eq!(worker.store.pending()?, 3);
    let report = worker.sync(&server)?;
    assert_eq!((report.pushed, report.duplicates), (0, 3));
    assert_eq!(worker.store.pending()?, 0);
    assert_eq!(server.inspect()?.change_count()?, 3, "nothing doubled");

    // Another device sees the record exactly once, note included once.
    peer.sync(&server)?;
    let seen = peer.store.get(id)?.expect("record arrived");
    assert_eq!(seen.entries().len(), 1);
    assert_eq!(Some(seen), worker.store.get(id)?);
    Ok(())
}

#[test]
fn killed_in_the_middle_of_a_push_of_several_batches() -> anyhow::Result<()> {
    let server = TestServer::start()?;
    let mut worker = Handset::new(&server, "w")?;
    for i in 0..10 {
        worker.store.create(RecordKind::Visit, [("household".into(), Value::Int(i))])?;
    }
    let small = SyncOptions { push_batch: 4, ..SyncOptions::default() };
    // Batch 1 is acknowledged; batch 2 commits but its answer is lost.
    let dying = DiesAfter::new(server.transport(), "/v1/sync/push", 2);
    worker.store.sync_with(&dying, &small).expect_err("died");
    assert_eq!(worker.store.pending()?, 16, "only the acknowledged batch left the outbox");
    assert_eq!(server.inspect()?.change_count()?, 8);

    worker.restart()?;
    let report = worker.store.sync_with(&server.transport(), &small)?;
    assert_eq!((report.pushed, report.duplicates), (12, 4));
    assert_eq!(server.inspect()?.change_count()?, 20);
    assert_eq!(server.inspect()?.record_count()?, 10);
    Ok(())
}

#[test]
fn killed_between_pull_pages() -> anyhow::Result<()> {
    let server = TestServer::start_with(|s| s.max_page = 5)?;
    let mut writer = Handset::new(&server, "w")?;
    let mut reader = Handset::new(&server, "r")?;
    for i in 0..6 {
        writer.store.create(RecordKind::Visit, [("household".into(), Value::Int(i))])?;
    }
    writer.sync(&server)?;

    let small = SyncOptions { pull_page: 5, ..SyncOptions::default() };
    let dying = DiesAfter::new(server.transport(), "/v1/sync/pull", 2);
    reader.store.sync_with(&dying, &small).expect_err("died on page 2");
    let cursor_after_page_1 = reader.store.cursor();
    assert!(cursor_after_page_1 > 0, "page 1 was committed with its cursor");
    assert_eq!(reader.store.list(&Default::default())?.len(), 3, "page 1: 3 records of 2 changes");

    reader.restart()?;
    assert_eq!(reader.store.cursor(), cursor_after_page_1);
    let report = reader.store.sync_with(&server.transport(), &small)?;
    assert_eq!(report.pulled, 7, "the rest, from the stored cursor");
    let all = reader.store.list(&Default::default())?;
    assert_eq!(all.len(), 6);
    for record in &all {
        assert_eq!(Some(record), writer.store.get(record.id())?.as_ref());
    }
    Ok(())
}
