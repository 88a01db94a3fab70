//! The server's epoch (ADR 0026): a random positive number made with the
//! database, sent in every pull page, and made anew when the database is
//! restored from a backup, so that every device notices the restore,
//! re-sends what it had sent since and pulls from the start.
//!
//! Only the operator renews it (`gridsync-server restore` does, and `epoch
//! renew` after a PostgreSQL restore); the renewal is audited.

use ring::rand::{SecureRandom, SystemRandom};

use super::{Caller, Service};
use crate::audit::Event;
use crate::error::{CoreError, CoreResult, StorageError};
use crate::storage::StorageExt;

/// A fresh epoch: 63 random bits, never 0.
pub fn new_epoch() -> Result<u64, StorageError> {
    let mut bytes = [0u8; 8];
    SystemRandom::new().fill(&mut bytes).map_err(|_| {
        StorageError::new(crate::StorageErrorKind::Other, "the system random generator failed")
    })?;
    Ok((u64::from_be_bytes(bytes) >> 1).max(1))
}

/// How an epoch is shown: 16 hex digits.
pub fn show(epoch: u64) -> String {
    format!("{epoch:016x}")
}

/// An epoch renewed: the one before and the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewal {
    /// The epoch before.
    pub before: u64,
    /// The new epoch.
    pub epoch: u64,
}

impl Service {
    /// The server's epoch now.
    pub async fn server_epoch(&self) -> CoreResult<u64> {
        self.storage.read(|tx| Ok(tx.server_epoch()?)).await
    }

    /// Gives the server a new epoch, audited as `server.epoch_renew` with
    /// `why` as its detail (no personal data): every device re-sends what
    /// it sent and pulls from the start at its next sync. The operator's
    /// only.
    pub async fn renew_epoch(&self, caller: &Caller, why: &str) -> CoreResult<Renewal> {
        if !matches!(caller, Caller::Operator) {
            return self.audited(caller, "server.epoch_renew", "", Err(CoreError::forbidden())).await;
        }
        let epoch = new_epoch()?;
        let why = why.to_owned();
        self.storage
            .write(move |tx, now| {
                let before = tx.server_epoch()?;
                tx.set_server_epoch(epoch)?;
                let detail = format!("{} -> {}; {why}", show(before), show(epoch));
                tx.append_audit(now, &Event::new("cli", "server.epoch_renew", "", "ok").detail(detail))?;
                Ok(Renewal { before, epoch })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_positive_and_differ() {
        let (a, b) = (new_epoch().expect("random"), new_epoch().expect("random"));
        assert!(a > 0 && a <= i64::MAX as u64 && b > 0 && a != b);
        assert_eq!(show(0x1f), "000000000000001f");
    }
}
