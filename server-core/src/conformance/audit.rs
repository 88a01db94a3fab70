//! The audit chain: one row per audited action, in commit order, each
//! linked to the one before it (guarantee 6).

use std::collections::BTreeSet;
use std::sync::Arc;

use gridsync_proto::{RecordKind, Value};
use tokio::task::JoinSet;

use super::fixture::{GRID_A, GRID_B, Town, places, set};
use crate::audit::{Event, GENESIS, Verdict, link};
use crate::service::Caller;
use crate::service::audit_log::AuditQuery;
use crate::storage::{AuditRow, Storage, StorageExt};

/// Audit writes made at once in [`audit_chain_links_every_row`].
const CONCURRENT: usize = 16;

async fn rows(storage: &Arc<dyn Storage>) -> Vec<AuditRow> {
    let mut rows = Vec::new();
    storage
        .read(|tx| {
            tx.audit_rows(&mut |row| {
                rows.push(row);
                true
            })?;
            Ok(rows)
        })
        .await
        .expect("the audit log reads")
}

/// Checks that `rows` form one chain from the genesis: positions 1, 2, 3…,
/// each row's `prev_hash` the hash of the row before, each hash [`link`]ed
/// over the row's content.
fn assert_linked(rows: &[AuditRow]) {
    let mut prev = GENESIS.to_vec();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.seq, i as u64 + 1, "audit rows are numbered 1, 2, 3… with no gap");
        assert_eq!(row.prev_hash, prev, "row {} links to the row before it", row.seq);
        assert_eq!(
            row.hash,
            link(&prev, row.seq, row.time_ms, &row.event),
            "row {}'s hash covers its content",
            row.seq
        );
        prev = row.hash.clone();
    }
}

/// Operations through the service append one row each, in order, and a
/// refused push group its own; the chain verifies (`Intact` with the row
/// count and the head's hash), reads back linked, and stops early when
/// asked; a check since the last reads only the rows appended since; concurrent appends each get one row of one chain; the rows read
/// newest first below a position, as the service pages them; a row cannot
/// be overwritten.
pub async fn audit_chain_links_every_row(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let svc = &town.service;
    let mut wang = town.worker("wang", GRID_A).await;
    let (patrol, group) = wang.patrol(GRID_A);
    wang.push_ok(svc, vec![group]).await;
    let astray = wang.write(patrol, RecordKind::Patrol, vec![set("grid", Value::Text(GRID_B.into()))], 0);
    let answer = wang.push(svc, vec![astray]).await.expect("a push with a refused group is answered");
    assert_eq!(answer.refused.len(), 1, "the group is refused");
    let note = Event::new("cli", "conformance.note", "wang", "ok").detail("by the conformance suite");
    svc.audit(note.clone()).await.expect("an event is audited");

    let rows = rows(&storage).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.event.action.as_str()).collect();
    let mut expected = vec!["place.add"; places().len()];
    expected.extend(["user.add", "enroll.issue", "device.enroll", "sync.group_refused", "conformance.note"]);
    assert_eq!(actions, expected, "each audited operation appends one row, in order");
    assert_eq!(rows.last().map(|r| &r.event), Some(&note), "an event reads back as appended");
    assert_linked(&rows);
    let last = rows.last().expect("rows were appended");
    let head = storage.read(|tx| Ok(tx.audit_head()?)).await.expect("the audit head reads");
    assert_eq!(head, Some((last.seq, last.hash.clone())), "audit_head is the last row's position and hash");
    let verdict = svc.verify_audit(&Caller::Operator).await.expect("the chain is verified");
    let intact = Verdict::Intact { rows: rows.len() as u64, head: gridsync_proto::auth::hex(&last.hash) };
    assert_eq!(verdict, intact, "the chain verifies whole");
    let first = svc.audit_chain(&Caller::Operator, false).await.expect("the chain is checked");
    assert_eq!(
        (&first.verdict, first.checked),
        (&intact, rows.len() as u64),
        "a first check reads every row"
    );
    let again = svc.audit_chain(&Caller::Operator, false).await.expect("the chain is checked");
    assert_eq!((&again.verdict, again.checked), (&intact, 0), "the next reads only rows appended since");

    storage
        .read(|tx| {
            let mut seen = 0;
            tx.audit_rows(&mut |_| {
                seen += 1;
                seen < 3
            })?;
            Ok(seen)
        })
        .await
        .map(|n| assert_eq!(n, 3, "audit_rows stops when asked"))
        .expect("the audit log reads");

    let mut appending = JoinSet::new();
    for i in 0..CONCURRENT {
        let svc = svc.clone();
        appending.spawn(async move {
            svc.audit(Event::new("cli", "conformance.concurrent", i.to_string(), "ok")).await
        });
    }
    while let Some(done) = appending.join_next().await {
        done.expect("an audit task finishes").expect("a concurrent audit write commits");
    }
    let all = self::rows(&storage).await;
    assert_eq!(all.len(), rows.len() + CONCURRENT, "each concurrent append adds one row");
    assert_eq!(all[..rows.len()], rows[..], "earlier rows are unchanged");
    assert_linked(&all);
    let since = svc.audit_chain(&Caller::Operator, false).await.expect("the chain is checked");
    assert!(
        matches!(since.verdict, Verdict::Intact { rows, .. } if rows == all.len() as u64)
            && since.checked == CONCURRENT as u64,
        "a check after concurrent appends reads just those: {since:?}"
    );
    let between = storage
        .read(|tx| {
            let mut seen = Vec::new();
            tx.audit_rows_between(3, 5, &mut |row| {
                seen.push(row.seq);
                true
            })?;
            Ok(seen)
        })
        .await
        .expect("the audit log reads a range");
    assert_eq!(between, vec![3, 4, 5], "audit_rows_between reads its bounds and what lies between, in order");
    let targets: BTreeSet<String> = all[rows.len()..].iter().map(|r| r.event.target.clone()).collect();
    assert_eq!(
        targets,
        (0..CONCURRENT).map(|i| i.to_string()).collect(),
        "every concurrent event has its row"
    );

    // Newest first, below a position, stopping when asked; the service's
    // pages and filters on top.
    let newest_first = storage
        .read(|tx| {
            let mut seen = Vec::new();
            tx.audit_rows_before(u64::MAX, &mut |row| {
                seen.push(row);
                true
            })?;
            Ok(seen)
        })
        .await
        .expect("the audit log reads backwards");
    let mut reversed = all.clone();
    reversed.reverse();
    assert_eq!(newest_first, reversed, "audit_rows_before(MAX) reads every row, newest first");
    let below = storage
        .read(|tx| {
            let mut seen = Vec::new();
            tx.audit_rows_before(5, &mut |row| {
                seen.push(row.seq);
                seen.len() < 2
            })?;
            Ok(seen)
        })
        .await
        .expect("the audit log reads backwards");
    assert_eq!(below, vec![4, 3], "only rows below the position, newest first, until told to stop");
    let query = AuditQuery { action: Some("conformance.".into()), limit: 10, ..AuditQuery::default() };
    let page = svc.audit_log(&Caller::Operator, query.clone()).await.expect("a page of the log");
    assert_eq!(page.rows.len(), 10, "a full page of the matching rows");
    assert!(page.rows.iter().all(|r| r.event.action.starts_with("conformance.")), "filtered by action");
    let next = page.next_before.expect("more rows match");
    let rest = svc
        .audit_log(&Caller::Operator, AuditQuery { before: Some(next), ..query })
        .await
        .expect("the next page");
    assert_eq!(page.rows.len() + rest.rows.len(), CONCURRENT + 1, "every matching row, once, over the pages");
    assert!(rest.rows.iter().all(|r| r.seq < next), "the next page is older");

    let mut forged = all[0].clone();
    forged.event.outcome = "forged".into();
    forged.hash = link(&forged.prev_hash, forged.seq, forged.time_ms, &forged.event);
    let overwrite = storage.write(move |tx, _| Ok(tx.insert_audit_row(&forged)?)).await;
    assert!(overwrite.is_err(), "a row cannot be stored over an existing one");
    assert_eq!(self::rows(&storage).await, all, "the refused overwrite leaves every row");
    let verdict = svc.verify_audit(&Caller::Operator).await.expect("the chain is verified");
    assert!(
        matches!(verdict, Verdict::Intact { rows, .. } if rows == all.len() as u64),
        "and the chain intact"
    );
}
