use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gridsync_proto::Role;
use gridsync_server_core::storage::{NewUser, WriteTx};
use gridsync_server_core::{CoreError, Storage, StorageErrorKind, StorageExt};

use super::SqliteStorage;

/// A clock that moves on with every group, so jobs that got the same time
/// shared a group.
fn tick() -> u64 {
    static CLOCK: AtomicU64 = AtomicU64::new(1_000);
    CLOCK.fetch_add(1, Ordering::SeqCst)
}

fn user(name: &str, now: u64) -> NewUser<'_> {
    NewUser { name, role: Role::Worker, scope: "", unit: None, password_hash: None, now }
}

/// A write that holds the writer, running, until the returned sender is
/// used: the jobs queued meanwhile wait together for one group commit.
async fn held_writer(
    storage: &SqliteStorage,
) -> (tokio::task::JoinHandle<Result<u64, CoreError>>, std::sync::mpsc::Sender<()>) {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (started, running) = std::sync::mpsc::channel::<()>();
    let blocker = queued(storage, move |_, now| {
        started.send(()).expect("started");
        wait.recv().expect("released");
        Ok(now)
    })
    .await;
    tokio::task::spawn_blocking(move || running.recv().expect("running")).await.expect("join");
    (blocker, release)
}

/// Spawns a write and returns its handle, after letting it reach the queue.
async fn queued<T, F>(storage: &SqliteStorage, work: F) -> tokio::task::JoinHandle<Result<T, CoreError>>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn WriteTx, u64) -> Result<T, CoreError> + Send + 'static,
{
    let storage = storage.clone();
    let handle = tokio::spawn(async move { storage.write(work).await });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    handle
}

/// [`queued`] for a job sent as validated (no savepoint of its own).
async fn queued_validated<T, F>(
    storage: &SqliteStorage,
    work: F,
) -> tokio::task::JoinHandle<Result<T, CoreError>>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn WriteTx, u64) -> Result<T, CoreError> + Send + 'static,
{
    let storage = storage.clone();
    let handle = tokio::spawn(async move { storage.write_validated(work).await });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    handle
}

#[tokio::test]
async fn validated_jobs_share_a_transaction_and_a_failure_after_writing_keeps_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (storage, writer) = SqliteStorage::open_with_clock(dir.path(), tick).expect("open");

    // Hold the writer, so that the next jobs wait together.
    let (blocker, release) = held_writer(&storage).await;
    let early = queued_validated(&storage, |tx, now| Ok(tx.insert_user(&user("early", now))?)).await;
    let refused = queued_validated(&storage, |tx, _| {
        assert_eq!(tx.user("early")?.map(|u| u.name), Some("early".into()), "one transaction, no savepoint");
        Err::<(), _>(CoreError::invalid("refused before writing"))
    })
    .await;
    let after_refusal = queued_validated(&storage, |tx, now| Ok(tx.insert_user(&user("after", now))?)).await;
    let broken = queued_validated(&storage, |tx, now| {
        tx.insert_user(&user("broken", now))?;
        Err::<(), _>(CoreError::invalid("failed after writing"))
    })
    .await;
    let next = queued(&storage, |tx, now| {
        for name in ["early", "after", "broken"] {
            assert_eq!(tx.user(name)?, None, "the broken transaction was rolled back before this job ran");
        }
        Ok(tx.insert_user(&user("next", now))?)
    })
    .await;
    release.send(()).expect("release");

    blocker.await.expect("join").expect("blocker");
    let busy = |r: Result<(), CoreError>| match r {
        Err(CoreError::Storage(e)) => e.kind == StorageErrorKind::Busy,
        _ => false,
    };
    assert!(busy(early.await.expect("join")), "a job whose transaction was rolled back fails, to be retried");
    assert_eq!(refused.await.expect("join"), Err(CoreError::invalid("refused before writing")));
    assert!(busy(after_refusal.await.expect("join")), "so does every job that ran in it");
    assert_eq!(broken.await.expect("join"), Err(CoreError::invalid("failed after writing")));
    next.await.expect("join").expect("the jobs after the failure commit in a new transaction");

    let names = storage.read(|tx| Ok(tx.users()?)).await.expect("read");
    let names: Vec<&str> = names.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["next"], "nothing of the rolled-back transaction was kept");
    drop(storage);
    writer.join();
}

#[tokio::test]
async fn a_refused_job_leaves_nothing_and_its_neighbour_in_the_group_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (storage, writer) = SqliteStorage::open_with_clock(dir.path(), tick).expect("open");

    // Hold the writer, so that the next two jobs wait together.
    let (blocker, release) = held_writer(&storage).await;
    let refused_at = Arc::new(Mutex::new(0));
    let seen = refused_at.clone();
    let refused = queued(&storage, move |tx, now| {
        *seen.lock().expect("lock") = now;
        tx.insert_user(&user("refused", now))?;
        Err::<(), _>(CoreError::invalid("refused after writing"))
    })
    .await;
    let kept = queued(&storage, |tx, now| {
        assert_eq!(tx.user("refused")?, None, "the refused job was rolled back before this one ran");
        tx.insert_user(&user("kept", now))?;
        Ok(now)
    })
    .await;
    release.send(()).expect("release");

    let first = blocker.await.expect("join").expect("blocker");
    let refusal = refused.await.expect("join").expect_err("refused");
    assert_eq!(refusal, CoreError::invalid("refused after writing"));
    let kept_at = kept.await.expect("join").expect("kept");
    assert_eq!(kept_at, *refused_at.lock().expect("lock"), "both jobs shared one group");
    assert_ne!(kept_at, first, "the blocker had a group of its own");

    let names = storage.read(|tx| Ok(tx.users()?)).await.expect("read");
    let names: Vec<&str> = names.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["kept"]);
    drop(storage);
    writer.join();
}

#[tokio::test]
async fn a_panicking_job_fails_alone_and_the_writer_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (storage, writer) = SqliteStorage::open(dir.path()).expect("open");
    let panicked = storage
        .write(|tx, now| -> Result<(), CoreError> {
            tx.insert_user(&user("half", now))?;
            panic!("a bug in a job");
        })
        .await
        .expect_err("panicked");
    assert!(matches!(panicked, CoreError::Storage(ref e) if e.kind == StorageErrorKind::Other), "{panicked}");
    storage.write(|tx, now| Ok(tx.insert_user(&user("whole", now))?)).await.expect("next job");
    let users = storage.read(|tx| Ok(tx.users()?)).await.expect("read");
    assert_eq!(users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["whole"]);
    drop(storage);
    writer.join();
}

#[tokio::test]
async fn storage_failures_and_reads_cross_the_seam() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (storage, writer) = SqliteStorage::open(dir.path()).expect("open");
    assert!(storage.healthy());
    assert_eq!(storage.backend(), "sqlite");
    storage.write(|tx, now| Ok(tx.insert_user(&user("wang-7", now))?)).await.expect("insert");
    let twice = storage.write(|tx, now| Ok(tx.insert_user(&user("wang-7", now))?)).await.expect_err("twice");
    assert!(matches!(twice, CoreError::Storage(ref e) if e.kind == StorageErrorKind::Conflict), "{twice}");
    assert!(!twice.to_string().contains("wang"), "no values in messages: {twice}");

    // The raw, type-erased seam.
    let clone = storage.clone();
    let written = clone
        .read_job(Box::new(|tx| {
            let user = tx.user("wang-7")?;
            Ok(Box::new(user) as gridsync_server_core::storage::Erased)
        }))
        .await
        .expect("read");
    let user = *written.downcast::<Option<gridsync_server_core::storage::User>>().expect("type");
    assert_eq!(user.map(|u| u.role), Some(Role::Worker));
    drop((storage, clone));
    writer.join();
}

#[tokio::test]
async fn a_read_job_sees_one_snapshot_while_writes_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (storage, writer) = SqliteStorage::open(dir.path()).expect("open");
    storage.write(|tx, now| Ok(tx.insert_user(&user("first", now))?)).await.expect("insert");
    let (read_once, first_read) = std::sync::mpsc::channel::<usize>();
    let (written, wait_write) = std::sync::mpsc::channel::<()>();
    let reader = storage.clone();
    let read = tokio::spawn(async move {
        reader
            .read(move |tx| {
                read_once.send(tx.users()?.len()).expect("send");
                wait_write.recv().expect("written");
                Ok(tx.users()?.len())
            })
            .await
    });
    let before =
        tokio::task::spawn_blocking(move || first_read.recv().expect("first read")).await.expect("join");
    storage.write(|tx, now| Ok(tx.insert_user(&user("second", now))?)).await.expect("insert");
    written.send(()).expect("send");
    let after = read.await.expect("join").expect("read");
    assert_eq!((before, after), (1, 1), "the snapshot did not move");
    assert_eq!(storage.read(|tx| Ok(tx.users()?.len())).await.expect("read"), 2);
    drop(storage);
    writer.join();
}

#[tokio::test]
async fn a_closed_writer_answers_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (storage, writer) = SqliteStorage::open(dir.path()).expect("open");
    // Stop the writer under the handle's feet: the channel closes.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let stopped = SqliteStorage {
        inner: Arc::new(super::Inner { writer: tx, readers: super::ReadPool::new(dir.path().join("x"), 1) }),
    };
    drop(rx);
    let e = stopped.write(|_, _| Ok(())).await.expect_err("closed");
    assert!(matches!(e, CoreError::Storage(ref s) if s.kind == StorageErrorKind::Unavailable), "{e}");
    drop(storage);
    writer.join();
}

/// Appends `n` changes of `bytes` bytes each in one write job.
async fn append_many(storage: &SqliteStorage, n: u64, bytes: usize) {
    storage
        .write(move |tx, now| {
            let record = gridsync_proto::RecordId::from_bytes(rand_like(now));
            let body = vec![0x02; bytes];
            for counter in 1..=n {
                tx.append_change(&gridsync_server_core::storage::NewChange {
                    record,
                    township: "",
                    actor: gridsync_proto::ActorId::from_bytes([7; 16]),
                    counter,
                    received_ms: now,
                    body: &body,
                    clock_suspect: false,
                    clock_offset_ms: 0,
                })?;
            }
            Ok(())
        })
        .await
        .expect("appended");
}

/// Sixteen bytes that differ for every `seed`.
fn rand_like(seed: u64) -> [u8; 16] {
    let mut out = [0; 16];
    out[..8].copy_from_slice(&seed.to_le_bytes());
    out[8..].copy_from_slice(&seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    out
}

#[tokio::test]
async fn the_checkpointer_copies_the_wal_back_beside_the_writer_and_empties_it_at_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (storage, writer) = SqliteStorage::open_with_clock(dir.path(), tick).expect("open");
    let db = dir.path().join(crate::DB_FILE);
    let empty = std::fs::metadata(&db).expect("db").len();

    // Well past the wake threshold (1,000 pages of 4 KiB) in a few commits.
    for _ in 0..6 {
        append_many(&storage, 400, 2_000).await;
    }
    // Only a checkpoint grows the main file; the writer no longer runs one,
    // so the checkpointer did. Bounded wait: it was woken before the last
    // commit answered.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::metadata(&db).expect("db").len() <= empty {
        assert!(std::time::Instant::now() < deadline, "no checkpoint copied the WAL back within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let committed = storage.read(|tx| Ok(tx.change_count()?)).await.expect("count");
    assert_eq!(committed, 2_400, "every commit is readable during checkpoints");

    drop(storage);
    tokio::task::spawn_blocking(move || writer.join()).await.expect("joined");
    let wal = dir.path().join(format!("{}-wal", crate::DB_FILE));
    assert_eq!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
        0,
        "the last checkpoint truncates the WAL"
    );
    let conn = rusqlite::Connection::open(&db).expect("reopen");
    let rows: i64 = conn.query_row("SELECT count(*) FROM changes", [], |r| r.get(0)).expect("count");
    assert_eq!(rows, 2_400, "the database holds every change in its main file");
}

/// The readiness probe's write: it commits through the writer on a
/// database that takes writes, and fails on one SQLite can only read (as
/// it opens a file its user may not write). Opening read-only stands in
/// for a read-only file here because tests run as root, whom file modes
/// do not stop.
#[tokio::test]
async fn the_write_probe_commits_and_fails_on_a_read_only_database() {
    use gridsync_server_core::storage::DirectoryWrite;
    let dir = tempfile::tempdir().expect("tempdir");
    let (storage, writer) = SqliteStorage::open(dir.path()).expect("open");
    storage.write(|tx, now| Ok(tx.probe_write(now)?)).await.expect("the probe commits");
    storage.write(|tx, now| Ok(tx.probe_write(now)?)).await.expect("and again");
    drop(storage);
    writer.join();

    let path = dir.path().join(crate::DB_FILE);
    let read_only = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open");
    let tx = read_only.unchecked_transaction().expect("tx");
    let refused = crate::SqliteTx::new(&tx).probe_write(1).expect_err("a read-only database");
    assert!(refused.message.contains("readonly") || refused.message.contains("read-only"), "{refused}");
    let probed: i64 =
        tx.query_row("SELECT value FROM meta WHERE key = 'health_probe'", [], |r| r.get(0)).expect("the row");
    assert!(probed > 1, "the committed probe is there, the refused one is not");
}
