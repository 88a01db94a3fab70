//! Pushes and pulls through the service: the sync log, record states,
//! replicas and pull cursors as a backend keeps them.

use std::collections::BTreeSet;
use std::sync::Arc;

use gridsync_proto::{
    ActorId, Change, Dot, ErrorCode, Level, Op, RecordId, RecordKind, RecordState, Role, Value,
};

use super::fixture::{
    COUNTY, ChangeId, GHOST_HOME, GRID_A, GRID_B, OTHER_TOWNSHIP, T0, TOWNSHIP, Town, VILLAGE_B, VILLAGE_C,
    append, change_count, ids_of, ids_of_changes, logged, raw_change, set,
};
use crate::audit::Event;
use crate::error::CoreError;
use crate::service::Caller;
use crate::storage::{PullPage, ReplicaRow, Storage, StorageExt};

fn changes_of(page: &gridsync_proto::PullResponse) -> Vec<Change> {
    page.changes.iter().map(|c| c.change.clone()).collect()
}

fn assert_idle(page: &gridsync_proto::PullResponse, cursor: u64, who: &str) {
    assert!(
        page.changes.is_empty()
            && page.rebuild.is_empty()
            && page.snapshots.is_empty()
            && page.removed.is_empty()
            && !page.reset
            && !page.more,
        "{who}'s pull with nothing new is idle, got {page:?}"
    );
    assert_eq!(page.cursor, cursor, "an idle pull keeps {who}'s cursor");
}

async fn record_state(storage: &Arc<dyn Storage>, id: RecordId) -> Option<RecordState> {
    let bytes = storage.read(move |tx| Ok(tx.record_state(id)?)).await.expect("a record state reads");
    bytes.map(|b| RecordState::from_bytes(&b).expect("a stored record state decodes"))
}

/// A write group pushed by a worker's device arrives once, whole, on
/// another device of the same user; the cursor advances; the next pull is
/// idle; the pushing device is not sent its own changes; a later change
/// arrives alone; a cursor issued to one device means nothing to another.
pub async fn push_then_pull_round_trip(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let svc = &town.service;
    assert_eq!(town.change_count().await, 0, "a fresh storage's log is empty");
    let mut phone = town.worker("wang", GRID_A).await;
    let mut tablet = town.device("wang").await;

    let (patrol, created) = phone.patrol(GRID_A);
    phone.push_ok(svc, vec![created.clone()]).await;
    assert_eq!(town.change_count().await, 3, "the log holds the three changes pushed");
    let counts = storage.read(|tx| Ok((tx.record_count()?, tx.records_of_kind(RecordKind::Patrol)?))).await;
    let (records, patrols) = counts.expect("record counts read");
    assert_eq!(records, 1, "one record has a merged state");
    let expected = RecordState::from_changes(patrol, RecordKind::Patrol, &created).expect("the group merges");
    let saved: Vec<RecordState> =
        patrols.iter().map(|b| RecordState::from_bytes(b).expect("a saved state decodes")).collect();
    assert_eq!(saved, std::slice::from_ref(&expected), "records_of_kind gives the patrol's merged state");
    assert_eq!(record_state(&storage, patrol).await, Some(expected), "record_state gives the merged state");
    for change in &created {
        let (record, actor, counter) = (change.record, change.dot.actor, change.dot.counter);
        let body = storage
            .read(move |tx| {
                let township = super::fixture::home_of(tx, record)?;
                Ok(tx.change_body(record, &township, actor, counter)?)
            })
            .await
            .expect("reads");
        assert_eq!(body, Some(super::fixture::body(change)), "change_body gives the bytes logged for a dot");
    }

    let first = tablet.pull(svc, 100).await;
    assert!(!first.reset && !first.more, "a first pull from cursor 0 neither resets nor pages: {first:?}");
    assert_eq!(first.rebuild, [patrol], "the new record is sent whole");
    assert_eq!(changes_of(&first), created, "the group arrives once, in order, byte for byte");
    let seqs: Vec<u64> = first.changes.iter().map(|c| c.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "a record's history comes in rising log order: {seqs:?}");
    assert!(first.cursor > 0, "a page that sent changes issues a cursor");
    assert!(first.profile.is_some(), "a device that holds no profile is sent one");
    let cursor = tablet.cursor;
    assert_idle(&tablet.pull(svc, 100).await, cursor, "the tablet");

    let own = phone.pull(svc, 100).await;
    assert!(
        own.changes.is_empty() && own.rebuild.is_empty(),
        "a device is not sent its own changes: {own:?}"
    );

    let ended = phone.end_patrol(patrol, "一切正常");
    phone.push_ok(svc, vec![ended.clone()]).await;
    let next = tablet.pull(svc, 100).await;
    assert_eq!(changes_of(&next), ended, "only the new group arrives");
    assert!(next.rebuild.is_empty() && next.removed.is_empty(), "a held record is not sent whole again");
    assert!(
        next.cursor > cursor,
        "a new page issues a cursor above the last: {} after {cursor}",
        next.cursor
    );
    assert!(
        next.changes.iter().all(|c| seqs.iter().all(|s| c.seq > *s)),
        "later changes have higher log positions"
    );
    let cursor = tablet.cursor;
    assert_idle(&tablet.pull(svc, 100).await, cursor, "the tablet");

    let mut stranger = town.worker("li", GRID_A).await;
    stranger.cursor = cursor;
    let reset = stranger.pull(svc, 100).await;
    assert!(reset.reset, "a cursor issued to another device is unknown: the device starts afresh");
    assert_eq!(reset.rebuild, [patrol], "after a reset the record is sent whole");
    let whole: Vec<Change> = created.iter().chain(&ended).cloned().collect();
    assert_eq!(changes_of(&reset), whole, "the whole history arrives after a reset");
}

/// The same push twice: the second is acknowledged as duplicates and
/// changes nothing; a push mixing a known group with a new one applies the
/// new one only.
pub async fn repeated_push_is_idempotent(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let svc = &town.service;
    let mut phone = town.worker("wang", GRID_A).await;
    let (patrol, created) = phone.patrol(GRID_A);
    let push = phone.push_request(vec![created.clone()]);

    let first = svc.push(push.clone(), "wang".into()).await.expect("the first push is accepted");
    assert_eq!((first.accepted, first.duplicates), (3, 0), "the first push is new");
    let count = town.change_count().await;
    let state = record_state(&storage, patrol).await;

    let again = svc.push(push, "wang".into()).await.expect("a re-sent push is acknowledged");
    assert_eq!((again.accepted, again.duplicates), (0, 3), "a re-sent push answers duplicates");
    assert_eq!(again.refused, [], "a re-sent push refuses nothing");
    assert_eq!(town.change_count().await, count, "a re-sent push adds nothing to the log");
    assert_eq!(record_state(&storage, patrol).await, state, "a re-sent push leaves the record as it was");

    let (other, second) = phone.patrol(GRID_A);
    let mixed = svc.push(phone.push_request(vec![created.clone(), second.clone()]), "wang".into()).await;
    let mixed = mixed.expect("a push of a known and a new group is accepted");
    assert_eq!((mixed.accepted, mixed.duplicates), (3, 3), "only the new group is applied");
    assert_eq!(town.change_count().await, count + 3, "the log grows by the new group only");

    let mut tablet = town.device("wang").await;
    let pages = tablet.pull_all(svc, 100).await;
    let mut received = ids_of(pages.iter().flat_map(|p| &p.changes));
    received.sort();
    let mut expected = ids_of_changes(created.iter().chain(&second));
    expected.sort();
    assert_eq!(received, expected, "each change is pulled once, however often it was pushed");
    let rebuilt: BTreeSet<RecordId> = pages.iter().flat_map(|p| p.rebuild.iter().copied()).collect();
    assert_eq!(rebuilt, BTreeSet::from([patrol, other]), "both records reach the other device");
}

/// A push that reuses a logged dot with other bytes is refused whole with
/// `dot_reused`, naming the change; nothing of it is kept, not even its
/// valid groups.
pub async fn reused_dot_refuses_the_whole_push(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let svc = &town.service;
    let mut phone = town.worker("wang", GRID_A).await;
    let (patrol, created) = phone.patrol(GRID_A);
    phone.push_ok(svc, vec![created.clone()]).await;
    let count = town.change_count().await;
    let state = record_state(&storage, patrol).await;

    let (fresh, valid) = phone.patrol(GRID_A);
    let mut forged = created[2].clone();
    let Op::Set { field, value, .. } = &mut forged.op else { panic!("the third change sets started_ms") };
    assert_eq!(field, "started_ms");
    *value = Value::Int(T0 as i64);
    let refused = phone.push(svc, vec![valid.clone(), vec![forged]]).await;
    let Err(CoreError::Refused(refusal)) = refused else {
        panic!("a push reusing a dot with other bytes is refused, got {refused:?}")
    };
    assert_eq!(refusal.code, ErrorCode::DotReused, "the refusal is dot_reused: {refusal:?}");
    assert_eq!(refusal.change_index, Some(3), "the refusal names the reused change (the push's fourth)");

    assert_eq!(town.change_count().await, count, "nothing of the refused push is logged");
    for change in &valid {
        assert!(!logged(&storage, change).await, "the refused push's valid group is not logged");
    }
    assert_eq!(record_state(&storage, fresh).await, None, "the refused push's new record has no state");
    assert_eq!(record_state(&storage, patrol).await, state, "the earlier record is unchanged");

    let mut tablet = town.device("wang").await;
    let pages = tablet.pull_all(svc, 100).await;
    let rebuilt: Vec<RecordId> = pages.iter().flat_map(|p| p.rebuild.iter().copied()).collect();
    assert_eq!(rebuilt, [patrol], "only the earlier record reaches another device");
    let received: Vec<Change> = pages.iter().flat_map(changes_of).collect();
    assert_eq!(received, created, "the logged bytes are the original ones");
}

/// A group the rules refuse is answered with its reason, is audited, leaves
/// nothing, does not stop the push's other groups, and makes the pushing
/// device's next pull send the record whole again.
pub async fn refused_group_leaves_nothing_and_is_rebuilt(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let svc = &town.service;
    let mut phone = town.worker("wang", GRID_A).await;
    let (patrol, created) = phone.patrol(GRID_A);
    phone.push_ok(svc, vec![created.clone()]).await;
    let count = town.change_count().await;
    let state = record_state(&storage, patrol).await;

    let moved = phone.write(patrol, RecordKind::Patrol, vec![set("grid", Value::Text(GRID_B.into()))], T0);
    let (other, second) = phone.patrol(GRID_A);
    let response = phone.push(svc, vec![moved.clone(), second.clone()]).await.expect("the push is answered");
    assert_eq!(response.accepted, 3, "the valid group is accepted");
    assert_eq!(response.refused.len(), 1, "one group is refused: {:?}", response.refused);
    let refusal = &response.refused[0];
    assert_eq!((refusal.group, refusal.code), (0, ErrorCode::OutOfScope), "the first group is out of scope");
    assert_eq!(refusal.field.as_deref(), Some("grid"), "the refusal names the field");
    assert_eq!(town.change_count().await, count + 3, "only the accepted group is logged");
    assert!(!logged(&storage, &moved[0]).await, "the refused change is not logged");
    assert_eq!(record_state(&storage, patrol).await, state, "the refused group leaves the record as it was");
    assert!(record_state(&storage, other).await.is_some(), "the accepted group's record is saved");

    let last = storage
        .read(|tx| {
            let mut last = None;
            tx.audit_rows(&mut |row| {
                last = Some(row.event);
                true
            })?;
            Ok(last)
        })
        .await
        .expect("the audit log reads");
    let expected = Event::new(
        format!("device:{}", phone.device),
        "sync.group_refused",
        patrol.to_string(),
        "out_of_scope",
    )
    .detail("field=grid");
    assert_eq!(last, Some(expected), "the refused group is audited in the push's transaction");

    let page = phone.pull(svc, 100).await;
    assert_eq!(page.rebuild, [patrol], "the device is sent the refused record whole");
    assert_eq!(changes_of(&page), created, "with its accepted history only");
    let cursor = phone.cursor;
    assert_idle(&phone.pull(svc, 100).await, cursor, "the pushing device");
}

/// Pull cursors and replica rows kept through the storage directly: tokens
/// rise across devices, a token is known to its device only, a device's
/// older tokens are dropped, replica rows record adds, removals, holds and
/// rebuilds, and a reset forgets them.
pub async fn pull_cursors_are_per_device(storage: Arc<dyn Storage>) {
    let (device, other) = (ActorId::random(), ActorId::random());
    let (made, sent) = (RecordId::generate(T0), RecordId::generate(T0 + 1));
    let change = raw_change(sent, ActorId::random(), 1);
    storage.write(move |tx, now| Ok(append(tx, &change, now)?)).await.expect("a change is appended");
    let high = storage.read(|tx| Ok(tx.high_water()?)).await.expect("the high-water mark reads");
    assert!(high > 0, "a committed change raises the high-water mark of an empty log");

    let page = |device: ActorId, presented: u64, reset: bool, adds: Vec<RecordId>, removes: Vec<RecordId>| {
        let storage = storage.clone();
        async move {
            storage
                .write(move |tx, now| {
                    Ok(tx.record_pull_page(&PullPage {
                        device,
                        township: GHOST_HOME,
                        presented,
                        reset,
                        dirty: false,
                        log_high: high,
                        sent_through: high,
                        adds: &adds,
                        removes: &removes,
                        now,
                    })?)
                })
                .await
                .expect("a pull page is recorded")
        }
    };
    let tokens = |device: ActorId, tokens: Vec<u64>| {
        let storage = storage.clone();
        async move {
            storage
                .read(move |tx| {
                    tokens
                        .iter()
                        .map(|t| Ok(tx.pull_token(device, GHOST_HOME, *t)?))
                        .collect::<Result<Vec<_>, CoreError>>()
                })
                .await
                .expect("pull tokens read")
        }
    };
    let replicas = |device: ActorId| {
        let storage = storage.clone();
        async move { storage.read(move |tx| Ok(tx.replicas(device, GHOST_HOME)?)).await.expect("replicas read") }
    };

    let t1 = page(device, 0, false, vec![], vec![]).await;
    let t2 = page(device, t1, false, vec![], vec![]).await;
    let t3 = page(device, t2, false, vec![], vec![]).await;
    assert!(0 < t1 && t1 < t2 && t2 < t3, "tokens are issued rising and never 0: {t1}, {t2}, {t3}");
    assert_eq!(
        tokens(device, vec![t1, t2, t3, t3 + 1_000]).await,
        [None, Some(high), Some(high), None],
        "a device keeps its presented and its newest cursor, covering the page's log position; older ones are dropped"
    );
    let u1 = page(other, 0, false, vec![], vec![]).await;
    assert!(u1 > t3, "a token is above every token issued before, to any device");
    assert_eq!(tokens(other, vec![t3]).await, [None], "a cursor issued to one device is unknown to another");
    assert_eq!(
        tokens(device, vec![t3]).await,
        [Some(high)],
        "another device's page leaves a device's cursors"
    );

    let t4 = page(device, t3, false, vec![sent], vec![]).await;
    let row = |record, added_token, removed_token, rebuild, sent_through| ReplicaRow {
        record,
        added_token,
        removed_token,
        rebuild,
        sent_through,
    };
    assert_eq!(
        replicas(device).await,
        [row(sent, t4, None, false, high)],
        "a page's adds become replica rows"
    );
    let t5 = page(device, t4, false, vec![], vec![sent]).await;
    assert_eq!(
        replicas(device).await,
        [row(sent, t4, Some(t5), false, high)],
        "a page's removals are noted on the rows, with the page's cursor"
    );

    storage
        .write(move |tx, _| {
            tx.hold(device, GHOST_HOME, made)?;
            tx.hold(device, GHOST_HOME, made)?;
            Ok(())
        })
        .await
        .expect("a record made by the device is held");
    let held: Vec<ReplicaRow> = replicas(device).await.into_iter().filter(|r| r.record == made).collect();
    assert_eq!(held.len(), 1, "holding a record twice notes it once");
    assert_eq!(
        (held[0].added_token, held[0].removed_token, held[0].rebuild),
        (0, None, false),
        "held at cursor 0"
    );
    storage
        .write(move |tx, _| Ok(tx.mark_rebuild(device, GHOST_HOME, made)?))
        .await
        .expect("a rebuild is asked");
    let marked: Vec<ReplicaRow> = replicas(device).await.into_iter().filter(|r| r.record == made).collect();
    assert!(marked.len() == 1 && marked[0].rebuild, "mark_rebuild asks for the record whole: {marked:?}");
    assert!(replicas(other).await.is_empty(), "replica rows are per device");

    page(device, 999_999_999, true, vec![], vec![]).await;
    assert_eq!(replicas(device).await, [], "a reset page forgets everything the device was thought to hold");
    assert_eq!(change_count(&storage).await, 1, "pull pages do not touch the log");
}

/// Workers see their own grid's records, a township admin both grids';
/// moving a grid to another township removes its records from the first
/// township's devices and sends them whole to the devices now above it.
pub async fn scope_follows_the_directory(storage: Arc<dyn Storage>) {
    let town = Town::new(storage).await;
    let svc = &town.service;
    let mut wa = town.worker("wa", GRID_A).await;
    let mut wb = town.worker("wb", GRID_B).await;
    let mut pa = town.worker("pa", GRID_A).await;
    town.user("zhen", Role::TownshipAdmin, TOWNSHIP).await;
    let mut zhen = town.device("zhen").await;
    let mut bai = town.worker("bai", VILLAGE_C).await;

    let (in_a, group_a) = wa.patrol(GRID_A);
    wa.push_ok(svc, vec![group_a.clone()]).await;
    let (in_b, group_b) = wb.patrol(GRID_B);
    wb.push_ok(svc, vec![group_b.clone()]).await;

    let rebuilt = |pages: &[gridsync_proto::PullResponse]| -> BTreeSet<RecordId> {
        pages.iter().flat_map(|p| p.rebuild.iter().copied()).collect()
    };
    let received = |pages: &[gridsync_proto::PullResponse]| -> BTreeSet<ChangeId> {
        pages.iter().flat_map(|p| ids_of(&p.changes)).collect()
    };
    let dots = |groups: &[&Vec<Change>]| -> BTreeSet<ChangeId> {
        groups.iter().flat_map(|g| ids_of_changes(g.iter())).collect()
    };

    let pages = pa.pull_all(svc, 100).await;
    assert_eq!(rebuilt(&pages), BTreeSet::from([in_a]), "a grid worker gets their grid's records only");
    assert_eq!(received(&pages), dots(&[&group_a]), "and only their changes");
    let pages = wb.pull_all(svc, 100).await;
    assert!(received(&pages).is_empty(), "the other grid's worker gets nothing of grid A");
    let pages = zhen.pull_all(svc, 100).await;
    assert_eq!(rebuilt(&pages), BTreeSet::from([in_a, in_b]), "a township admin gets both grids' records");
    assert_eq!(received(&pages), dots(&[&group_a, &group_b]), "with all their changes");
    let pages = bai.pull_all(svc, 100).await;
    assert!(rebuilt(&pages).is_empty(), "a worker of another township gets nothing yet");

    let moved = svc.move_place(&Caller::Operator, GRID_B, Some(VILLAGE_C.into())).await;
    assert_eq!(moved.expect("the operator moves grid B").parent.as_deref(), Some(VILLAGE_C));

    let page = zhen.pull(svc, 100).await;
    assert_eq!(page.removed, [in_b], "grid B's record leaves the first township's devices");
    assert!(page.rebuild.is_empty() && page.changes.is_empty(), "and nothing is sent: {page:?}");
    assert!(page.profile.is_some(), "the changed directory sends a new profile");
    let pages = bai.pull_all(svc, 100).await;
    assert_eq!(rebuilt(&pages), BTreeSet::from([in_b]), "the devices now above grid B get its record whole");
    assert_eq!(received(&pages), dots(&[&group_b]), "with its history");
    let page = pa.pull(svc, 100).await;
    assert!(
        page.removed.is_empty() && page.rebuild.is_empty() && page.changes.is_empty(),
        "grid A is untouched"
    );
    let page = wb.pull(svc, 100).await;
    assert!(page.removed.is_empty(), "grid B's own worker keeps its record: {page:?}");

    let ended = wb.end_patrol(in_b, "巡查结束");
    wb.push_ok(svc, vec![ended.clone()]).await;
    let pages = bai.pull_all(svc, 100).await;
    assert_eq!(received(&pages), dots(&[&ended]), "a later change reaches the new township's devices");
    let pages = zhen.pull_all(svc, 100).await;
    assert!(received(&pages).is_empty(), "and not the old township's");

    svc.move_place(&Caller::Operator, GRID_B, Some(VILLAGE_B.into())).await.expect("grid B moves back");
    let pages = zhen.pull_all(svc, 100).await;
    assert_eq!(rebuilt(&pages), BTreeSet::from([in_b]), "moved back, the record returns whole");
    assert_eq!(received(&pages), dots(&[&group_b, &ended]), "with its whole history");
    let pages = bai.pull_all(svc, 100).await;
    let removed: Vec<RecordId> = pages.iter().flat_map(|p| p.removed.iter().copied()).collect();
    assert_eq!(removed, [in_b], "and leaves the other township's devices");
}

/// A record's rows follow its home township ([`crate::home`]): a patrol
/// whose grid is corrected to a grid of another township is found there by
/// every routed read (its history, its dots, its access rows), reaches the
/// devices of the new township whole with its history and leaves the old
/// township's. A later change is appended in the new home and reaches
/// the new township's devices through the incremental log.
pub async fn records_follow_their_home(storage: Arc<dyn Storage>) {
    const GRID_C: &str = "620802101201-01";
    let town = Town::new(storage.clone()).await;
    let svc = &town.service;
    svc.add_place(
        &Caller::Operator,
        super::fixture::place(GRID_C, "白水村第一网格", Level::Grid, Some(VILLAGE_C)),
    )
    .await
    .expect("a grid in the other township");
    let mut wa = town.worker("wa", GRID_A).await;
    let mut wc = town.worker("wc", GRID_C).await;
    town.user("qu", Role::CountyAdmin, COUNTY).await;
    let mut qu = town.device("qu").await;

    let (patrol, created) = wa.patrol(GRID_A);
    wa.push_ok(svc, vec![created.clone()]).await;
    assert!(
        wc.pull_all(svc, 100).await.iter().all(|p| p.rebuild.is_empty()),
        "not yet in the other township"
    );
    qu.pull_all(svc, 100).await;
    let now = super::fixture::now_ms();
    let moved = qu.write(patrol, RecordKind::Patrol, vec![set("grid", Value::Text(GRID_C.into()))], now);
    qu.push_ok(svc, vec![moved.clone()]).await;

    let (history, filed) = storage
        .read(move |tx| {
            let mut history = Vec::new();
            tx.history(patrol, OTHER_TOWNSHIP, u64::MAX >> 1, &mut |row| history.push(row.seq))?;
            let mut filed = Vec::new();
            tx.access(&format!("p:{GRID_C}"), Some(OTHER_TOWNSHIP), 0, &mut |row| filed.push(row.record))?;
            Ok((history.len(), filed))
        })
        .await
        .expect("routed reads");
    assert_eq!(history, created.len() + moved.len(), "every change of the patrol is found in its new home");
    assert_eq!(filed, [patrol], "and its access row");
    for change in created.iter().chain(&moved) {
        assert!(logged(&storage, change).await, "each dot is found in the new home");
    }

    let pages = wc.pull_all(svc, 100).await;
    let rebuilt: Vec<RecordId> = pages.iter().flat_map(|p| p.rebuild.iter().copied()).collect();
    let got: BTreeSet<ChangeId> = pages.iter().flat_map(|p| ids_of(&p.changes)).collect();
    assert_eq!(rebuilt, [patrol], "the new township's worker gets the patrol whole");
    let all: BTreeSet<ChangeId> = ids_of_changes(created.iter().chain(&moved)).into_iter().collect();
    assert_eq!(got, all, "with its whole history");
    let removed: Vec<RecordId> = wa.pull_all(svc, 100).await.iter().flat_map(|p| p.removed.clone()).collect();
    assert_eq!(removed, [patrol], "and it leaves the old grid's worker");

    let ended = wc.end_patrol(patrol, "改到白水村巡查");
    wc.push_ok(svc, vec![ended]).await;
    qu.pull_all(svc, 100).await;
    let ended_by_qu =
        qu.write(patrol, RecordKind::Patrol, vec![set("summary", Value::Text("复核".into()))], now);
    qu.push_ok(svc, vec![ended_by_qu.clone()]).await;
    let got: BTreeSet<ChangeId> =
        wc.pull_all(svc, 100).await.iter().flat_map(|p| ids_of(&p.changes)).collect();
    assert_eq!(
        got,
        ids_of_changes(ended_by_qu.iter()).into_iter().collect(),
        "a later change reaches the new township's devices through the log"
    );
}

/// Record states stream by kind, by id, as `records_of_kind` lists them,
/// and the stream stops when asked.
pub async fn records_stream_by_kind(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let mut phone = town.worker("li", GRID_A).await;
    for _ in 0..3 {
        let (_, group) = phone.patrol(GRID_A);
        phone.push_ok(&town.service, vec![group]).await;
    }
    let (all, first, listed, visits) = storage
        .read(|tx| {
            let (mut all, mut first, mut visits) = (Vec::new(), 0, 0);
            tx.each_record(RecordKind::Patrol, &mut |state| {
                all.push(state.to_vec());
                true
            })?;
            tx.each_record(RecordKind::Patrol, &mut |_| {
                first += 1;
                false
            })?;
            tx.each_record(RecordKind::Visit, &mut |_| {
                visits += 1;
                true
            })?;
            Ok((all, first, tx.records_of_kind(RecordKind::Patrol)?, visits))
        })
        .await
        .expect("states stream");
    assert_eq!(all.len(), 3, "each_record passes every patrol");
    assert_eq!(all, listed, "by id, as records_of_kind lists them");
    assert_eq!((first, visits), (1, 0), "it stops when asked, and passes only the kind asked for");

    // By last update: each push made one record, at its own position.
    let (every, later, one) = storage
        .read(|tx| {
            let high = tx.high_water()?;
            let mut every = Vec::new();
            tx.records_updated(RecordKind::Patrol, 0, high, 10, &mut |seq, state| {
                every.push((seq, state.to_vec()))
            })?;
            let first = every.first().map_or(0, |r| r.0);
            let mut later = Vec::new();
            tx.records_updated(RecordKind::Patrol, first, high, 10, &mut |seq, _| later.push(seq))?;
            let mut one = 0;
            tx.records_updated(RecordKind::Patrol, 0, high, 1, &mut |_, _| one += 1)?;
            Ok((every, later, one))
        })
        .await
        .expect("records by last update");
    assert_eq!(every.len(), 3, "every patrol, by its last update");
    assert!(
        every.windows(2).all(|w| w[0].0 < w[1].0),
        "in log order: {:?}",
        every.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    let mut states: Vec<Vec<u8>> = every.iter().map(|r| r.1.clone()).collect();
    states.sort_by_key(|s| RecordState::from_bytes(s).expect("a state").id());
    assert_eq!(states, listed, "the same states");
    assert_eq!(
        later,
        every[1..].iter().map(|r| r.0).collect::<Vec<_>>(),
        "after a position: the later ones only"
    );
    assert_eq!(one, 1, "at most the limit");
}

/// Records sent whole travel as snapshots: the stored merged state, read in
/// bulk (`record_states`), with the receipts of every change
/// (`receipts`); the page's cursor covers them, so later pages send only
/// later changes, once; a refused change is rebuilt from a snapshot too;
/// a handset that replays histories ends with the same records.
pub async fn records_are_sent_whole_as_snapshots(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let svc = &town.service;
    let mut phone = town.worker("wang", GRID_A).await;
    let mut tablet = town.device("wang").await;
    tablet.snapshots = true;
    let mut old = town.device("wang").await;

    let (first, made) = phone.patrol(GRID_A);
    phone.push_ok(svc, vec![made.clone()]).await;
    let ended = phone.end_patrol(first, "一切正常");
    phone.push_ok(svc, vec![ended.clone()]).await;
    let (second, other) = phone.patrol(GRID_A);
    phone.push_ok(svc, vec![other.clone()]).await;

    // The seam's bulk reads: states with their last update, receipts by dot.
    let ids = vec![first, second, RecordId::from_bytes([0x77; 16])];
    let (states, receipts) = storage
        .read(move |tx| {
            let high = tx.high_water()?;
            let mut states = Vec::new();
            tx.record_states(&ids, &mut |id, seq, bytes| states.push((id, seq, bytes.to_vec())))?;
            let mut receipts = Vec::new();
            tx.receipts(&ids, high, &mut |row| receipts.push(row))?;
            Ok((states, receipts))
        })
        .await
        .expect("bulk reads");
    assert_eq!(states.len(), 2, "an unknown record has no state: {states:?}");
    let whole_first: Vec<Change> = made.iter().chain(&ended).cloned().collect();
    for (id, seq, bytes) in &states {
        let state = RecordState::from_bytes(bytes).expect("a stored state decodes");
        assert_eq!(Some(state), record_state(&storage, *id).await, "record_states gives record_state");
        assert!(*seq > 0, "with its last update's log position");
    }
    assert_eq!(receipts.len(), whole_first.len() + other.len(), "one receipt per change of the two records");
    let mut of_first: Vec<Dot> = receipts
        .iter()
        .filter(|r| r.record == first)
        .map(|r| Dot { actor: r.actor, counter: r.counter })
        .collect();
    of_first.sort();
    let mut dots: Vec<Dot> = whole_first.iter().map(|c| c.dot).collect();
    dots.sort();
    assert_eq!(of_first, dots, "a record's receipts are those of its changes, in any order");

    let page = tablet.pull(svc, 100).await;
    assert!(page.changes.is_empty() && page.rebuild.is_empty(), "nothing is sent as history: {page:?}");
    let mut sent: Vec<RecordId> = page.snapshots.iter().map(|s| s.state.id()).collect();
    sent.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(sent, expected, "both records are sent as snapshots");
    for snapshot in &page.snapshots {
        let id = snapshot.state.id();
        assert_eq!(
            Some(&snapshot.state),
            record_state(&storage, id).await.as_ref(),
            "the stored merged state"
        );
        let changes: Vec<&Change> = whole_first.iter().chain(&other).filter(|c| c.record == id).collect();
        for change in changes {
            assert!(snapshot.receipt(&change.dot).is_some(), "every change's receipt travels with it");
        }
    }
    let cursor = tablet.cursor;
    assert_idle(&tablet.pull(svc, 100).await, cursor, "the tablet after its snapshots");

    // A later change arrives alone, once.
    let again = phone.end_patrol(second, "发现一处隐患");
    phone.push_ok(svc, vec![again.clone()]).await;
    let next = tablet.pull(svc, 100).await;
    assert!(next.snapshots.is_empty(), "a held record is not sent whole again");
    assert_eq!(changes_of(&next), again, "only the later change arrives");

    // A device that replays histories ends with the same records.
    let pages = old.pull_all(svc, 2).await;
    let history: Vec<Change> = pages.iter().flat_map(changes_of).collect();
    for id in [first, second] {
        let replayed =
            RecordState::from_changes(id, RecordKind::Patrol, history.iter().filter(|c| c.record == id))
                .expect("the history merges");
        let mut from_snapshot =
            page.snapshots.iter().find(|s| s.state.id() == id).expect("sent").state.clone();
        for change in next.changes.iter().map(|l| &l.change).filter(|c| c.record == id) {
            from_snapshot.apply(change).expect("a later change merges");
        }
        assert_eq!(from_snapshot, replayed, "snapshot + later changes = the whole history replayed");
    }

    // A refused change makes the next page send the record whole: as a snapshot.
    let bad = phone.write(first, RecordKind::Patrol, vec![set("grid", Value::Text(GRID_B.into()))], T0);
    let refused = phone.push(svc, vec![bad]).await.expect("answered");
    assert_eq!(refused.refused.len(), 1, "the move out of scope is refused");
    phone.snapshots = true;
    let rebuilt = phone.pull(svc, 100).await;
    assert_eq!(
        rebuilt.snapshots.iter().map(|s| s.state.id()).collect::<Vec<_>>(),
        [first],
        "the refused record is rebuilt from a snapshot: {rebuilt:?}"
    );
    assert_eq!(Some(&rebuilt.snapshots[0].state), record_state(&storage, first).await.as_ref());
}

/// A device's incremental pull in small pages: the changes other devices
/// made to the records it holds arrive each exactly once, in log order,
/// across page cuts that fall inside write groups; its own changes and
/// other grids' changes, interleaved in the log, never arrive; each page
/// keeps to its limit; a pull after the last page is idle.
pub async fn pull_pages_cut_at_log_positions(storage: Arc<dyn Storage>) {
    let town = Town::new(storage).await;
    let svc = &town.service;
    let mut phone = town.worker("wang", GRID_A).await;
    let mut tablet = town.device("wang").await;
    let mut neighbour = town.worker("li", GRID_B).await;

    let mut patrols = Vec::new();
    for _ in 0..3 {
        let (id, created) = phone.patrol(GRID_A);
        phone.push_ok(svc, vec![created]).await;
        patrols.push(id);
    }
    tablet.pull_all(svc, 100).await;
    let (own, own_created) = tablet.patrol(GRID_A);
    tablet.push_ok(svc, vec![own_created]).await;
    tablet.pull_all(svc, 100).await;

    // Interleaved in the log: the phone's changes to held records, the
    // tablet's own and another grid's.
    let mut expected = Vec::new();
    for (n, id) in patrols.iter().enumerate() {
        let ended = phone.end_patrol(*id, &format!("第{n}次巡查"));
        phone.push_ok(svc, vec![ended.clone()]).await;
        expected.extend(ended);
        let (_, elsewhere) = neighbour.patrol(GRID_B);
        neighbour.push_ok(svc, vec![elsewhere]).await;
        if n == 1 {
            let mine = tablet.end_patrol(own, "自己的");
            tablet.push_ok(svc, vec![mine]).await;
        }
    }
    let fixed = phone.end_patrol(patrols[0], "更正");
    phone.push_ok(svc, vec![fixed.clone()]).await;
    expected.extend(fixed);

    let pages = tablet.pull_all(svc, 3).await;
    assert!(pages.len() >= 3, "eight changes in pages of three take at least three pages: {}", pages.len());
    for page in &pages {
        assert!(page.changes.len() <= 3, "a page keeps to its limit: {}", page.changes.len());
        assert!(page.rebuild.is_empty() && page.snapshots.is_empty(), "nothing is sent whole");
    }
    let got: Vec<&gridsync_proto::LoggedChange> = pages.iter().flat_map(|p| &p.changes).collect();
    let seqs: Vec<u64> = got.iter().map(|c| c.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "changes come once each, in log order: {seqs:?}");
    assert_eq!(
        ids_of(got.iter().copied()),
        ids_of_changes(&expected),
        "every change other devices made to held records arrives exactly once, and nothing else"
    );
    let cursor = tablet.cursor;
    assert_idle(&tablet.pull(svc, 3).await, cursor, "the tablet");
}

/// `changes_of` reads, for each named record, its changes after the
/// record's own position up to `upto`, in log order, at most `per_record`
/// of them; the changes of records it is not asked for never reach the
/// caller, however many the log holds between them.
pub async fn changes_of_reads_only_the_named_records(storage: Arc<dyn Storage>) {
    let (held, other, elsewhere) =
        (RecordId::generate(T0), RecordId::generate(T0 + 1), RecordId::generate(T0 + 2));
    let actor = ActorId::random();
    let seqs = storage
        .write(move |tx, now| {
            let mut seqs: Vec<(RecordId, u64)> = Vec::new();
            let mut counters: std::collections::HashMap<RecordId, u64> = Default::default();
            for _ in 0..4 {
                // Two changes of a record nobody asks for between each pair.
                for record in [held, elsewhere, other, elsewhere] {
                    let counter = counters.entry(record).or_insert(0);
                    *counter += 1;
                    seqs.push((record, append(tx, &raw_change(record, actor, *counter), now)?));
                }
            }
            Ok(seqs)
        })
        .await
        .expect("changes are appended");
    let of = |record: RecordId| -> Vec<u64> {
        seqs.iter().filter(|(r, _)| *r == record).map(|(_, s)| *s).collect()
    };
    let (held_seqs, other_seqs) = (of(held), of(other));
    let upto = held_seqs[3] - 1;
    let read = |records: Vec<(RecordId, u64)>, per_record: usize| {
        let storage = storage.clone();
        async move {
            storage
                .read(move |tx| {
                    let mut rows = Vec::new();
                    let townships = [GHOST_HOME.to_owned()];
                    tx.changes_of(&records, Some(&townships), upto, per_record, &mut |row| {
                        rows.push((row.record, row.seq))
                    })?;
                    Ok(rows)
                })
                .await
                .expect("changes_of reads")
        }
    };
    let mut rows = read(vec![(held, held_seqs[0]), (other, 0)], 10).await;
    let held_rows: Vec<u64> = rows.iter().filter(|(r, _)| *r == held).map(|(_, s)| *s).collect();
    assert_eq!(
        held_rows,
        held_seqs[1..3],
        "a record's changes after its position and up to `upto`, in log order"
    );
    let other_rows: Vec<u64> = rows.iter().filter(|(r, _)| *r == other).map(|(_, s)| *s).collect();
    assert_eq!(other_rows, other_seqs[..3], "each record from its own position");
    assert!(rows.iter().all(|(r, _)| *r != elsewhere), "a record not asked for is never read: {rows:?}");
    rows = read(vec![(other, 0)], 2).await;
    assert_eq!(
        rows,
        [(other, other_seqs[0]), (other, other_seqs[1])],
        "at most `per_record` of each, the first"
    );
    assert_eq!(read(vec![], 10).await, [], "no record, no row");
}

/// The server's epoch (ADR 0026): a fresh database has one (never 0), every
/// push and pull answer carries it, and renewing it (a restore) changes
/// what the answers carry, with an audit row, while the log stays as it was.
pub async fn the_server_epoch_is_made_and_renewed(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let svc = &town.service;
    let epoch = svc.server_epoch().await.expect("the epoch is read");
    assert_ne!(epoch, 0, "a fresh database has an epoch");
    let mut phone = town.worker("wang", GRID_A).await;
    let (_, created) = phone.patrol(GRID_A);
    let ack = svc.push(phone.push_request(vec![created]), "wang".into()).await.expect("a push");
    assert_eq!(ack.epoch, epoch, "a push answer carries the epoch");
    let mut tablet = town.device("wang").await;
    let page = tablet.pull(svc, 100).await;
    assert_eq!(page.epoch, epoch, "a pull page carries the epoch");
    let count = town.change_count().await;

    let wang = storage.read(|tx| Ok(tx.user("wang")?)).await.expect("read").expect("the worker");
    let staff = Caller::Staff(wang);
    let refused = svc.renew_epoch(&staff, "test").await.expect_err("staff may not renew the epoch");
    assert!(matches!(refused, CoreError::Refused(_)), "{refused:?}");
    let renewal = svc.renew_epoch(&Caller::Operator, "test").await.expect("the operator renews it");
    assert_eq!(renewal.before, epoch);
    assert!(renewal.epoch != epoch && renewal.epoch != 0, "a new epoch: {renewal:?}");
    assert_eq!(svc.server_epoch().await.expect("read"), renewal.epoch, "the new epoch is stored");
    let page = tablet.pull(svc, 100).await;
    assert_eq!(page.epoch, renewal.epoch, "pull pages carry the new epoch");
    assert_eq!(town.change_count().await, count, "renewing the epoch leaves the log alone");
    let last = storage.read(|tx| Ok(tx.audit_head()?)).await.expect("the audit head");
    let mut renewed = None;
    let seq = last.expect("audit rows").0;
    storage
        .read(move |tx| {
            tx.audit_rows_between(seq, seq, &mut |row| {
                renewed = Some(row.event.action);
                false
            })?;
            Ok(renewed)
        })
        .await
        .map(|action| assert_eq!(action.as_deref(), Some("server.epoch_renew"), "the renewal is audited"))
        .expect("the audit row is read");
}
