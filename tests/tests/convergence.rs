//! Three handsets edit one dispute offline and sync in every order: they end
//! identical, with exactly one conflict on the field two of them edited, and
//! the resolution reaches everyone.

use gridsync_client_core::{NewDispute, Store, Visit};
use gridsync_proto::{RecordId, RecordKind, RecordState, Role, Value};
use gridsync_server_core::clock::now_ms;
use gridsync_tests::{Handset, Kind, TestServer, people};

gridsync_tests::matrix![
    three_devices_converge_in_every_sync_order,
    unknown_kinds_and_fields_pass_through_unchanged,
    pulls_page_through_many_changes
];

fn text(s: &str) -> Value {
    Value::from(s)
}

fn state(store: &Store, id: RecordId) -> RecordState {
    store.get(id).expect("readable").expect("record present")
}

/// Runs the scenario with the handsets syncing in `order`.
///
/// The dispute is registered in GRID_A, which owns it: the two workers of
/// GRID_A and the township's mediator above it all hold it and may edit its
/// fields (a dispute's stage and owner are derived from its steps, so the
/// edits are to plain fields).
fn scenario(kind: Kind, order: [usize; 3]) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut devices = [
        Handset::new(&server, "网格员 李")?,
        Handset::enrolled(&server, "乡镇调解员 王", Role::TownshipAdmin, people::TOWNSHIP, None)?,
        Handset::new(&server, "网格员 赵")?,
    ];

    // The worker registers the dispute; everyone gets it.
    let id = devices[0].store.register_dispute(&NewDispute {
        place: None,
        source: "patrol".into(),
        source_record: None,
        category: "邻里纠纷".into(),
        summary: Some("两户因院墙边界发生争执".into()),
        risk: None,
        parties: Vec::new(),
        address: None,
        due: None,
    })?;
    for d in &mut devices {
        d.sync(&server)?;
    }
    for d in &devices {
        assert!(d.store.get(id)?.is_some(), "order {order:?}: {} did not get the dispute", d.store.author());
    }

    // Offline edits: different fields, the same field twice, notes everywhere.
    let mine = "双方同意再次调解";
    let township = "村级调解未果，乡镇接手";
    devices[0].store.set(id, [("summary".into(), text(mine)), ("risk".into(), Value::Int(2))])?;
    devices[0].store.note(id, "现场调解一次")?;
    devices[1].store.set(id, [("summary".into(), text(township)), ("due".into(), text("2026-12-31"))])?;
    devices[1].store.note(id, "村级调解未果")?;
    devices[2].store.set(id, [("assignee".into(), text("网格员 赵"))])?;
    devices[2].store.note(id, "已走访双方当事人")?;

    // Two rounds in the given order: the first pushes, the second spreads.
    for _ in 0..2 {
        for &i in &order {
            let report = devices[i].sync(&server)?;
            assert_eq!(report.refused, 0, "order {order:?}: every edit is allowed");
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
    assert_eq!(reference.value("risk"), Some(&Value::Int(2)));
    assert_eq!(reference.value("due"), Some(&text("2026-12-31")));
    assert_eq!(reference.value("assignee"), Some(&text("网格员 赵")));
    assert_eq!(reference.value("category"), Some(&text("邻里纠纷")));
    assert_eq!(reference.entries().len(), 3);

    // Exactly one conflict, on `summary`, with both values and their origins.
    let mut expected = vec![
        (format!("{:?}", text(township)), "乡镇调解员 王".to_owned()),
        (format!("{:?}", text(mine)), "网格员 李".to_owned()),
    ];
    expected.sort();
    for d in &devices {
        let conflicts = d.store.conflicts()?;
        assert_eq!(conflicts.len(), 1, "order {order:?}");
        assert_eq!(conflicts[0].field, "summary");
        let mut seen: Vec<(String, String)> =
            conflicts[0].values.iter().map(|v| (format!("{:?}", v.value), v.stamp.author.clone())).collect();
        seen.sort();
        assert_eq!(seen, expected);
        let devices_of_values: Vec<_> = conflicts[0].values.iter().map(|v| v.stamp.device()).collect();
        assert!(devices_of_values.contains(&devices[0].store.device_id()));
        assert!(devices_of_values.contains(&devices[1].store.device_id()));
    }

    // The mediator resolves it; the resolution reaches every device.
    devices[1].store.resolve(id, "summary", text(township))?;
    for _ in 0..2 {
        for &i in &order {
            devices[i].sync(&server)?;
        }
    }
    for d in &devices {
        assert!(d.store.conflicts()?.is_empty());
        assert_eq!(state(&d.store, id).value("summary"), Some(&text(township)));
        assert_eq!(state(&d.store, id), state(&devices[0].store, id));
    }
    assert_eq!(server.inspect()?.record(id)?.as_ref(), Some(&state(&devices[0].store, id)));
    Ok(())
}

fn three_devices_converge_in_every_sync_order(kind: Kind) -> anyhow::Result<()> {
    let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for order in orders {
        scenario(kind, order)?;
    }
    Ok(())
}

fn unknown_kinds_and_fields_pass_through_unchanged(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut newer = Handset::new(&server, "a")?;
    let mut other = Handset::new(&server, "b")?;
    let kind = RecordKind::Other(77);
    // A record of an unknown kind needs a place its writer covers.
    let id = newer.store.create(
        kind,
        [("grid".into(), text(people::GRID_A)), ("field_from_the_future".into(), Value::Int(5))],
    )?;
    newer.sync(&server)?;
    other.sync(&server)?;
    let got = state(&other.store, id);
    assert_eq!(got.kind(), kind);
    assert_eq!(got, state(&newer.store, id));
    assert_eq!(got.value("field_from_the_future"), Some(&Value::Int(5)));
    Ok(())
}

fn pulls_page_through_many_changes(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start_on(kind, |s| s.max_page = 7)?;
    let mut writer = Handset::new(&server, "a")?;
    let mut reader = Handset::new(&server, "b")?;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(writer.store.record_visit(&Visit {
            grid: None,
            household: None,
            address: Some(format!("东关村 {i} 号")),
            visited_ms: now_ms(),
            person_category: "general".into(),
            purpose: "routine".into(),
            result: None,
            follow_up_due: None,
            gps: None,
        })?);
    }
    let pushed = writer.sync(&server)?;
    // Was 40 (a create and one set): a typed visit is a create and its grid,
    // time, person category, purpose and address.
    assert_eq!(pushed.pushed, 120, "each visit is a create and five sets");
    // Records new to the reader come whole, as snapshots (ADR 0019): no
    // change is replayed.
    let first = reader.sync(&server)?;
    assert_eq!((first.snapshots, first.pulled), (20, 0), "every visit as a snapshot: {first:?}");
    // Later changes come through the log, in pages of at most 7.
    for id in &ids {
        writer.store.set(*id, [("result".into(), gridsync_proto::Value::from("已回访"))])?;
    }
    assert_eq!(writer.sync(&server)?.pushed, 20);
    let pulled = reader.sync(&server)?;
    assert_eq!(pulled.pulled, 20, "every change once: {pulled:?}");
    assert!(pulled.pull_pages >= 3, "pages of at most 7 changes: {pulled:?}");
    for id in ids {
        assert_eq!(state(&reader.store, id), state(&writer.store, id));
    }
    // Nothing new: a sync pulls nothing and the cursor stays.
    let again = reader.sync(&server)?;
    assert_eq!((again.pulled, again.cursor), (0, pulled.cursor));
    Ok(())
}
