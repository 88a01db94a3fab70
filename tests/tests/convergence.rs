//! Three handsets edit one dispute offline and sync in every order: they end
//! identical, with exactly one conflict on the field two of them edited, and
//! the resolution reaches everyone.

use gridsync_client_core::Store;
use gridsync_proto::{RecordId, RecordKind, RecordState, Value};
use gridsync_tests::{Handset, TestServer};

fn text(s: &str) -> Value {
    Value::from(s)
}

fn state(store: &Store, id: RecordId) -> RecordState {
    store.get(id).expect("readable").expect("record present")
}

/// Runs the scenario with the handsets syncing in `order`.
fn scenario(order: [usize; 3]) -> anyhow::Result<()> {
    let server = TestServer::start()?;
    let mut devices = [
        Handset::new(&server, "网格员 李")?,
        Handset::new(&server, "乡镇调解员 王")?,
        Handset::new(&server, "司法所 赵")?,
    ];

    // The worker registers the dispute; everyone gets it.
    let id = devices[0].store.create(
        RecordKind::Dispute,
        [("category".into(), text("邻里纠纷")), ("status".into(), text("found"))],
    )?;
    for d in &mut devices {
        d.sync(&server)?;
    }

    // Offline edits: different fields, the same field twice, notes everywhere.
    devices[0].store.set(id, [("status".into(), text("mediating")), ("risk".into(), text("low"))])?;
    devices[0].store.note(id, "现场调解一次")?;
    devices[1].store.set(id, [("status".into(), text("escalated")), ("owner".into(), text("township"))])?;
    devices[1].store.note(id, "村级调解未果")?;
    devices[2].store.set(id, [("assignee".into(), text("justice_office"))])?;
    devices[2].store.note(id, "已收到协办函")?;

    // Two rounds in the given order: the first pushes, the second spreads.
    for _ in 0..2 {
        for &i in &order {
            devices[i].sync(&server)?;
        }
    }

    let reference = state(&devices[0].store, id);
    for d in &devices {
        assert_eq!(state(&d.store, id), reference, "order {order:?}: replicas differ");
        assert_eq!(d.store.pending()?, 0);
    }
    let merged = server.inspect()?.record(id)?.expect("server has the record");
    assert_eq!(merged, reference, "server state differs");

    // Different fields merged; notes all kept.
    assert_eq!(reference.value("risk"), Some(&text("low")));
    assert_eq!(reference.value("owner"), Some(&text("township")));
    assert_eq!(reference.value("assignee"), Some(&text("justice_office")));
    assert_eq!(reference.value("category"), Some(&text("邻里纠纷")));
    assert_eq!(reference.entries().len(), 3);

    // Exactly one conflict, on `status`, with both values and their origins.
    for d in &devices {
        let conflicts = d.store.conflicts()?;
        assert_eq!(conflicts.len(), 1, "order {order:?}");
        assert_eq!(conflicts[0].field, "status");
        let mut seen: Vec<(String, String)> =
            conflicts[0].values.iter().map(|v| (format!("{:?}", v.value), v.stamp.author.clone())).collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                ("\"escalated\"".to_owned(), "乡镇调解员 王".to_owned()),
                ("\"mediating\"".to_owned(), "网格员 李".to_owned()),
            ]
        );
        let devices_of_values: Vec<_> = conflicts[0].values.iter().map(|v| v.stamp.device()).collect();
        assert!(devices_of_values.contains(&devices[0].store.device_id()));
        assert!(devices_of_values.contains(&devices[1].store.device_id()));
    }

    // The mediator resolves it; the resolution reaches every device.
    devices[1].store.resolve(id, "status", text("escalated"))?;
    for _ in 0..2 {
        for &i in &order {
            devices[i].sync(&server)?;
        }
    }
    for d in &devices {
        assert!(d.store.conflicts()?.is_empty());
        assert_eq!(state(&d.store, id).value("status"), Some(&text("escalated")));
        assert_eq!(state(&d.store, id), state(&devices[0].store, id));
    }
    assert_eq!(server.inspect()?.record(id)?.as_ref(), Some(&state(&devices[0].store, id)));
    Ok(())
}

#[test]
fn three_devices_converge_in_every_sync_order() -> anyhow::Result<()> {
    let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for order in orders {
        scenario(order)?;
    }
    Ok(())
}

#[test]
fn unknown_kinds_and_fields_pass_through_unchanged() -> anyhow::Result<()> {
    let server = TestServer::start()?;
    let mut newer = Handset::new(&server, "a")?;
    let mut other = Handset::new(&server, "b")?;
    let kind = RecordKind::Other(77);
    let id = newer.store.create(kind, [("field_from_the_future".into(), Value::Int(5))])?;
    newer.sync(&server)?;
    other.sync(&server)?;
    let got = state(&other.store, id);
    assert_eq!(got.kind(), kind);
    assert_eq!(got, state(&newer.store, id));
    assert_eq!(got.value("field_from_the_future"), Some(&Value::Int(5)));
    Ok(())
}

#[test]
fn pulls_page_through_many_changes() -> anyhow::Result<()> {
    let server = TestServer::start_with(|s| s.max_page = 7)?;
    let mut writer = Handset::new(&server, "a")?;
    let mut reader = Handset::new(&server, "b")?;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(writer.store.create(RecordKind::Visit, [("household".into(), Value::Int(i))])?);
    }
    let pushed = writer.sync(&server)?;
    assert_eq!(pushed.pushed, 40, "each visit is a create and a set");
    let pulled = reader.sync(&server)?;
    assert_eq!(pulled.pulled, 40);
    assert!(pulled.pull_pages >= 6, "pages of at most 7 changes: {pulled:?}");
    for id in ids {
        assert_eq!(state(&reader.store, id), state(&writer.store, id));
    }
    // Nothing new: a sync pulls nothing and the cursor stays.
    let again = reader.sync(&server)?;
    assert_eq!((again.pulled, again.cursor), (0, pulled.cursor));
    Ok(())
}
