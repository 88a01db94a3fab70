//! A change the user may no longer make (the dispute was escalated while the
//! worker was offline) is refused with its reason and kept, visible, on the
//! device, while the rest of the push is accepted; the record is rebuilt
//! from the server's copy, and nothing is silently dropped.

use gridsync_client_core::{NewDispute, StepDetails};
use gridsync_proto::{Action, ErrorCode, RecordKind, Role, Value};
use gridsync_server_core::clock::now_ms;
use gridsync_tests::people::{GRID_A, TOWNSHIP, VILLAGE_A};
use gridsync_tests::{Handset, Kind, TestServer};

gridsync_tests::matrix![a_forbidden_change_is_refused_kept_visible_and_the_rest_accepted];

fn a_forbidden_change_is_refused_kept_visible_and_the_rest_accepted(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut li = Handset::worker(&server, "网格员 李", GRID_A)?;
    let mut township = Handset::enrolled(&server, "镇综治中心 王", Role::TownshipAdmin, TOWNSHIP, None)?;
    let dispute = NewDispute {
        place: None,
        source: "patrol".into(),
        source_record: None,
        category: "邻里纠纷".into(),
        summary: Some("排水沟堵塞".into()),
        risk: Some(1),
        parties: vec![],
        address: None,
        due: None,
    };
    let id = li.store.register_dispute(&dispute)?;
    let patrol = li.store.start_patrol(now_ms())?;
    li.sync(&server)?;
    township.sync(&server)?;

    // The township takes the dispute up to the village and keeps the worker
    // on it as assignee (so it stays on the worker's phone).
    township.store.take_step(id, Action::Escalate, StepDetails::default())?;
    township.store.set(id, [("assignee".into(), Value::from("网格员 李"))])?;
    township.sync(&server)?;

    // Offline, the worker edits the dispute as its owner, notes the patrol
    // and files the day's report.
    li.store.set(id, [("summary".into(), Value::from("排水沟堵塞，已疏通一半"))])?;
    li.store.note(patrol, "巡查完毕")?;
    li.store.file_all_safe(Handset::today())?;
    let report = li.sync(&server)?;
    assert_eq!(report.refused, 1, "only the dispute edit is refused");
    assert_eq!(
        report.pushed,
        1 + 5,
        "the patrol note and the daily report (create, grid, worker, date, status)"
    );
    assert_eq!(li.store.pending()?, 0, "nothing is left half-sent");

    let rejections = li.store.rejections()?;
    assert_eq!(rejections.len(), 1);
    let refused = &rejections[0];
    assert_eq!((refused.record, refused.kind), (id, RecordKind::Dispute));
    assert_eq!((refused.code, refused.field.as_deref()), (ErrorCode::Forbidden, Some("summary")));
    assert!(!refused.message.contains("疏通"), "the reason names the rule, not the content");
    assert!(matches!(&refused.changes[..], [c] if c.record == id), "the refused change is kept as made");

    // The device's copy was rebuilt from the server's: the village owns it
    // now, the worker is its assignee, and the refused edit is not in it.
    let mine = li.store.get(id)?.expect("still on the device, as its assignee");
    assert_eq!(Some(&mine), server.inspect()?.record(id)?.as_ref());
    assert_eq!(mine.value("summary"), Some(&Value::from("排水沟堵塞")));
    let lifecycle = li.store.lifecycle(id)?.expect("a dispute");
    assert_eq!(lifecycle.state.owner, VILLAGE_A);
    assert_eq!(server.inspect()?.record(patrol)?.map(|p| p.entries().len()), Some(1));

    // The worker has seen it: dismissed, it is gone; the dispute stays.
    li.store.dismiss_rejection(refused.id)?;
    assert!(li.store.rejections()?.is_empty());
    assert!(li.store.get(id)?.is_some());
    Ok(())
}
