//! Replay protection and rate limits shared by every server process on the
//! database (tables `nonces` and `rate_limits`), behind the core's
//! [`ReplayGuard`] and [`RateLimiter`].
//!
//! Each answer is one statement on a pooled connection, run as a task on
//! the storage's own runtime; the returned future awaits that task, so it
//! can be polled from any executor (actix's included).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gridsync_proto::ActorId;
use gridsync_server_core::guard::{
    Counted, GuardFuture, Limited, RateLimiter, ReplayGuard, Subject, over_limit, window_of,
};
use gridsync_server_core::{CoreError, StorageError};

use crate::error::Failure;
use crate::storage::{PostgresStorage, Shared};

/// Calls between two sweeps of expired rows (the first call sweeps too).
const SWEEP_EVERY: u64 = 1_000;

/// Runs `work` on the storage's runtime and answers its result as a guard's.
fn on_runtime<T, F>(shared: &Arc<Shared>, work: impl FnOnce(Arc<Shared>) -> F) -> GuardFuture<'static, T>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Failure>> + Send + 'static,
{
    let task = shared.handle().spawn(work(shared.clone()));
    Box::pin(async move {
        match task.await {
            Ok(answer) => answer.map_err(|f| CoreError::from(StorageError::from(f))),
            Err(e) => {
                tracing::error!(error = %e, "a guard's query did not finish");
                Err(StorageError::unavailable("a guard's query did not finish: the storage is shutting down")
                    .into())
            }
        }
    })
}

/// Whether this call (counted in `calls`) is one that sweeps.
fn sweeps(calls: &AtomicU64) -> bool {
    calls.fetch_add(1, Ordering::Relaxed).is_multiple_of(SWEEP_EVERY)
}

/// [`ReplayGuard`] over the `nonces` table: a nonce used through one
/// process is refused by every other.
struct PgReplayGuard {
    shared: Arc<Shared>,
    calls: AtomicU64,
}

impl fmt::Debug for PgReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgReplayGuard").finish_non_exhaustive()
    }
}

impl ReplayGuard for PgReplayGuard {
    /// One upsert: a new (device, nonce) is inserted, an expired one taken
    /// over with the new expiry; either returns a row (first use). A live
    /// one is left as it is and returns none (a replay). Now and then
    /// expired rows are swept first (a failed sweep is only logged).
    fn first_use(
        &self,
        device: ActorId,
        nonce: [u8; 16],
        now_ms: u64,
        expires_ms: u64,
    ) -> GuardFuture<'_, bool> {
        let sweep = sweeps(&self.calls);
        let (now, expires) = (int(now_ms), int(expires_ms));
        on_runtime(&self.shared, move |shared| async move {
            let client = shared.pool().get().await?;
            if sweep {
                let swept = async {
                    let statement =
                        client.prepare_cached("DELETE FROM nonces WHERE expires_ms <= $1").await?;
                    client.execute(&statement, &[&now]).await
                };
                if let Err(e) = swept.await {
                    tracing::warn!(error = %StorageError::from(Failure::from(e)), "cannot sweep expired nonces");
                }
            }
            let statement = client
                .prepare_cached(
                    "INSERT INTO nonces (device, nonce, expires_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (device, nonce) DO UPDATE SET expires_ms = EXCLUDED.expires_ms
                     WHERE nonces.expires_ms <= $4
                     RETURNING 1",
                )
                .await?;
            let row = client
                .query_opt(&statement, &[&device.as_bytes().as_slice(), &nonce.as_slice(), &expires, &now])
                .await?;
            Ok(row.is_some())
        })
    }

    /// One lookup of a live (unexpired) row.
    fn seen(&self, device: ActorId, nonce: [u8; 16], now_ms: u64) -> GuardFuture<'_, bool> {
        let now = int(now_ms);
        on_runtime(&self.shared, move |shared| async move {
            let client = shared.pool().get().await?;
            let statement = client
                .prepare_cached("SELECT 1 FROM nonces WHERE device = $1 AND nonce = $2 AND expires_ms > $3")
                .await?;
            let row = client
                .query_opt(&statement, &[&device.as_bytes().as_slice(), &nonce.as_slice(), &now])
                .await?;
            Ok(row.is_some())
        })
    }
}

/// [`RateLimiter`] over the `rate_limits` table: per-minute fixed windows
/// per (what, subject), counted across every process.
struct PgRateLimiter {
    shared: Arc<Shared>,
    enrollments: u32,
    logins: u32,
    calls: AtomicU64,
}

impl fmt::Debug for PgRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgRateLimiter")
            .field("enrollments_per_minute", &self.enrollments)
            .field("logins_per_minute", &self.logins)
            .finish_non_exhaustive()
    }
}

impl PgRateLimiter {
    /// Counts an attempt at `now_ms` (the server's clock): one upsert that
    /// starts a new window or adds one to the current one, returning the
    /// count. Over the limit (at least 1, as the memory limiter's) is
    /// refused with `rate_limited`.
    fn attempt_at(&self, what: Limited, subject: &Subject, now_ms: u64) -> GuardFuture<'static, Counted> {
        let limit = match what {
            Limited::Enrollment => self.enrollments,
            Limited::Login => self.logins,
        };
        let limit = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let window_ms = window_of(now_ms);
        let (window, key) = (int(window_ms), subject.key());
        let sweep = sweeps(&self.calls);
        let counted = on_runtime(&self.shared, move |shared| async move {
            let client = shared.pool().get().await?;
            if sweep {
                let swept = async {
                    let statement =
                        client.prepare_cached("DELETE FROM rate_limits WHERE window_ms < $1").await?;
                    client.execute(&statement, &[&window]).await
                };
                if let Err(e) = swept.await {
                    tracing::warn!(error = %StorageError::from(Failure::from(e)), "cannot sweep old rate limits");
                }
            }
            let statement = client
                .prepare_cached(
                    "INSERT INTO rate_limits (what, subject, window_ms, count) VALUES ($1, $2, $3, 1)
                     ON CONFLICT (what, subject) DO UPDATE SET
                         count = CASE WHEN rate_limits.window_ms = EXCLUDED.window_ms
                                      THEN least(rate_limits.count, 2147483646) + 1 ELSE 1 END,
                         window_ms = EXCLUDED.window_ms
                     RETURNING count",
                )
                .await?;
            let row = client.query_one(&statement, &[&what.name(), &key, &window]).await?;
            let count: i32 =
                row.try_get(0).map_err(|_| crate::error::corrupt("a rate limit's count does not convert"))?;
            Ok(count)
        });
        let subject = subject.clone();
        Box::pin(async move {
            if counted.await? > limit {
                return Err(over_limit());
            }
            Ok(Counted { what, subject, window_ms })
        })
    }
}

impl RateLimiter for PgRateLimiter {
    fn attempt(&self, what: Limited, subject: &Subject) -> GuardFuture<'_, Counted> {
        self.attempt_at(what, subject, gridsync_server_core::clock::now_ms())
    }

    /// One update: the subject's count less one, if it is still in the
    /// attempt's window (a new window started afresh anyway).
    fn forgive(&self, counted: Counted) -> GuardFuture<'_, ()> {
        let (what, key, window) = (counted.what.name(), counted.subject.key(), int(counted.window_ms));
        on_runtime(&self.shared, move |shared| async move {
            let client = shared.pool().get().await?;
            let statement = client
                .prepare_cached(
                    "UPDATE rate_limits SET count = count - 1
                     WHERE what = $1 AND subject = $2 AND window_ms = $3 AND count > 0",
                )
                .await?;
            client.execute(&statement, &[&what, &key, &window]).await?;
            Ok(())
        })
    }
}

/// A `u64` time for a `bigint` column.
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl PostgresStorage {
    /// Replay protection shared by every process on the database (table
    /// `nonces`): `INSERT … ON CONFLICT (device, nonce) DO UPDATE SET
    /// expires_ms = EXCLUDED.expires_ms WHERE nonces.expires_ms <= now
    /// RETURNING 1`, a row meaning first use; expired rows are swept every
    /// 1,000 calls. A nonce used through one server process is refused by
    /// every other.
    pub fn replay_guard(&self) -> Arc<dyn ReplayGuard> {
        Arc::new(PgReplayGuard { shared: self.shared().clone(), calls: AtomicU64::new(0) })
    }

    /// Rate limits shared by every process (table `rate_limits`): a
    /// per-minute fixed window per (what, subject: a client address or a
    /// user name's digest), counted with one upsert returning the count and
    /// forgiven with one update; an attempt over `enrollments_per_minute`
    /// or `logins_per_minute` (each at least 1) in its window is refused
    /// with the same refusal as the core's `MemoryRateLimiter`
    /// (`rate_limited`). Old windows are swept every 1,000 calls.
    pub fn rate_limiter(&self, enrollments_per_minute: u32, logins_per_minute: u32) -> Arc<dyn RateLimiter> {
        Arc::new(PgRateLimiter {
            shared: self.shared().clone(),
            enrollments: enrollments_per_minute,
            logins: logins_per_minute,
            calls: AtomicU64::new(0),
        })
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::PgOptions;
    use crate::testing::TestDatabase;
    use gridsync_proto::ErrorCode;

    #[tokio::test]
    async fn rate_limits_count_per_window_and_subject_across_processes() {
        use gridsync_server_core::guard::WINDOW_MS;
        let db = TestDatabase::create();
        let (one, two) = (
            PostgresStorage::connect(db.url(), PgOptions::default()).expect("connect"),
            PostgresStorage::connect(db.url(), PgOptions::default()).expect("connect"),
        );
        let limits = |s: &PostgresStorage| PgRateLimiter {
            shared: s.shared().clone(),
            enrollments: 2,
            logins: 1,
            calls: AtomicU64::new(0),
        };
        let (here, there) = (limits(&one), limits(&two));
        let a = Subject::Address("10.0.0.1".parse().expect("ip"));
        let b = Subject::user_name("wang");
        let t = 1_780_000_020_000;
        assert!(here.attempt_at(Limited::Enrollment, &a, t).await.is_ok());
        assert!(there.attempt_at(Limited::Enrollment, &a, t + 1).await.is_ok(), "counted across processes");
        let refused = here.attempt_at(Limited::Enrollment, &a, t + 2).await.expect_err("third in the window");
        assert_eq!(refused.code(), Some(ErrorCode::RateLimited));
        assert!(there.attempt_at(Limited::Enrollment, &a, t + 3).await.is_err(), "refused everywhere");
        assert!(here.attempt_at(Limited::Enrollment, &b, t).await.is_ok(), "per subject");
        // Forgiven logins do not count, in whichever process they are forgiven.
        for i in 0..3 {
            let counted = here.attempt_at(Limited::Login, &b, t + i).await.expect("forgiven before");
            there.forgive(counted).await.expect("forgive");
        }
        let stale = here.attempt_at(Limited::Login, &a, t - WINDOW_MS).await.expect("an old window");
        assert!(here.attempt_at(Limited::Login, &a, t).await.is_ok(), "per kind of attempt");
        here.forgive(stale).await.expect("forgiving an old window changes nothing");
        assert!(there.attempt_at(Limited::Login, &a, t).await.is_err());
        let next = t + WINDOW_MS;
        assert!(here.attempt_at(Limited::Enrollment, &a, next).await.is_ok(), "a new window starts afresh");
        assert!(here.attempt_at(Limited::Login, &a, next).await.is_ok());
    }
}
