//! Locked months: stored once per place of the locked subtree, read back by
//! place and month, listed once per lock, never replaced; the ledgers they
//! answer stay those of the lock while later records show as corrections.

use std::sync::Arc;

use gridsync_proto::{Date, RecordId, RecordKind, Value};

use super::fixture::{COUNTY, GRID_A, GRID_B, TOWNSHIP, Town, VILLAGE_A, VILLAGE_B, now_ms, set, today};
use crate::ledger::{Month, Reason};
use crate::service::Caller;
use crate::storage::{Storage, StorageExt};

const HOUR: u64 = 3_600_000;

/// The calendar month before `now`'s, and noon of its tenth day (UTC+8).
fn last_month(now: u64) -> (Month, u64) {
    let this = today(now).to_string()[..7].to_owned();
    let mut day = today(now);
    while day.to_string()[..7] == this {
        day = day.previous().expect("a day before");
    }
    let month: Month = day.to_string()[..7].parse().expect("a month");
    let tenth: Date = format!("{month}-10").parse().expect("a date");
    (month, tenth.start_ms(480).max(0) as u64 + 12 * HOUR)
}

/// A locked month, through the service and the seam.
pub async fn months_lock_once_and_read_back(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let svc = &town.service;
    let mut wa = town.worker("wa", GRID_A).await;
    let (month, noon) = last_month(now_ms());
    let patrol = |wa: &mut super::fixture::Handset, at: u64| {
        let id = RecordId::generate(at);
        let edits = vec![set("grid", Value::Text(GRID_A.into())), set("started_ms", Value::Int(at as i64))];
        (id, wa.write(id, RecordKind::Patrol, edits, at))
    };
    let (_, first) = patrol(&mut wa, noon);
    wa.push_ok(svc, vec![first]).await;

    let lock = svc.lock_month(&Caller::Operator, TOWNSHIP, month).await.expect("locked");
    assert_eq!((lock.head.place.as_str(), lock.head.root.as_str()), (TOWNSHIP, TOWNSHIP));
    assert_eq!(lock.places_locked, 5, "the township, its two villages and their grids");
    let month_text = month.to_string();
    let stored = storage
        .read(move |tx| {
            let mut roots = Vec::new();
            for place in [TOWNSHIP, VILLAGE_A, VILLAGE_B, GRID_A, GRID_B] {
                let row = tx.month_lock(place, TOWNSHIP, &month_text)?.expect("each place's month is stored");
                assert!(!row.body.is_empty());
                roots.push(row.head.root);
            }
            assert!(tx.month_lock(COUNTY, COUNTY, &month_text)?.is_none(), "the county above is not locked");
            Ok((roots, tx.month_locks()?))
        })
        .await
        .expect("read back");
    assert!(stored.0.iter().all(|r| r == TOWNSHIP), "every row names the lock asked for");
    assert_eq!(stored.1.len(), 1, "listed once per lock, not per place: {:?}", stored.1);
    assert_eq!(stored.1[0], lock.head);

    // Locking again, here or below, answers the lock there is.
    let again = svc.lock_month(&Caller::Operator, VILLAGE_A, month).await.expect("answered");
    assert_eq!((again.places_locked, again.head.root.as_str()), (0, TOWNSHIP));
    let row = storage
        .read(move |tx| Ok(tx.month_lock(VILLAGE_A, TOWNSHIP, &month.to_string())?))
        .await
        .expect("read")
        .expect("stored");
    let mut other = row.clone();
    other.body = vec![9, 9, 9];
    let replaced = storage.write(move |tx, _| Ok(tx.put_month_lock(&other)?)).await.expect("written");
    assert!(!replaced, "a locked month is never replaced");

    // A patrol of the month recorded before the lock arrives after it.
    let locked = svc.month_ledgers(&Caller::Operator, VILLAGE_A, month).await.expect("the locked month");
    assert!(locked.table.locked.is_some());
    let (late, second) = patrol(&mut wa, noon + HOUR);
    wa.push_ok(svc, vec![second]).await;
    let now = svc.month_ledgers(&Caller::Operator, VILLAGE_A, month).await.expect("the locked month");
    assert_eq!((&now.table, &now.rows), (&locked.table, &locked.rows), "not merged into the lock");
    assert_eq!(now.table.line(GRID_A).map(|l| l.work.patrols), Some(1));
    let c = svc.month_corrections(&Caller::Operator, VILLAGE_A, month).await.expect("corrections");
    let patrols: Vec<_> = c.figures.iter().filter(|f| f.column == "patrols" && f.line == GRID_A).collect();
    assert!(!patrols.is_empty() && patrols.iter().all(|f| (f.locked, f.now) == (1, 2)), "{:?}", c.figures);
    assert_eq!(c.late.len(), 1);
    assert_eq!((c.late[0].id, c.late[0].reason), (late, Reason::LateSync));
    let county = svc.month_ledgers(&Caller::Operator, COUNTY, month).await.expect("the county's month");
    assert!(county.table.locked.is_none(), "a place above the lock is computed live");
    assert_eq!(county.table.total_work().patrols, 2);
}
