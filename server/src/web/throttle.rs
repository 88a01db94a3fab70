//! Rate limits on the endpoints that guess secrets: enrollment codes and
//! admin passwords. Keyed by the peer's IP address (behind a reverse proxy,
//! that is the proxy: put the limit there too).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;

use actix_web::HttpRequest;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use gridsync_proto::ErrorCode;

use crate::error::ApiError;

/// Per-address limits for enrollment and login attempts.
pub struct Throttle {
    enroll: DefaultKeyedRateLimiter<IpAddr>,
    login: DefaultKeyedRateLimiter<IpAddr>,
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle").finish_non_exhaustive()
    }
}

/// `n` per minute, with a burst of `n`.
fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Throttle {
    /// Limits of `enrollments` and `logins` per minute per address.
    pub fn new(enrollments: u32, logins: u32) -> Self {
        Self {
            enroll: RateLimiter::keyed(per_minute(enrollments)),
            login: RateLimiter::keyed(per_minute(logins)),
        }
    }

    /// Counts an enrollment attempt; refuses when the address is over its limit.
    pub fn enrollment(&self, req: &HttpRequest) -> Result<(), ApiError> {
        check(&self.enroll, req)
    }

    /// Counts a login attempt; refuses when the address is over its limit.
    pub fn login(&self, req: &HttpRequest) -> Result<(), ApiError> {
        check(&self.login, req)
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<IpAddr>, req: &HttpRequest) -> Result<(), ApiError> {
    let ip = req.peer_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    limiter.check_key(&ip).map_err(|_| {
        ApiError::new(ErrorCode::RateLimited, "too many attempts from this address; wait a minute")
    })?;
    if limiter.len() > 10_000 {
        limiter.retain_recent();
    }
    Ok(())
}
