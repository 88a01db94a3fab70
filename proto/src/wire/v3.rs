//! The shapes of protocol version 3 that version 4 changed: the answers,
//! which gained the server's epoch ([`super::PullResponse::epoch`],
//! [`super::PushResponse::epoch`]). A server answers a version 3 request
//! (and a version 2 push) in these shapes, so handsets not yet updated keep
//! syncing; they cannot tell that the server was restored from a backup
//! (ADR 0026).

use super::{ChangeCount, LoggedChange, Message, MessageType, Refusal};
use crate::ids::RecordId;
use crate::profile::Profile;
use crate::snapshot::Snapshot;

/// One page of what changed in a device's scope, as protocol version 3
/// has it: [`super::PullResponse`] without the server's epoch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PullResponse {
    /// See [`super::PullResponse::reset`].
    pub reset: bool,
    /// See [`super::PullResponse::removed`].
    pub removed: Vec<RecordId>,
    /// See [`super::PullResponse::rebuild`].
    pub rebuild: Vec<RecordId>,
    /// See [`super::PullResponse::snapshots`].
    pub snapshots: Vec<Snapshot>,
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
    const FIRST_VERSION: u8 = 3;
    const LAST_VERSION: u8 = 3;
}

impl ChangeCount for PullResponse {
    fn change_count(&self) -> usize {
        self.changes.len() + self.snapshots.len()
    }
}

impl From<super::PullResponse> for PullResponse {
    fn from(page: super::PullResponse) -> Self {
        PullResponse {
            reset: page.reset,
            removed: page.removed,
            rebuild: page.rebuild,
            snapshots: page.snapshots,
            changes: page.changes,
            withheld: page.withheld,
            profile: page.profile,
            cursor: page.cursor,
            more: page.more,
        }
    }
}

impl From<PullResponse> for super::PullResponse {
    fn from(page: PullResponse) -> Self {
        super::PullResponse {
            reset: page.reset,
            removed: page.removed,
            rebuild: page.rebuild,
            snapshots: page.snapshots,
            changes: page.changes,
            withheld: page.withheld,
            profile: page.profile,
            cursor: page.cursor,
            more: page.more,
            // Version 3 carries no epoch: 0, "not known".
            epoch: 0,
        }
    }
}

/// The answer to a push, as protocol versions 2 and 3 have it:
/// [`super::PushResponse`] without the server's epoch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PushResponse {
    /// See [`super::PushResponse::accepted`].
    pub accepted: u32,
    /// See [`super::PushResponse::duplicates`].
    pub duplicates: u32,
    /// See [`super::PushResponse::high_seq`].
    pub high_seq: u64,
    /// See [`super::PushResponse::received_ms`].
    pub received_ms: u64,
    /// See [`super::PushResponse::refused`].
    pub refused: Vec<Refusal>,
}

impl Message for PushResponse {
    const TYPE: MessageType = MessageType::PushResponse;
    const FIRST_VERSION: u8 = 2;
    const LAST_VERSION: u8 = 3;
}

impl ChangeCount for PushResponse {
    fn change_count(&self) -> usize {
        0
    }
}

impl From<super::PushResponse> for PushResponse {
    fn from(ack: super::PushResponse) -> Self {
        PushResponse {
            accepted: ack.accepted,
            duplicates: ack.duplicates,
            high_seq: ack.high_seq,
            received_ms: ack.received_ms,
            refused: ack.refused,
        }
    }
}

impl From<PushResponse> for super::PushResponse {
    fn from(ack: PushResponse) -> Self {
        super::PushResponse {
            accepted: ack.accepted,
            duplicates: ack.duplicates,
            high_seq: ack.high_seq,
            received_ms: ack.received_ms,
            refused: ack.refused,
            // Versions 2 and 3 carry no epoch: 0, "not known".
            epoch: 0,
        }
    }
}
