//! Concurrent work: cursors and the high-water mark under concurrent
//! pushes, write jobs in flight, failed jobs beside successful ones, and
//! read snapshots held while writes commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::mpsc;

use gridsync_proto::{ActorId, Change, ErrorCode, Level, RecordId, RecordKind, RecordState, Role};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use super::fixture::{
    ChangeId, GHOST_HOME, GRID_A, T0, Town, append, change_count, directory_version, logged, place,
    raw_change,
};
use crate::audit::{Event, Verdict};
use crate::error::{CoreError, CoreResult};
use crate::storage::{NewSession, NewUser, SavedRecord, Storage, StorageExt, WriteTx};

/// Pushing devices in [`cursors_hold_under_concurrent_pushes`].
const PUSHERS: usize = 4;
/// Pushes each of them makes.
const PUSHES: usize = 12;
/// Changes per pull page there: small, so pulls page while pushes land.
const PAGE: u32 = 5;
/// Most rows a case asks a scan for (far above any case's log).
const ALL_ROWS: usize = 1_000_000;

/// What one read snapshot showed: its high-water mark and every log
/// position at or below it.
#[derive(Debug)]
struct Snapshot {
    high: u64,
    seqs: Vec<u64>,
}

async fn snapshot(storage: &Arc<dyn Storage>) -> Snapshot {
    storage
        .read(|tx| {
            let high = tx.high_water()?;
            let mut seqs = Vec::new();
            tx.scan(0, high, ALL_ROWS, None, &mut |row| {
                seqs.push(row.seq);
                true
            })?;
            Ok(Snapshot { high, seqs })
        })
        .await
        .expect("a snapshot of the log reads")
}

/// Several devices push concurrently while another device of the same grid
/// pulls page after page and a reader takes snapshots of the log. In the
/// end the puller received every acknowledged change exactly once, byte
/// for byte; its cursor never went backwards; and no snapshot's high-water
/// mark ever had a change commit at or below it later (guarantee 4), nor
/// fell behind an earlier snapshot's (guarantee 5).
pub async fn cursors_hold_under_concurrent_pushes(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let mut pushers = Vec::new();
    for i in 0..PUSHERS {
        pushers.push(town.worker(&format!("pusher-{i}"), GRID_A).await);
    }
    let mut puller = town.worker("puller", GRID_A).await;
    let (done_tx, done) = watch::channel(false);

    let watcher = {
        let (storage, done) = (storage.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let finished = *done.borrow();
                seen.push(snapshot(&storage).await);
                if finished {
                    return seen;
                }
            }
        })
    };
    let pulling = {
        let service = town.service.clone();
        tokio::spawn(async move {
            let mut received = Vec::new();
            // The pages of one sync share the scope computed on its first
            // page, so a record created meanwhile arrives on the next sync:
            // the puller stops after a whole sync (a page after one without
            // `more`, up to one without `more`) that began once every push
            // was acknowledged.
            let (mut fresh, mut caught_up) = (true, false);
            for _ in 0..100_000 {
                let finished = *done.borrow();
                let page = puller.pull(&service, PAGE).await;
                received.extend(page.changes);
                caught_up |= finished && fresh;
                if caught_up && !page.more {
                    return received;
                }
                fresh = !page.more;
            }
            panic!("the puller never caught up with the pushers")
        })
    };

    let mut pushing = JoinSet::new();
    for mut handset in pushers {
        let service = town.service.clone();
        pushing.spawn(async move {
            let mut acknowledged = Vec::new();
            let mut open = None;
            for _ in 0..PUSHES {
                let group = match open.take() {
                    Some(id) => handset.end_patrol(id, "巡查结束"),
                    None => {
                        let (id, group) = handset.patrol(GRID_A);
                        open = Some(id);
                        group
                    }
                };
                handset.push_ok(&service, vec![group.clone()]).await;
                acknowledged.extend(group);
            }
            acknowledged
        });
    }
    let mut acknowledged: HashMap<ChangeId, Change> = HashMap::new();
    while let Some(joined) = pushing.join_next().await {
        acknowledged
            .extend(joined.expect("a pushing task finishes").into_iter().map(|c| ((c.record, c.dot), c)));
    }
    done_tx.send(true).expect("the puller and the watcher listen");
    let received = pulling.await.expect("the pulling task finishes");
    let snapshots = watcher.await.expect("the watching task finishes");

    let mut times: BTreeMap<ChangeId, u32> = BTreeMap::new();
    for logged in &received {
        let key = (logged.change.record, logged.change.dot);
        *times.entry(key).or_default() += 1;
        let pushed = acknowledged.get(&key);
        assert_eq!(
            pushed,
            Some(&logged.change),
            "the puller received a change no push acknowledged, or other bytes"
        );
    }
    let twice: Vec<&ChangeId> = times.iter().filter(|(_, n)| **n > 1).map(|(d, _)| d).collect();
    assert!(twice.is_empty(), "changes received more than once: {twice:?}");
    let missed: Vec<&ChangeId> = acknowledged.keys().filter(|d| !times.contains_key(d)).collect();
    assert!(
        missed.is_empty(),
        "acknowledged changes never received ({} of {}): {missed:?}",
        missed.len(),
        acknowledged.len()
    );
    let mut seqs: Vec<u64> = received.iter().map(|c| c.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), received.len(), "every change has its own log position");

    let last = snapshot(&storage).await;
    let count = change_count(&storage).await;
    assert_eq!(
        last.seqs.len() as u64,
        count,
        "once writes stop, the high-water mark ({}) covers every committed change",
        last.high
    );
    let mut previous = 0;
    for (i, seen) in snapshots.iter().enumerate() {
        assert!(
            seen.high >= previous,
            "snapshot {i}: the high-water mark went back from {previous} to {}",
            seen.high
        );
        previous = seen.high;
        let now: Vec<u64> = last.seqs.iter().copied().filter(|s| *s <= seen.high).collect();
        assert_eq!(
            now, seen.seqs,
            "snapshot {i}: changes committed at or below its high-water mark {} after it was read",
            seen.high
        );
    }
}

/// A write job still running must not let a concurrent read's high-water
/// mark reach the position of a change it will commit (guarantee 4). The
/// job appends a change and blocks until released; meanwhile a second write
/// job appends another change (a backend with concurrent writers commits it
/// at once, a single writer queues it), and reads probe the high-water mark,
/// before and after the second job commits. Released, both commit with
/// rising positions, and the mark covers them.
pub async fn high_water_stays_below_running_writes(storage: Arc<dyn Storage>) {
    /// Read probes while the first job is held (the second job's commit
    /// is watched for meanwhile).
    const PROBES: usize = 200;
    let baseline = raw_change(RecordId::generate(T0), ActorId::random(), 1);
    storage.write(move |tx, now| Ok(append(tx, &baseline, now)?)).await.expect("a first change commits");
    let before = storage.read(|tx| Ok(tx.high_water()?)).await.expect("the high-water mark reads");

    let held_change = raw_change(RecordId::generate(T0 + 1), ActorId::random(), 1);
    let (appended_tx, appended) = oneshot::channel();
    let (release, released) = mpsc::channel::<()>();
    let held = {
        let (storage, change) = (storage.clone(), held_change.clone());
        tokio::spawn(async move {
            storage
                .write(move |tx, now| {
                    let seq = append(tx, &change, now)?;
                    let _ = appended_tx.send(seq);
                    // Held until the case lets go (or gives up and drops `release`).
                    let _ = released.recv();
                    Ok(seq)
                })
                .await
        })
    };
    let first = appended.await.expect("the held job appends its change");
    assert!(first > before, "a new change's position ({first}) is above the high-water mark ({before})");

    let later_change = raw_change(RecordId::generate(T0 + 2), ActorId::random(), 1);
    let later = {
        let (storage, change) = (storage.clone(), later_change.clone());
        tokio::spawn(async move { storage.write(move |tx, now| Ok(append(tx, &change, now)?)).await })
    };
    let (record, actor) = (held_change.record, held_change.dot.actor);
    for probe in 0..PROBES {
        let later_done = later.is_finished();
        let (high, visible) = storage
            .read(move |tx| Ok((tx.high_water()?, tx.change_body(record, GHOST_HOME, actor, 1)?.is_some())))
            .await
            .expect("a probe reads");
        assert!(!visible, "probe {probe}: a read sees the change of a write job that has not committed");
        assert!(
            high < first,
            "probe {probe}: the high-water mark ({high}) reached the position ({first}) of a change still being written"
        );
        assert!(high >= before, "probe {probe}: the high-water mark went back from {before} to {high}");
        if later_done {
            break;
        }
    }
    release.send(()).expect("the held job waits for its release");
    let committed = held.await.expect("the held task finishes").expect("the held job commits");
    assert_eq!(committed, first, "the held job commits at the position it was given");
    let second = later.await.expect("the later task finishes").expect("the later job commits");
    assert!(second > first, "a change appended later has a higher position ({second} after {first})");
    let high = storage.read(|tx| Ok(tx.high_water()?)).await.expect("the high-water mark reads");
    assert!(high >= second, "after both commit the high-water mark ({high}) covers them ({first}, {second})");
    assert!(
        logged(&storage, &held_change).await && logged(&storage, &later_change).await,
        "both are visible"
    );
}

/// A job that writes through every trait and then fails, run as this case's
/// `n`-th failure: its error is its own, and nothing it wrote is kept.
fn failing_job(n: u32) -> impl FnOnce(&mut dyn WriteTx, u64) -> CoreResult<()> + Send + 'static {
    move |tx, now| {
        let name = format!("ghost-{n}");
        let user =
            NewUser { name: &name, role: Role::Worker, scope: "", unit: None, password_hash: None, now };
        tx.insert_user(&user)?;
        tx.append_audit(now, &Event::new("conformance", "conformance.fail", &name, "ok"))?;
        let change = ghost_change(n);
        let seq = append(tx, &change, now)?;
        let state = RecordState::from_changes(change.record, RecordKind::Patrol, [&change]).expect("merges");
        let bytes = state.to_bytes();
        tx.save_record(&SavedRecord {
            id: change.record,
            township: GHOST_HOME,
            kind: RecordKind::Patrol,
            state: &bytes,
            conflicted: false,
            updated_seq: seq,
        })?;
        tx.file_access(change.record, GHOST_HOME, &[format!("p:GHOST-{n}")], now, false, seq)?;
        tx.hold(change.dot.actor, GHOST_HOME, change.record)?;
        tx.note_push(change.dot.actor, now, 1)?;
        tx.insert_place(&place(&format!("GHOST-{n}"), "幽灵镇", Level::Township, None), now)?;
        tx.bump_directory(0)?;
        tx.insert_session(&NewSession {
            token_hash: &[n as u8; 32],
            user: &name,
            created_ms: now,
            expires_ms: u64::MAX / 2,
        })?;
        Err(refusal(n))
    }
}

fn ghost_change(n: u32) -> Change {
    raw_change(RecordId::from_bytes([n as u8; 16]), ActorId::from_bytes([n as u8 + 100; 16]), 1)
}

fn refusal(n: u32) -> CoreError {
    CoreError::invalid(format!("job {n} fails on purpose after writing"))
}

/// Two jobs that write everywhere and then fail, beside one that succeeds,
/// queued while a first job holds the writer (so that a group-committing
/// backend is likely to commit them together): each failed job answers its
/// own error and leaves no trace in any table; the others commit whole,
/// and the audit chain links their rows only (guarantees 1, 2 and 6).
pub async fn failed_write_jobs_leave_no_trace(storage: Arc<dyn Storage>) {
    let version = directory_version(&storage).await;
    let (started_tx, started) = oneshot::channel();
    let (release, released) = mpsc::channel::<()>();
    let holding = {
        let storage = storage.clone();
        tokio::spawn(async move {
            storage
                .write(move |tx, now| {
                    tx.append_audit(now, &Event::new("conformance", "conformance.hold", "", "ok"))?;
                    let _ = started_tx.send(());
                    let _ = released.recv();
                    Ok(())
                })
                .await
        })
    };
    started.await.expect("the holding job starts");

    let kept_change = raw_change(RecordId::generate(T0), ActorId::random(), 1);
    let mut jobs = JoinSet::new();
    for (i, fails) in [(1, true), (2, false), (3, true)] {
        let (storage, change) = (storage.clone(), kept_change.clone());
        jobs.spawn(async move {
            let result = if fails {
                storage.write(failing_job(i)).await
            } else {
                storage
                    .write(move |tx, now| {
                        let user = NewUser {
                            name: "kept",
                            role: Role::Worker,
                            scope: "",
                            unit: None,
                            password_hash: None,
                            now,
                        };
                        tx.insert_user(&user)?;
                        tx.append_audit(now, &Event::new("conformance", "conformance.keep", "kept", "ok"))?;
                        append(tx, &change, now)?;
                        tx.insert_place(&place("KEPT", "留存镇", Level::Township, None), now)?;
                        Ok(())
                    })
                    .await
            };
            (i, result)
        });
        tokio::task::yield_now().await;
    }
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
    release.send(()).expect("the holding job waits for its release");
    holding.await.expect("the holding task finishes").expect("the holding job commits");
    while let Some(joined) = jobs.join_next().await {
        let (i, result) = joined.expect("a job's task finishes");
        if i == 2 {
            result.expect("the job beside the failing ones commits");
        } else {
            assert_eq!(result, Err(refusal(i)), "a failing job answers its own error");
        }
    }

    let (users, places, count) = storage
        .read(|tx| Ok((tx.users()?, tx.places()?, tx.change_count()?)))
        .await
        .expect("the state reads");
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["kept"], "only the successful job's user is stored");
    let codes: Vec<&str> = places.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(codes, ["KEPT"], "only the successful job's place is stored");
    assert_eq!(count, 1, "only the successful job's change is logged");
    assert!(logged(&storage, &kept_change).await, "the successful job's change is logged");
    assert_eq!(directory_version(&storage).await, version, "a failed job's directory bump is undone");
    for n in [1u32, 3] {
        let change = ghost_change(n);
        let traces = storage
            .read(move |tx| {
                let mut filed = 0;
                tx.access(&format!("p:GHOST-{n}"), Some(GHOST_HOME), 0, &mut |_| filed += 1)?;
                Ok((
                    tx.change_body(change.record, GHOST_HOME, change.dot.actor, 1)?,
                    tx.record_state(change.record)?,
                    filed,
                    tx.replicas(change.dot.actor, GHOST_HOME)?,
                    tx.device_exists(change.dot.actor)?,
                    tx.session_user(&[n as u8; 32], T0)?,
                ))
            })
            .await
            .expect("the failed job's rows read");
        assert_eq!(traces, (None, None, 0, vec![], false, None), "failed job {n} left a trace");
    }

    let actions = storage
        .read(|tx| {
            let mut actions = Vec::new();
            tx.audit_rows(&mut |row| {
                actions.push(row.event.action);
                true
            })?;
            Ok(actions)
        })
        .await
        .expect("the audit log reads");
    assert_eq!(actions, ["conformance.hold", "conformance.keep"], "only committed jobs' audit rows remain");
    let verdict = storage.read(|tx| Ok(tx.verify_chain()?)).await.expect("the audit chain reads");
    assert!(
        matches!(verdict, Verdict::Intact { rows: 2, .. }),
        "the chain skips the failed jobs' rows: {verdict:?}"
    );
    let refused =
        storage.write(|_, _| -> CoreResult<()> { Err(CoreError::refused(ErrorCode::Forbidden, "no")) }).await;
    assert_eq!(
        refused,
        Err(CoreError::refused(ErrorCode::Forbidden, "no")),
        "a job's refusal is answered as it is"
    );
}

/// A read job sees one state throughout: a write that commits while it is
/// open (it blocks in the job until the write is acknowledged) changes
/// nothing it reads; a read started afterwards sees the write (guarantee 3).
pub async fn read_jobs_see_one_snapshot(storage: Arc<dyn Storage>) {
    type View = (u64, u64, Vec<String>, Option<(u64, Vec<u8>)>, u64, usize);
    fn view(tx: &mut dyn crate::storage::ReadTx) -> CoreResult<View> {
        let names = tx.users()?.into_iter().map(|u| u.name).collect();
        Ok((
            tx.change_count()?,
            tx.high_water()?,
            names,
            tx.audit_head()?,
            tx.directory_version()?,
            tx.places()?.len(),
        ))
    }
    let first = raw_change(RecordId::generate(T0), ActorId::random(), 1);
    storage
        .write(move |tx, now| {
            append(tx, &first, now)?;
            tx.append_audit(now, &Event::new("conformance", "conformance.first", "", "ok"))?;
            Ok(())
        })
        .await
        .expect("a first write commits");

    let (opened_tx, opened) = oneshot::channel();
    let (release, released) = mpsc::channel::<()>();
    let reading = {
        let storage = storage.clone();
        tokio::spawn(async move {
            storage
                .read(move |tx| {
                    let before = view(tx)?;
                    let _ = opened_tx.send(());
                    let _ = released.recv();
                    Ok((before, view(tx)?))
                })
                .await
        })
    };
    opened.await.expect("the read job opens its snapshot");
    let second = raw_change(RecordId::generate(T0 + 1), ActorId::random(), 1);
    storage
        .write(move |tx, now| {
            append(tx, &second, now)?;
            let user = NewUser {
                name: "later",
                role: Role::Worker,
                scope: "",
                unit: None,
                password_hash: None,
                now,
            };
            tx.insert_user(&user)?;
            tx.append_audit(now, &Event::new("conformance", "conformance.second", "", "ok"))?;
            tx.insert_place(&place("LATER", "后来镇", Level::Township, None), now)?;
            tx.bump_directory(0)?;
            Ok(())
        })
        .await
        .expect("a write commits while a read job is open");
    release.send(()).expect("the read job waits for its release");
    let (before, during) = reading.await.expect("the reading task finishes").expect("the read job answers");
    assert_eq!(before, during, "a read job saw a write that committed while it was open");
    let after = storage.read(view).await.expect("a later read answers");
    assert_eq!(after.0, before.0 + 1, "a read started after the write sees its change");
    assert!(after.1 > before.1, "and a higher high-water mark");
    assert_eq!(after.2, ["later"], "and its user");
    assert_eq!(after.3.as_ref().map(|h| h.0), before.3.as_ref().map(|h| h.0 + 1), "and its audit row");
    assert!(after.4 > before.4 && after.5 == before.5 + 1, "and its directory change");
}
