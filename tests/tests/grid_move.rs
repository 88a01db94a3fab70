//! A grid moved to another village: nothing in any record or in the change
//! log is rewritten, yet the records follow the grid. The new village's
//! device receives them whole at its next sync, the old village's device
//! removes them, and the grid's own worker keeps everything and learns the
//! new chain of places.

use std::collections::BTreeSet;

use gridsync_proto::{Level, RecordId, Role};
use gridsync_server_core::clock::now_ms;
use gridsync_tests::people::{self, GRID_A2, VILLAGE_A, VILLAGE_B};
use gridsync_tests::{Handset, Kind, TestServer};

gridsync_tests::matrix![a_grid_moves_to_another_village_and_its_records_follow_without_a_rewrite];

/// Rows of one blob column.
type Blobs = Vec<Vec<u8>>;

/// Every record state (by id) and every logged change (in log order), byte
/// for byte, as the storage holds them.
fn stored_bytes(server: &TestServer) -> anyhow::Result<(Blobs, Blobs)> {
    let changes = server.inspect()?.changes()?;
    let records: BTreeSet<RecordId> = changes.iter().map(|c| c.record).collect();
    let states = server.inspect()?.read(move |tx| {
        let mut states = Vec::new();
        for id in records {
            states.extend(tx.record_state(id)?);
        }
        Ok(states)
    })?;
    Ok((states, changes.into_iter().map(|c| c.body).collect()))
}

fn a_grid_moves_to_another_village_and_its_records_follow_without_a_rewrite(
    kind: Kind,
) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut worker = Handset::worker(&server, "网格员 孙", GRID_A2)?;
    let mut old_village = Handset::worker(&server, "东关村 书记", VILLAGE_A)?;
    let mut new_village = Handset::worker(&server, "西关村 书记", VILLAGE_B)?;
    let mut township = Handset::enrolled(&server, "镇综治中心", Role::TownshipAdmin, people::TOWNSHIP, None)?;
    let patrol = worker.store.start_patrol(now_ms())?;
    worker.store.note(patrol, "发现路灯损坏")?;
    let report = worker.store.file_all_safe(Handset::today())?;
    for h in [&mut worker, &mut old_village, &mut new_village, &mut township] {
        h.sync(&server)?;
    }
    assert!(old_village.store.get(patrol)?.is_some() && new_village.store.get(patrol)?.is_none());
    let before = stored_bytes(&server)?;

    people::operator(&server)?.move_place(GRID_A2, Some(VILLAGE_B))?;
    assert_eq!(stored_bytes(&server)?, before, "no record and no change was rewritten");

    for h in [&mut worker, &mut old_village, &mut new_village, &mut township] {
        h.sync(&server)?;
    }
    for id in [patrol, report] {
        assert!(old_village.store.get(id)?.is_none(), "gone from the old village's device");
        let moved = new_village.store.get(id)?.expect("arrived whole at the new village's device");
        assert_eq!(Some(&moved), worker.store.get(id)?.as_ref());
        assert_eq!(Some(moved), township.store.get(id)?, "the township holds it throughout");
    }
    assert_eq!(new_village.store.get(patrol)?.map(|p| p.entries().len()), Some(1));
    // The worker's profile follows the new chain of places.
    let profile = worker.store.profile().expect("profile");
    let grid = profile.places.iter().find(|p| p.code == GRID_A2).expect("the grid");
    assert_eq!((grid.level, grid.parent.as_deref()), (Level::Grid, Some(VILLAGE_B)));
    // And the worker works on as before.
    worker.store.note(patrol, "路灯已修复")?;
    worker.sync(&server)?;
    new_village.sync(&server)?;
    assert_eq!(new_village.store.get(patrol)?.map(|p| p.entries().len()), Some(2));
    assert_eq!(stored_bytes(&server)?.1[..before.1.len()], before.1[..], "the log only grows");
    Ok(())
}
