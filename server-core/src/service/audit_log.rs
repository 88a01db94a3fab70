//! Checking the audit chain.

use super::{Caller, Service};
use crate::audit::Verdict;
use crate::error::CoreResult;
use crate::policy;
use crate::storage::StorageExt;

impl Service {
    /// Walks the whole audit chain (administrators, auditors and the
    /// operator), on a read snapshot.
    pub async fn verify_audit(&self, caller: &Caller) -> CoreResult<Verdict> {
        let allowed = caller.require(policy::may_audit);
        if allowed.is_err() {
            return self.audited(caller, "audit.verify", "", allowed.map(|_| unreachable_verdict())).await;
        }
        self.storage.read(|tx| Ok(tx.verify_chain()?)).await
    }
}

/// Never returned: stands in for the verdict of a refused request.
fn unreachable_verdict() -> Verdict {
    Verdict::Intact { rows: 0, head: String::new() }
}
