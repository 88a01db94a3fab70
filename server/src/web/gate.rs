//! The gate before a sync body is read: at most so many bodies at once in
//! the process, and at most so many for one device. A request that finds
//! the gate full is refused at once with `Retry-After` rather than queued,
//! so waiting requests hold neither memory nor a worker.
//!
//! With the body timeouts of [`crate::config::EdgeLimits`], this bounds the
//! memory sync bodies take: `max_body_reads × max_body_bytes` for the raw
//! bodies, whoever sends them (see `docs/SECURITY.md`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gridsync_proto::{ActorId, ErrorCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;

/// Seconds a client refused at the gate is told to wait.
pub const RETRY_AFTER_S: u32 = 2;

/// Permits to read sync bodies.
#[derive(Debug)]
pub struct BodyGate {
    global: Arc<Semaphore>,
    per_device: usize,
    devices: Mutex<HashMap<ActorId, usize>>,
}

/// A permit to read (and process) one device's sync body; given back when
/// dropped.
#[derive(Debug)]
pub struct BodyPermit {
    gate: Arc<BodyGate>,
    device: ActorId,
    _global: OwnedSemaphorePermit,
}

impl BodyGate {
    /// A gate of `total` permits, at most `per_device` of them for one
    /// device (each at least 1).
    pub fn new(total: usize, per_device: usize) -> Arc<Self> {
        Arc::new(Self {
            global: Arc::new(Semaphore::new(total.max(1))),
            per_device: per_device.max(1),
            devices: Mutex::new(HashMap::new()),
        })
    }

    /// A permit for `device`, or the refusal to answer: `rate_limited`
    /// (429) when the device already holds its share, `unavailable` (503)
    /// when the process does.
    pub fn admit(self: &Arc<Self>, device: ActorId) -> Result<BodyPermit, ApiError> {
        let mut devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        let held = devices.get(&device).copied().unwrap_or(0);
        if held >= self.per_device {
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                "this device already has as many requests in flight as the server takes; retry shortly",
            )
            .retry_after(RETRY_AFTER_S));
        }
        let global = self.global.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                ErrorCode::Unavailable,
                "the server is reading as many requests as it takes; retry shortly",
            )
            .retry_after(RETRY_AFTER_S)
        })?;
        devices.insert(device, held + 1);
        Ok(BodyPermit { gate: self.clone(), device, _global: global })
    }

    /// Permits free in the process.
    pub fn available(&self) -> usize {
        self.global.available_permits()
    }
}

impl Drop for BodyPermit {
    fn drop(&mut self) {
        let mut devices = self.gate.devices.lock().unwrap_or_else(|p| p.into_inner());
        match devices.get_mut(&self.device) {
            Some(held) if *held > 1 => *held -= 1,
            _ => {
                devices.remove(&self.device);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_bounded_per_device_and_in_total() {
        let gate = BodyGate::new(3, 2);
        let (a, b) = (ActorId::random(), ActorId::random());
        let a1 = gate.admit(a).expect("a first");
        let a2 = gate.admit(a).expect("a second");
        let refused = gate.admit(a).expect_err("a third");
        assert_eq!((refused.code, refused.retry_after_s), (ErrorCode::RateLimited, Some(RETRY_AFTER_S)));
        let b1 = gate.admit(b).expect("b first");
        let full = gate.admit(b).expect_err("none left");
        assert_eq!(full.code, ErrorCode::Unavailable);
        assert_eq!(gate.available(), 0);
        drop(a1);
        let b2 = gate.admit(b).expect("a permit came back");
        drop((a2, b1, b2));
        assert_eq!(gate.available(), 3);
        assert!(gate.devices.lock().expect("lock").is_empty(), "no device left counted");
    }
}
