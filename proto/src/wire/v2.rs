//! The shapes of protocol version 2 that version 3 changed: only the pull
//! page. A server answers a version 2 pull request with this shape (records
//! sent whole as their history, never as snapshots), so handsets not yet
//! updated keep syncing (ADR 0019).

use super::{ChangeCount, LoggedChange, Message, MessageType};
use crate::ids::RecordId;
use crate::profile::Profile;

/// One page of what changed in a device's scope, as protocol version 2
/// has it: [`super::PullResponse`] without snapshots.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PullResponse {
    /// See [`super::PullResponse::reset`].
    pub reset: bool,
    /// See [`super::PullResponse::removed`].
    pub removed: Vec<RecordId>,
    /// See [`super::PullResponse::rebuild`].
    pub rebuild: Vec<RecordId>,
    /// See [`super::PullResponse::changes`].
    pub changes: Vec<LoggedChange>,
    /// See [`super::PullResponse::withheld`].
    pub withheld: u32,
    /// See [`super::PullResponse::profile`].
    pub profile: Option<Profile>,
    /// See [`super::PullResponse::cursor`].
    pub cursor: u64,
    /// See [`super::PullResponse::more`].
    pub more: bool,
}

impl Message for PullResponse {
    const TYPE: MessageType = MessageType::PullResponse;
    const FIRST_VERSION: u8 = 2;
    const LAST_VERSION: u8 = 2;
}

impl ChangeCount for PullResponse {
    fn change_count(&self) -> usize {
        self.changes.len()
    }
}

/// A page with snapshots has no version 2 form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a pull page holding record snapshots cannot be sent in protocol version 2")]
pub struct HasSnapshots;

impl TryFrom<super::PullResponse> for PullResponse {
    type Error = HasSnapshots;

    fn try_from(page: super::PullResponse) -> Result<Self, HasSnapshots> {
        if !page.snapshots.is_empty() {
            return Err(HasSnapshots);
        }
        Ok(PullResponse {
            reset: page.reset,
            removed: page.removed,
            rebuild: page.rebuild,
            changes: page.changes,
            withheld: page.withheld,
            profile: page.profile,
            cursor: page.cursor,
            more: page.more,
        })
    }
}

impl From<PullResponse> for super::PullResponse {
    fn from(page: PullResponse) -> Self {
        super::PullResponse {
            reset: page.reset,
            removed: page.removed,
            rebuild: page.rebuild,
            snapshots: Vec::new(),
            changes: page.changes,
            withheld: page.withheld,
            profile: page.profile,
            cursor: page.cursor,
            more: page.more,
            // Version 2 carries no epoch: 0, "not known".
            epoch: 0,
        }
    }
}
