//! Replay protection and rate limits behind traits: in memory for the
//! embedded default (one process), shareable through a database when
//! several server processes serve one deployment.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Mutex;

use governor::{DefaultKeyedRateLimiter, Quota};
use gridsync_proto::{ActorId, ErrorCode};

use crate::error::{CoreError, Refusal};

/// A guard's answer, possibly from another process.
pub type GuardFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CoreError>> + Send + 'a>>;

/// Remembers the nonces of signed device requests, so a request is
/// accepted once.
pub trait ReplayGuard: fmt::Debug + Send + Sync {
    /// Records `nonce` of `device` as used until `expires_ms`; `false` when
    /// it was already used and has not expired.
    fn first_use(
        &self,
        device: ActorId,
        nonce: [u8; 16],
        now_ms: u64,
        expires_ms: u64,
    ) -> GuardFuture<'_, bool>;

    /// Whether `nonce` of `device` is in use (recorded and not expired at
    /// `now_ms`), without recording it: a request can be refused as a
    /// replay before its body is read. [`ReplayGuard::first_use`] still
    /// decides, once the signature is checked.
    fn seen(&self, device: ActorId, nonce: [u8; 16], now_ms: u64) -> GuardFuture<'_, bool>;
}

/// Most remembered nonces before expired ones are swept.
const SWEEP_AT: usize = 100_000;

/// [`ReplayGuard`] in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryReplayGuard {
    seen: Mutex<HashMap<(ActorId, [u8; 16]), u64>>,
}

impl ReplayGuard for MemoryReplayGuard {
    fn first_use(
        &self,
        device: ActorId,
        nonce: [u8; 16],
        now_ms: u64,
        expires_ms: u64,
    ) -> GuardFuture<'_, bool> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= SWEEP_AT {
            seen.retain(|_, expires| *expires > now_ms);
        }
        let fresh = match seen.insert((device, nonce), expires_ms) {
            Some(expires) => expires <= now_ms,
            None => true,
        };
        Box::pin(std::future::ready(Ok(fresh)))
    }

    fn seen(&self, device: ActorId, nonce: [u8; 16], now_ms: u64) -> GuardFuture<'_, bool> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let live = seen.get(&(device, nonce)).is_some_and(|expires| *expires > now_ms);
        Box::pin(std::future::ready(Ok(live)))
    }
}

/// What a rate limit guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limited {
    /// Enrollment attempts (guessing codes).
    Enrollment,
    /// Admin login attempts (guessing passwords).
    Login,
}

/// Per-address rate limits on the endpoints that guess secrets.
pub trait RateLimiter: fmt::Debug + Send + Sync {
    /// Counts an attempt of `what` from `address`; refuses with
    /// `rate_limited` when the address is over its limit.
    fn attempt(&self, what: Limited, address: IpAddr) -> GuardFuture<'_, ()>;
}

/// [`RateLimiter`] in this process's memory (GCRA, from `governor`).
pub struct MemoryRateLimiter {
    enroll: DefaultKeyedRateLimiter<IpAddr>,
    login: DefaultKeyedRateLimiter<IpAddr>,
}

impl fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRateLimiter").finish_non_exhaustive()
    }
}

/// `n` per minute, with a burst of `n`.
fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl MemoryRateLimiter {
    /// Limits of `enrollments` and `logins` per minute per address.
    pub fn new(enrollments: u32, logins: u32) -> Self {
        Self {
            enroll: governor::RateLimiter::keyed(per_minute(enrollments)),
            login: governor::RateLimiter::keyed(per_minute(logins)),
        }
    }
}

impl RateLimiter for MemoryRateLimiter {
    fn attempt(&self, what: Limited, address: IpAddr) -> GuardFuture<'_, ()> {
        let limiter = match what {
            Limited::Enrollment => &self.enroll,
            Limited::Login => &self.login,
        };
        let verdict = limiter.check_key(&address).map_err(|_| {
            CoreError::from(Refusal::new(
                ErrorCode::RateLimited,
                "too many attempts from this address; wait a minute",
            ))
        });
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        Box::pin(std::future::ready(verdict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_nonce_is_accepted_once_until_it_expires() {
        let guard = MemoryReplayGuard::default();
        let device = ActorId::random();
        assert!(guard.first_use(device, [1; 16], 0, 100).await.expect("guard"));
        assert!(!guard.first_use(device, [1; 16], 50, 150).await.expect("guard"));
        assert!(guard.first_use(device, [2; 16], 50, 150).await.expect("guard"));
        assert!(guard.first_use(ActorId::random(), [1; 16], 50, 150).await.expect("guard"));
    }

    #[tokio::test]
    async fn seeing_a_nonce_does_not_use_it() {
        let guard = MemoryReplayGuard::default();
        let device = ActorId::random();
        assert!(!guard.seen(device, [1; 16], 0).await.expect("guard"));
        assert!(!guard.seen(device, [1; 16], 0).await.expect("guard"), "still unused");
        assert!(guard.first_use(device, [1; 16], 0, 100).await.expect("guard"));
        assert!(guard.seen(device, [1; 16], 99).await.expect("guard"));
        assert!(!guard.seen(device, [1; 16], 100).await.expect("guard"), "expired");
        assert!(!guard.seen(ActorId::random(), [1; 16], 50).await.expect("guard"));
    }

    #[tokio::test]
    async fn attempts_over_the_limit_are_refused_per_address() {
        let limits = MemoryRateLimiter::new(2, 1);
        let (a, b) = ("10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip"));
        assert!(limits.attempt(Limited::Enrollment, a).await.is_ok());
        assert!(limits.attempt(Limited::Enrollment, a).await.is_ok());
        let refused = limits.attempt(Limited::Enrollment, a).await.expect_err("third");
        assert_eq!(refused.code(), Some(ErrorCode::RateLimited));
        assert!(limits.attempt(Limited::Enrollment, b).await.is_ok());
        assert!(limits.attempt(Limited::Login, a).await.is_ok());
        assert!(limits.attempt(Limited::Login, a).await.is_err());
    }
}
