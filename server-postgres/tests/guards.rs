//! Replay protection and rate limits shared through the database: the
//! memory guards' unit tests (server-core/src/guard.rs) against the
//! PostgreSQL ones, plus what only a shared guard can do: a nonce used
//! through one process is refused by another.

use std::net::IpAddr;

use gridsync_proto::{ActorId, ErrorCode};
use gridsync_server_core::guard::{Limited, Subject};
use gridsync_server_postgres::testing::TestDatabase;
use gridsync_server_postgres::{PgOptions, PostgresStorage};

fn open(db: &TestDatabase) -> PostgresStorage {
    PostgresStorage::connect(db.url(), PgOptions::default()).expect("the test database opens")
}

#[tokio::test]
async fn a_nonce_is_accepted_once_until_it_expires() {
    let db = TestDatabase::create();
    let guard = open(&db).replay_guard();
    let device = ActorId::random();
    assert!(guard.first_use(device, [1; 16], 0, 100).await.expect("guard"));
    assert!(!guard.first_use(device, [1; 16], 50, 150).await.expect("guard"));
    assert!(guard.first_use(device, [2; 16], 50, 150).await.expect("guard"));
    assert!(guard.first_use(ActorId::random(), [1; 16], 50, 150).await.expect("guard"));
    assert!(!guard.first_use(device, [1; 16], 99, 200).await.expect("guard"), "live until it expires");
    assert!(guard.first_use(device, [1; 16], 100, 200).await.expect("guard"), "reusable once expired");
    assert!(!guard.first_use(device, [1; 16], 150, 300).await.expect("guard"), "and used again");
}

#[tokio::test]
async fn seeing_a_nonce_does_not_use_it() {
    let db = TestDatabase::create();
    let guard = open(&db).replay_guard();
    let device = ActorId::random();
    assert!(!guard.seen(device, [1; 16], 0).await.expect("guard"));
    assert!(!guard.seen(device, [1; 16], 0).await.expect("guard"), "still unused");
    assert!(guard.first_use(device, [1; 16], 0, 100).await.expect("guard"));
    assert!(guard.seen(device, [1; 16], 99).await.expect("guard"));
    assert!(!guard.seen(device, [1; 16], 100).await.expect("guard"), "expired");
    assert!(!guard.seen(ActorId::random(), [1; 16], 50).await.expect("guard"));
}

#[tokio::test]
async fn a_nonce_used_through_one_process_is_refused_by_another() {
    let db = TestDatabase::create();
    let (one, two) = (open(&db), open(&db));
    let (here, there) = (one.replay_guard(), two.replay_guard());
    let device = ActorId::random();
    assert!(here.first_use(device, [7; 16], 1_000, 2_000).await.expect("guard"));
    assert!(
        !there.first_use(device, [7; 16], 1_001, 2_001).await.expect("guard"),
        "replayed to another process"
    );
    assert!(there.first_use(device, [8; 16], 1_001, 2_001).await.expect("guard"));
    assert!(!here.first_use(device, [8; 16], 1_002, 2_002).await.expect("guard"));
    // The guard outlives the storage it came from, and many uses at once
    // each get one answer, exactly one of them first.
    drop(one);
    let mut uses = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let guard = here.clone();
        uses.spawn(async move { guard.first_use(device, [9; 16], 1_003, 2_003).await.expect("guard") });
    }
    let firsts = uses.join_all().await.into_iter().filter(|first| *first).count();
    assert_eq!(firsts, 1, "one first use among concurrent ones");
}

#[tokio::test]
async fn attempts_over_the_limit_are_refused_per_address() {
    let db = TestDatabase::create();
    let storage = open(&db);
    let limits = storage.rate_limiter(2, 1);
    let address = |text: &str| Subject::Address(text.parse::<IpAddr>().expect("ip"));
    let (a, b) = (address("10.0.0.1"), address("10.0.0.2"));
    // A minute's window may turn between two attempts: then one more
    // attempt is allowed, never two more.
    let mut allowed = 0;
    let mut refused = None;
    for _ in 0..4 {
        match limits.attempt(Limited::Enrollment, &a).await {
            Ok(_) => allowed += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    assert!((2..=3).contains(&allowed), "{allowed} enrollments allowed with a limit of 2");
    assert_eq!(refused.expect("refused").code(), Some(ErrorCode::RateLimited));
    assert!(limits.attempt(Limited::Enrollment, &b).await.is_ok(), "another address has its own count");
    let logins: Vec<bool> = [
        limits.attempt(Limited::Login, &a).await.is_ok(),
        limits.attempt(Limited::Login, &a).await.is_ok(),
        limits.attempt(Limited::Login, &a).await.is_ok(),
    ]
    .into();
    assert!(logins[0] && logins.iter().filter(|ok| !**ok).count() >= 1, "{logins:?}");

    // Limits are shared: another process over the same database counts on.
    let other = open(&db).rate_limiter(2, 1);
    let c = address("2001:db8::1");
    assert!(limits.attempt(Limited::Login, &c).await.is_ok());
    let shared =
        [other.attempt(Limited::Login, &c).await.is_err(), other.attempt(Limited::Login, &c).await.is_err()];
    assert!(shared.iter().any(|r| *r), "another process refuses an address over its limit");
}

/// The guards' futures run on the storage's runtime, so an executor that is
/// not Tokio's multi-thread one (here a current-thread runtime made on a
/// plain thread, as actix's are) can await them.
#[test]
fn guards_answer_on_a_current_thread_runtime() {
    let db = TestDatabase::create();
    let storage = open(&db);
    let guard = storage.replay_guard();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime without drivers");
    let first = runtime.block_on(guard.first_use(ActorId::random(), [1; 16], 0, 100)).expect("guard");
    assert!(first);
    drop(storage);
    drop(runtime);
}
