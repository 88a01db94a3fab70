//! Locked months: stored once per place of the locked subtree, read back by
//! place and month, listed once per lock, never replaced; the ledgers they
//! answer stay those of the lock while later records show as corrections.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gridsync_proto::{Date, Edit, RecordId, RecordKind, Role, Value};

use super::fixture::{COUNTY, GRID_A, GRID_B, TOWNSHIP, Town, VILLAGE_A, VILLAGE_B, now_ms, set, today};
use crate::directory::DirectoryCache;
use crate::ledger::{Month, MonthTable, Reason};
use crate::service::ledgers::month_read_whole;
use crate::service::{Caller, Service};
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

/// A live month from the ledgers' index equals the month read whole, record
/// by record, before and after records it holds are edited (a patrol and a
/// visit moved to other months, a dispute's category and
/// mediation sessions) — and bringing the index up to date reads only what
/// was saved since.
pub async fn an_indexed_month_is_the_month_read_whole(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let svc = &town.service;
    let (mut wa, mut wb) = (town.worker("wa", GRID_A).await, town.worker("wb", GRID_B).await);
    let (month, noon) = last_month(now_ms());
    let at = |t: u64| Value::Int(t as i64);
    let (patrol, visit, dispute) =
        (RecordId::generate(noon), RecordId::generate(noon + 1), RecordId::generate(noon + 2));
    let visit_edits = |t: u64| {
        vec![
            set("grid", Value::Text(GRID_A.into())),
            set("visited_ms", at(t)),
            set("person_category", Value::Text("elderly_alone".into())),
            set("purpose", Value::Text("routine".into())),
            set("address", Value::Text("三组".into())),
        ]
    };
    let mediation = |t: u64| {
        let entry =
            BTreeMap::from([("time_ms".to_owned(), at(t)), ("outcome".to_owned(), Value::from("failed"))]);
        Edit::Append("mediation".into(), entry)
    };
    let mut groups = vec![
        wa.write(
            patrol,
            RecordKind::Patrol,
            vec![set("grid", Value::Text(GRID_A.into())), set("started_ms", at(noon))],
            noon,
        ),
        wa.write(visit, RecordKind::Visit, visit_edits(noon + HOUR), noon + HOUR),
        wa.write(
            dispute,
            RecordKind::Dispute,
            vec![
                set("registered_at", Value::Text(GRID_A.into())),
                set("place", Value::Text(GRID_A.into())),
                set("source", Value::Text("walk_in".into())),
                set("category", Value::Text("邻里纠纷".into())),
            ],
            noon + 2 * HOUR,
        ),
    ];
    groups.push(wa.write(dispute, RecordKind::Dispute, vec![mediation(noon + 3 * HOUR)], noon + 3 * HOUR));
    wa.push_ok(svc, groups).await;
    let second = RecordId::generate(noon + 4 * HOUR);
    let group = wb.write(
        second,
        RecordKind::Patrol,
        vec![set("grid", Value::Text(GRID_B.into())), set("started_ms", at(noon + 4 * HOUR))],
        noon + 4 * HOUR,
    );
    wb.push_ok(svc, vec![group]).await;

    let first = same_as_read_whole(&storage, svc, month).await;
    assert_eq!(first.line(VILLAGE_A).map(|l| (l.work.patrols, l.work.visits)), Some((1, 1)));
    assert_eq!(first.line(VILLAGE_B).map(|l| (l.work.patrols, l.work.visits)), Some((1, 0)));
    assert_eq!(first.total_disputes().found, 1);
    assert_eq!(first.total_disputes().mediation_sessions, 1);

    // Edits to what the index holds, and nothing else.
    let (next_month, month_before) = (noon + 40 * 24 * HOUR, noon - 20 * 24 * HOUR);
    let t = noon + 5 * HOUR;
    let groups = vec![
        wa.write(patrol, RecordKind::Patrol, vec![set("started_ms", at(month_before))], t),
        wa.write(visit, RecordKind::Visit, vec![set("visited_ms", at(next_month))], t + 1),
        wa.write(dispute, RecordKind::Dispute, vec![set("category", Value::Text("婚姻家庭".into()))], t + 2),
        wa.write(dispute, RecordKind::Dispute, vec![mediation(t + 3)], t + 3),
    ];
    wa.push_ok(svc, groups).await;
    let read = Arc::new(AtomicU64::new(0));
    svc.month_ledgers_counted(&Caller::Operator, TOWNSHIP, month, read.clone()).await.expect("the month");
    assert_eq!(read.load(Ordering::Relaxed), 3, "only the three records saved since are read again");
    let after = same_as_read_whole(&storage, svc, month).await;
    assert_eq!(after.line(VILLAGE_A).map(|l| (l.work.patrols, l.work.visits)), Some((0, 0)));
    assert_eq!(after.line(VILLAGE_B).map(|l| (l.work.patrols, l.work.visits)), Some((1, 0)));
    let categories: Vec<&String> = after.lines.iter().flat_map(|l| l.categories.keys()).collect();
    assert_eq!(categories, ["婚姻家庭"], "the dispute counts under its new category only");
    assert_eq!(after.total_disputes().mediation_sessions, 2);
    // The months the visit and the patrol moved into.
    let later = same_as_read_whole(&storage, svc, month.next()).await;
    assert_eq!(later.line(VILLAGE_A).map(|l| (l.work.patrols, l.work.visits)), Some((0, 1)));
    let earlier = same_as_read_whole(&storage, svc, month.previous()).await;
    assert_eq!(earlier.line(VILLAGE_A).map(|l| (l.work.patrols, l.work.visits)), Some((1, 0)));
}

/// The township's `month` from the service (the index) and read whole on a
/// snapshot of the same position: asserted equal, table and register.
async fn same_as_read_whole(storage: &Arc<dyn Storage>, svc: &Service, month: Month) -> MonthTable {
    let indexed = svc.month_ledgers(&Caller::Operator, TOWNSHIP, month).await.expect("the month");
    let whole = storage
        .read(move |tx| {
            let (_, dir) = DirectoryCache::default().get(tx)?;
            month_read_whole(tx, &dir, TOWNSHIP, month, 480, Role::Administrator)
        })
        .await
        .expect("the month read whole");
    assert_eq!(whole.table.as_of, indexed.table.as_of, "nothing was written between the two reads");
    assert_eq!(indexed.table, whole.table, "{month}: the table");
    assert_eq!(indexed.rows, whole.rows, "{month}: the register");
    indexed.table
}
