//! Backups that restore, and restores that devices notice (ADR 0026).
//!
//! Three handsets sync with a real server on loopback; the operator backs
//! the database up while it serves; the handsets go on and the server
//! acknowledges more; the server is stopped, the backup restored, the
//! server started again on the same data directory. The handsets' next
//! syncs bring every acknowledged change back onto the server, nothing
//! doubled, and they all converge. Also: a backup taken while pushes commit
//! is consistent; a restore is refused while a server holds the data
//! directory; and, on both backends, a renewed epoch (what an operator does
//! after pg_restore) makes devices re-send without doubling anything.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

use gridsync_client_core::{Store, Visit};
use gridsync_proto::{ActorId, RecordId, RecordState};
use gridsync_server::Database;
use gridsync_server::backup;
use gridsync_server::operator::verify_audit_anchored;
use gridsync_server_core::audit::{AnchorCheck, Verdict};
use gridsync_server_core::clock::now_ms;
use gridsync_tests::{Handset, Kind, TestServer};

gridsync_tests::matrix![a_renewed_epoch_makes_devices_send_again_and_nothing_doubles];

fn visit(store: &mut Store, address: &str) -> anyhow::Result<RecordId> {
    Ok(store.record_visit(&Visit {
        grid: None,
        household: None,
        address: Some(address.to_owned()),
        visited_ms: now_ms(),
        person_category: "general".into(),
        purpose: "routine".into(),
        result: None,
        follow_up_due: None,
        gps: None,
    })?)
}

/// Every device's records, which must be the same on each.
fn records(handset: &Handset) -> anyhow::Result<Vec<RecordState>> {
    Ok(handset.store.list(&Default::default())?)
}

/// The changes of the server's log (record, device and stored body: the
/// same change is the same triple wherever it sits in the log), each once.
fn logged_dots(server: &TestServer) -> anyhow::Result<BTreeSet<(RecordId, ActorId, Vec<u8>)>> {
    let changes = server.inspect()?.changes()?;
    let dots: BTreeSet<_> = changes.iter().map(|c| (c.record, c.actor, c.body.clone())).collect();
    anyhow::ensure!(dots.len() == changes.len(), "the log holds a change twice");
    Ok(dots)
}

/// Syncs every handset until a round changes nothing anywhere.
fn settle(server: &TestServer, handsets: &mut [&mut Handset]) -> anyhow::Result<()> {
    for _ in 0..4 {
        let mut moved = false;
        for h in handsets.iter_mut() {
            let r = h.sync(server)?;
            moved |= r.pushed + r.pulled + r.rebuilt + r.requeued > 0;
        }
        if !moved {
            return Ok(());
        }
    }
    anyhow::bail!("the handsets did not settle")
}

#[test]
fn acknowledged_changes_lost_by_a_restore_come_back_from_the_devices() -> anyhow::Result<()> {
    let mut server = TestServer::start(Kind::Sqlite)?;
    let mut a = Handset::new(&server, "a")?;
    let mut b = Handset::new(&server, "b")?;
    let mut c = Handset::new(&server, "c")?;
    let early = [visit(&mut a.store, "东关村 1 号")?, visit(&mut b.store, "东关村 2 号")?];
    settle(&server, &mut [&mut a, &mut b, &mut c])?;

    // An online backup, while the server serves.
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("gridsync-backup.db");
    let made = backup::backup(&server.database(), &file)?;
    let at_backup = logged_dots(&server)?;
    assert_eq!(made.manifest.log_position, server.inspect()?.changes()?.last().map_or(0, |c| c.seq));

    // After the backup: new records, and edits of records the backup has,
    // on every device; all acknowledged.
    let late = [visit(&mut a.store, "东关村 3 号")?, visit(&mut c.store, "东关村 4 号")?];
    b.store.note(early[0], "回访：情况稳定")?;
    c.store.note(early[1], "已联系家属")?;
    settle(&server, &mut [&mut a, &mut b, &mut c])?;
    for h in [&a, &b, &c] {
        assert_eq!(h.store.pending()?, 0, "everything was acknowledged");
    }
    let acknowledged = logged_dots(&server)?;
    assert!(acknowledged.len() > at_backup.len());
    let converged = records(&a)?;

    // The server is stopped and the backup restored: the server has lost
    // what it acknowledged after the backup.
    let restored = server.while_stopped(|database| backup::restore(database, &file))?;
    assert_ne!(format!("{:016x}", restored.epoch), made.manifest.server_epoch, "a new epoch");
    assert!(restored.kept.as_ref().is_some_and(|p| p.exists()), "the replaced database is kept");
    assert_eq!(logged_dots(&server)?, at_backup, "the restored server has the backup's log");
    for id in late {
        assert_eq!(server.inspect()?.record(id)?, None, "a record made after the backup is gone");
    }

    // A device that edits offline before it learns of the restore: its
    // edit builds on a record the server lost, and must not be refused.
    a.store.note(late[0], "补充：已整改")?;
    let first = a.sync(&server)?;
    assert!(first.requeued > 0, "the device noticed the restore: {first:?}");
    assert_eq!(first.refused, 0, "nothing refused: {first:?}");
    settle(&server, &mut [&mut a, &mut b, &mut c])?;

    let now = logged_dots(&server)?;
    assert!(now.is_superset(&acknowledged), "every acknowledged change is back on the server");
    assert_eq!(now.len(), acknowledged.len() + 1, "nothing doubled: only the offline note is new");
    let everywhere = records(&a)?;
    assert_eq!(everywhere.len(), converged.len());
    assert_eq!(records(&b)?, everywhere, "b converged with a");
    assert_eq!(records(&c)?, everywhere, "c converged with a");
    for state in &everywhere {
        assert_eq!(
            server.inspect()?.record(state.id())?.as_ref(),
            Some(state),
            "the server's record is the devices'"
        );
    }
    assert_eq!(a.store.get(late[0])?.expect("the record").entries().len(), 1);
    assert_eq!(b.store.get(early[0])?.expect("the record").entries().len(), 1, "the note once");

    // A second sync finds nothing more to do.
    let again = a.sync(&server)?;
    assert_eq!((again.pushed, again.requeued, again.pulled), (0, 0, 0), "{again:?}");
    Ok(())
}

#[test]
fn a_backup_taken_while_pushes_commit_is_consistent() -> anyhow::Result<()> {
    let server = TestServer::start(Kind::Sqlite)?;
    let mut a = Handset::new(&server, "a")?;
    let mut b = Handset::new(&server, "b")?;
    let dir = tempfile::tempdir()?;
    let done = AtomicBool::new(false);
    let copies = std::thread::scope(|scope| -> anyhow::Result<Vec<backup::Made>> {
        let writers = scope.spawn(|| -> anyhow::Result<()> {
            for i in 0..12 {
                visit(&mut a.store, &format!("西关村 {i} 号"))?;
                visit(&mut b.store, &format!("南关村 {i} 号"))?;
                a.sync(&server)?;
                b.sync(&server)?;
            }
            done.store(true, Ordering::SeqCst);
            Ok(())
        });
        let mut copies = Vec::new();
        let mut n = 0;
        while !done.load(Ordering::SeqCst) || copies.is_empty() {
            n += 1;
            copies.push(backup::backup(&server.database(), &dir.path().join(format!("b{n}.db")))?);
        }
        writers.join().expect("the writers ran")?;
        Ok(copies)
    })?;
    let head = server.inspect()?.changes()?.last().map_or(0, |c| c.seq);
    for made in &copies {
        let m = &made.manifest;
        assert!(m.log_position <= head);
        // Each copy, put in a data directory of its own, checks out against
        // its manifest: integrity (checked by `backup`), and the chain holds
        // the manifest's head exactly.
        let data = dir.path().join(format!("check-{}", m.file));
        std::fs::create_dir_all(&data)?;
        std::fs::copy(dir.path().join(&m.file), data.join("gridsync.db"))?;
        let database = Database::Embedded { data_dir: data };
        let (verdict, check) = verify_audit_anchored(&database, Some(m.anchor()))?;
        assert!(matches!(verdict, Verdict::Intact { rows, .. } if rows == m.audit.rows), "{verdict:?}");
        assert_eq!(check, Some(AnchorCheck::Holds));
        let inspector = gridsync_server::Inspector::open(&database)?;
        let logged = inspector.changes()?;
        assert_eq!(
            logged.last().map_or(0, |c| c.seq),
            m.log_position,
            "the copy ends where its manifest says"
        );
        // Whole write groups only: every visit has its 6 changes.
        assert_eq!(logged.len() % 6, 0, "a copy holds whole pushes: {}", logged.len());
    }
    Ok(())
}

#[test]
fn a_restore_is_refused_while_a_server_serves_the_data_directory() -> anyhow::Result<()> {
    let server = TestServer::start(Kind::Sqlite)?;
    let mut a = Handset::new(&server, "a")?;
    visit(&mut a.store, "东关村 1 号")?;
    a.sync(&server)?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("b.db");
    backup::backup(&server.database(), &file)?;
    let epoch = server.operator()?.run(server.operator()?.service().server_epoch())?;
    let refused = backup::restore(&server.database(), &file).expect_err("the server holds the directory");
    assert!(refused.to_string().contains("stop it first"), "{refused}");
    assert_eq!(
        server.operator()?.run(server.operator()?.service().server_epoch())?,
        epoch,
        "nothing changed"
    );
    visit(&mut a.store, "东关村 2 号")?;
    assert_eq!(a.sync(&server)?.requeued, 0, "the server serves on, in the same epoch");
    Ok(())
}

/// What an operator does after restoring PostgreSQL with pg_restore (or
/// for any reason): `epoch renew`. Devices send everything again; the
/// server has it all, so nothing doubles and nothing changes.
fn a_renewed_epoch_makes_devices_send_again_and_nothing_doubles(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut a = Handset::new(&server, "a")?;
    let mut b = Handset::new(&server, "b")?;
    visit(&mut a.store, "东关村 1 号")?;
    visit(&mut b.store, "东关村 2 号")?;
    settle(&server, &mut [&mut a, &mut b])?;
    let before = logged_dots(&server)?;
    let records_before = records(&a)?;

    backup::renew_epoch(&server.database())?;
    let report = a.sync(&server)?;
    assert_eq!(report.requeued, 6, "a's visit is sent again: {report:?}");
    assert_eq!((report.pushed, report.duplicates), (0, 6), "the server had it: {report:?}");
    settle(&server, &mut [&mut a, &mut b])?;
    assert_eq!(logged_dots(&server)?, before, "nothing doubled");
    assert_eq!(records(&a)?, records_before);
    assert_eq!(records(&b)?, records_before);
    Ok(())
}
