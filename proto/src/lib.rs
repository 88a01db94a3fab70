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
//! the device's id and its n-th change to that record. One local write (a
//! visit recorded, a dispute step taken) makes a **write group** of changes
//! to one record ([`make_group`]); the device checks the group with the
//! record rules for its user ([`check_group`], with the [`Profile`] the
//! server gave it), applies it to its own copy and queues it in an outbox.
//! When it has a connection it runs one sync:
//!
//! 1. **Push**: it sends the outbox, oldest first, as whole groups in
//!    [`PushRequest`] pages. The server checks each group with the same rules
//!    for the signing device's user, merges the groups it accepts into its
//!    state and appends them to its change log in one durable transaction,
//!    and only then answers with a [`PushResponse`]: what it accepted, and
//!    for each group it refused the code, field and reason ([`Refusal`]).
//!    The device deletes the acknowledged changes from its outbox and keeps
//!    refused groups, visible, apart. A page re-sent after a lost answer is
//!    acknowledged again, not applied twice (the dots are already in the log).
//! 2. **Pull**: it sends the cursor of the last page it applied in a
//!    [`PullRequest`]; the server answers with a page of what changed **in
//!    the device's scope** ([`access`]): records that left it (delete),
//!    records that entered it or need rebuilding (sent whole, as their
//!    merged state: a [`Snapshot`]), the other
//!    devices' changes to the rest, the user's profile when it changed, and a
//!    new cursor. The device applies the page and stores the cursor in one
//!    transaction, and asks again while `more` is set.
//!
//! Because applying a change is idempotent and order-independent
//! ([`RecordState::apply`]), and a page counts as applied only once the
//! device presents its cursor, a sync interrupted at any point simply runs
//! again. A dispute's stage and owner are folded from its append-only steps
//! ([`Lifecycle`]), so they merge the same way everywhere.
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
//! let bytes = wire::encode(&PushRequest { device, sent_ms: 1_700_000_000_000, groups: vec![vec![change]] });
//! assert_eq!(&bytes[..3], b"GS\x04");
//! let back: PushRequest = wire::decode(&bytes, &wire::Limits::DEFAULT).unwrap();
//! assert_eq!(RecordState::from_changes(record, RecordKind::Dispute, back.changes()).unwrap(), state);
//! ```

pub mod access;
pub mod attachment;
pub mod auth;
pub mod change;
pub mod context;
pub mod date;
pub mod dispute;
pub mod edit;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod hlc;
pub mod ids;
pub mod kind;
#[cfg(feature = "openapi")]
mod openapi;
pub mod place;
pub mod profile;
pub mod record;
pub mod rules;
pub mod snapshot;
pub mod value;
pub mod view;
pub mod wire;

pub use access::{Access, AccessKey};
pub use attachment::{AttachmentRef, ContentHash, Media};
pub use auth::{EnrollRequest, EnrollResponse, EnrollmentTicket, Role};
pub use change::{Change, Dot, InvalidChange, Op};
pub use context::CausalContext;
pub use date::Date;
pub use dispute::{Action, Lifecycle, Stage, Step};
pub use edit::{Edit, make_group};
pub use error::{ErrorBody, ErrorCode};
pub use hlc::{Hlc, HlcClock};
pub use ids::{ActorId, ParseIdError, RecordId};
pub use kind::RecordKind;
pub use place::{Directory, Hierarchy, Level, Place, Unit};
pub use profile::{Actor, Profile};
pub use record::{Applied, Entry, FieldValue, MergeError, RecordState, Stamp};
pub use rules::{RuleError, check_group, daily_report_id};
pub use snapshot::{ReceiptRun, Snapshot, receipt_runs};
pub use value::Value;
pub use view::RecordView;
pub use wire::{LoggedChange, PullRequest, PullResponse, PushRequest, PushResponse, Refusal, WireError};
