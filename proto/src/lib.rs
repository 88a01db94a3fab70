//! # gridsync-proto
//!
//! What the handset (`gridsync-client-core`) and the township server
//! (`gridsync-server`) must agree on, with no I/O: identifiers, record kinds,
//! field values, change operations, the hybrid logical clock, the merge rules
//! and the versioned wire messages.
//!
//! ## The sync protocol
//!
//! A device records every edit as a [`Change`]. Each change has a [`Dot`]:
//! the device's id and its n-th change to that record. The device applies the
//! change to its own copy of the record and queues it in an outbox. When it
//! has a connection it runs one sync:
//!
//! 1. **Push**: it sends the outbox, oldest first, in [`PushRequest`] pages.
//!    The server validates the page, merges it into its state and appends it
//!    to its change log in one durable transaction, and only then answers with
//!    a [`PushResponse`]. The device deletes those changes from its outbox.
//!    A page re-sent after a lost answer is acknowledged again, not applied
//!    twice (the dots are already in the log).
//! 2. **Pull**: it sends its cursor (the last server sequence number it
//!    applied) in a [`PullRequest`]; the server answers with a page of other
//!    devices' changes after it. The device applies the page and moves its
//!    cursor in one transaction, and asks again while `more` is set.
//!
//! Because applying a change is idempotent and order-independent
//! ([`RecordState::apply`]), a sync interrupted at any point simply runs
//! again.
//!
//! ```
//! use gridsync_proto::{wire, ActorId, Change, Dot, Hlc, Op, PushRequest, RecordId, RecordKind, RecordState};
//!
//! let device = ActorId::random();
//! let record = RecordId::generate(1_700_000_000_000);
//! let mut state = RecordState::new(record, RecordKind::Dispute);
//! let change = Change {
//!     record,
//!     kind: RecordKind::Dispute,
//!     dot: Dot { actor: device, counter: state.next_counter(&device) },
//!     author: "grid worker 7".into(),
//!     time: Hlc::from_millis(1_700_000_000_000),
//!     op: Op::Set { field: "status".into(), value: "found".into(), supersedes: state.live_dots("status") },
//! };
//! state.apply(&change).unwrap();
//!
//! let bytes = wire::encode(&PushRequest { device, changes: vec![change] });
//! assert_eq!(&bytes[..3], b"GS\x01");
//! let back: PushRequest = wire::decode(&bytes, &wire::Limits::DEFAULT).unwrap();
//! assert_eq!(RecordState::from_changes(record, RecordKind::Dispute, &back.changes).unwrap(), state);
//! ```

pub mod auth;
pub mod change;
pub mod context;
pub mod error;
pub mod hlc;
pub mod ids;
pub mod kind;
pub mod record;
pub mod value;
pub mod view;
pub mod wire;

pub use auth::{EnrollRequest, EnrollResponse, EnrollmentTicket, Role};
pub use change::{Change, Dot, InvalidChange, Op};
pub use context::CausalContext;
pub use error::{ErrorBody, ErrorCode};
pub use hlc::{Hlc, HlcClock};
pub use ids::{ActorId, ParseIdError, RecordId};
pub use kind::RecordKind;
pub use record::{Applied, Entry, FieldValue, MergeError, RecordState, Stamp};
pub use value::Value;
pub use view::RecordView;
pub use wire::{LoggedChange, PullRequest, PullResponse, PushRequest, PushResponse, WireError};
