//! Replay protection and rate limits behind traits: in memory for the
//! embedded default (one process), shareable through a database when
//! several server processes serve one deployment. Rate limits count in
//! fixed one-minute windows per (what, subject): enrollment attempts per
//! client address, failed logins per client address and per user name
//! (ADR 0030).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Mutex;

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
    /// Enrollment attempts (guessing codes): every attempt counts.
    Enrollment,
    /// Admin logins (guessing passwords): only failures count, the caller
    /// forgiving ([`RateLimiter::forgive`]) every attempt that did not fail.
    Login,
}

impl Limited {
    /// Its name in a shared table.
    pub fn name(self) -> &'static str {
        match self {
            Limited::Enrollment => "enrollment",
            Limited::Login => "login",
        }
    }
}

/// Whom attempts are counted against: a client address, or a user name
/// tried (held as its SHA-256, so names typed by guessers rest nowhere).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The client address ([`crate`]'s callers resolve it behind trusted proxies).
    Address(IpAddr),
    /// The SHA-256 of a user name.
    UserName([u8; 32]),
}

impl Subject {
    /// The subject of attempts on the user name `name`.
    pub fn user_name(name: &str) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Subject::UserName(bytes)
    }

    /// Its key in a shared table: the address, or `user:` and the digest in hex.
    pub fn key(&self) -> String {
        match self {
            Subject::Address(ip) => ip.to_string(),
            Subject::UserName(digest) => format!("user:{}", gridsync_proto::auth::hex(digest)),
        }
    }
}

/// An attempt as counted: what, by whom, in which window; given back to
/// [`RateLimiter::forgive`] when it turns out not to be a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// What was attempted.
    pub what: Limited,
    /// By whom.
    pub subject: Subject,
    /// The start of the window it was counted in (Unix ms).
    pub window_ms: u64,
}

/// The length of a rate-limit window: limits are per minute.
pub const WINDOW_MS: u64 = 60_000;

/// The start of the window holding `now_ms`.
pub fn window_of(now_ms: u64) -> u64 {
    now_ms - now_ms % WINDOW_MS
}

/// The refusal of an attempt over its limit.
pub fn over_limit() -> CoreError {
    CoreError::from(Refusal::new(ErrorCode::RateLimited, "too many attempts; wait a minute"))
}

/// Rate limits on the endpoints that guess secrets, in fixed one-minute
/// windows per (what, subject). An attempt is counted before it is tried,
/// so concurrent attempts cannot slip past the limit together; an attempt
/// that did not fail is then taken back, so that only failures count.
pub trait RateLimiter: fmt::Debug + Send + Sync {
    /// Counts an attempt of `what` by `subject`; refuses with
    /// `rate_limited` when the subject is over its limit in this window
    /// (the refused attempt counts too).
    fn attempt(&self, what: Limited, subject: &Subject) -> GuardFuture<'_, Counted>;

    /// Takes back an attempt counted by [`RateLimiter::attempt`] (it did
    /// not fail), if its window is still the subject's current one.
    fn forgive(&self, counted: Counted) -> GuardFuture<'_, ()>;
}

/// Most counters kept before those of past windows are swept.
const SWEEP_LIMITS_AT: usize = 10_000;

/// [`RateLimiter`] in this process's memory: the same fixed windows as the
/// database-backed one, so both backends count alike.
#[derive(Debug)]
pub struct MemoryRateLimiter {
    enrollments: u32,
    logins: u32,
    /// (what, subject) → (window start, attempts in it).
    counts: Mutex<HashMap<(Limited, Subject), (u64, u32)>>,
}

impl MemoryRateLimiter {
    /// Limits of `enrollments` and `logins` per minute per subject (each at
    /// least 1).
    pub fn new(enrollments: u32, logins: u32) -> Self {
        Self { enrollments: enrollments.max(1), logins: logins.max(1), counts: Mutex::default() }
    }

    /// [`RateLimiter::attempt`] at `now_ms`.
    pub fn attempt_at(&self, what: Limited, subject: &Subject, now_ms: u64) -> Result<Counted, CoreError> {
        let limit = match what {
            Limited::Enrollment => self.enrollments,
            Limited::Login => self.logins,
        };
        let window_ms = window_of(now_ms);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= SWEEP_LIMITS_AT {
            counts.retain(|_, (window, _)| *window == window_ms);
        }
        let count = counts.entry((what, subject.clone())).or_insert((window_ms, 0));
        if count.0 != window_ms {
            *count = (window_ms, 0);
        }
        count.1 = count.1.saturating_add(1);
        if count.1 > limit {
            return Err(over_limit());
        }
        Ok(Counted { what, subject: subject.clone(), window_ms })
    }
}

impl RateLimiter for MemoryRateLimiter {
    fn attempt(&self, what: Limited, subject: &Subject) -> GuardFuture<'_, Counted> {
        Box::pin(std::future::ready(self.attempt_at(what, subject, crate::clock::now_ms())))
    }

    fn forgive(&self, counted: Counted) -> GuardFuture<'_, ()> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((window, count)) = counts.get_mut(&(counted.what, counted.subject))
            && *window == counted.window_ms
        {
            *count = count.saturating_sub(1);
        }
        Box::pin(std::future::ready(Ok(())))
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
    async fn attempts_over_the_limit_are_refused_per_subject_and_window() {
        let limits = MemoryRateLimiter::new(2, 1);
        let (a, b) = (Subject::Address("10.0.0.1".parse().expect("ip")), Subject::user_name("wang"));
        let t = 1_780_000_020_000;
        assert!(limits.attempt_at(Limited::Enrollment, &a, t).is_ok());
        assert!(limits.attempt_at(Limited::Enrollment, &a, t + 1).is_ok());
        let refused = limits.attempt_at(Limited::Enrollment, &a, t + 2).expect_err("third");
        assert_eq!(refused.code(), Some(ErrorCode::RateLimited));
        assert!(limits.attempt_at(Limited::Enrollment, &b, t).is_ok(), "another subject");
        assert!(limits.attempt_at(Limited::Login, &a, t).is_ok(), "another kind of attempt");
        assert!(limits.attempt_at(Limited::Login, &a, t).is_err());
        assert!(limits.attempt_at(Limited::Enrollment, &a, t + WINDOW_MS).is_ok(), "a new window");
    }

    #[tokio::test]
    async fn a_forgiven_attempt_does_not_count_but_only_in_its_window() {
        let limits = MemoryRateLimiter::new(1, 2);
        let name = Subject::user_name("wang");
        assert_eq!(name.key().len(), "user:".len() + 64);
        assert!(!name.key().contains("wang"), "the name itself is not kept");
        for _ in 0..10 {
            let counted = limits.attempt(Limited::Login, &name).await.expect("a success is forgiven");
            limits.forgive(counted).await.expect("forgive");
        }
        let t = 1_780_000_020_000;
        let stale = limits.attempt_at(Limited::Login, &name, t - WINDOW_MS).expect("an old window");
        limits.attempt_at(Limited::Login, &name, t).expect("first failure");
        limits.forgive(stale).await.expect("forgive");
        limits.attempt_at(Limited::Login, &name, t + 1).expect("second failure");
        let third = limits.attempt_at(Limited::Login, &name, t + 2).expect_err("an old window's forgiveness");
        assert_eq!(third.code(), Some(ErrorCode::RateLimited));
    }
}
