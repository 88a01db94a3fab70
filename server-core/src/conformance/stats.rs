//! Figures for monitoring ([`crate::storage::StatsRead`]), read through
//! [`crate::Service::vitals`].

use std::sync::Arc;

use gridsync_proto::{RecordId, RecordKind, RecordState};

use super::fixture::{GHOST_HOME, GRID_A, Town, append, raw_change};
use crate::metrics::Vitals;
use crate::service::Caller;
use crate::storage::{SavedRecord, Storage, StorageExt};

/// Open conflicts count the records saved as conflicted, and no longer
/// those saved again without; devices count by their last sync (a push or
/// an issued pull cursor), those never synced apart and revoked ones not
/// at all; the database has a size.
pub async fn vitals_count_conflicts_devices_and_size(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let vitals = town.service.vitals().await.expect("vitals of an empty town");
    assert_eq!(vitals.conflicts_open, 0, "no record, no conflict");
    assert_eq!(vitals.devices, [0; 5], "no device enrolled yet");
    assert!(vitals.database_bytes > 0, "even an empty database has a size");

    let mut pusher = town.worker("pusher", GRID_A).await;
    let mut puller = town.worker("puller", GRID_A).await;
    let idle = town.worker("idle", GRID_A).await;
    let gone = town.worker("gone", GRID_A).await;
    town.service.revoke_device(&Caller::Operator, gone.device, false).await.expect("revoked");
    let vitals = town.service.vitals().await.expect("vitals");
    assert_eq!(
        vitals.devices,
        [0, 0, 0, 0, 3],
        "three enrolled devices never synced; the revoked one is not counted"
    );

    let (_, patrol) = pusher.patrol(GRID_A);
    pusher.push_ok(&town.service, vec![patrol]).await;
    puller.snapshots = true;
    puller.pull_all(&town.service, 100).await;
    let vitals = town.service.vitals().await.expect("vitals");
    assert_eq!(vitals.devices, [2, 0, 0, 0, 1], "the pusher and the puller synced just now: {vitals:?}");
    // Each time is its device's: the device list shows it.
    let listed = town.service.list_devices_synced(&Caller::Operator).await.expect("devices");
    let last = |device| listed.iter().find(|d| d.device.id == device).expect("listed").last_sync_ms;
    assert!(last(pusher.device).is_some() && last(puller.device).is_some(), "{listed:?}");
    assert_eq!((last(idle.device), last(gone.device)), (None, None), "never synced");
    let syncs = storage.read(|tx| Ok(tx.device_last_syncs()?)).await.expect("last syncs");
    let of = |device| *syncs.iter().find(|d| d.device == device).expect("every device");
    assert!(of(puller.device).active && of(puller.device).last_ms.is_some());
    assert!(!of(gone.device).active, "revoked: listed, not counted");

    let save = |id: RecordId, conflicted: bool| {
        move |tx: &mut dyn crate::storage::WriteTx, now: u64| {
            let change = raw_change(id, raw_actor(), 1);
            let seq = append(tx, &change, now)?;
            let state = RecordState::from_changes(id, RecordKind::Patrol, [&change]).expect("merges");
            let bytes = state.to_bytes();
            let record = SavedRecord {
                id,
                township: GHOST_HOME,
                kind: RecordKind::Patrol,
                state: &bytes,
                conflicted,
                updated_seq: seq,
            };
            tx.save_record(&record)?;
            Ok(())
        }
    };
    let (one, two) = (RecordId::from_bytes([0xc1; 16]), RecordId::from_bytes([0xc2; 16]));
    storage.write(save(one, true)).await.expect("a conflicted record saved");
    storage.write(save(two, false)).await.expect("a record without conflict saved");
    let vitals: Vitals = town.service.vitals().await.expect("vitals");
    assert_eq!(vitals.conflicts_open, 1, "one record holds a conflict");
    storage
        .write(move |tx, _| {
            let updated_seq = tx.high_water()?;
            let state =
                RecordState::from_changes(one, RecordKind::Patrol, [&raw_change(one, raw_actor(), 1)])
                    .expect("merges");
            let bytes = state.to_bytes();
            let record = SavedRecord {
                id: one,
                township: GHOST_HOME,
                kind: RecordKind::Patrol,
                state: &bytes,
                conflicted: false,
                updated_seq,
            };
            tx.save_record(&record)?;
            Ok(())
        })
        .await
        .expect("the conflict settled");
    let vitals = town.service.vitals().await.expect("vitals");
    assert_eq!(vitals.conflicts_open, 0, "a settled conflict is no longer open");
}

/// The device of the records written raw (not enrolled: counted nowhere).
fn raw_actor() -> gridsync_proto::ActorId {
    gridsync_proto::ActorId::from_bytes([0xcc; 16])
}
