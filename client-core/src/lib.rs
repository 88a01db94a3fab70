//! # gridsync-client-core
//!
//! The handset side of gridsync: a durable local store of CRDT records on
//! SQLite that never loses an edit, and the sync loop that exchanges changes
//! with the township server. Plain Rust; the `gridsync-ffi` crate exposes it
//! to the Android and iOS apps.
//!
//! Every write is checked, before it is stored, with the record rules of
//! `gridsync-proto` for the enrolled user: the same rules the server
//! applies. What the server still refuses (the user's rights changed while
//! the phone was offline) is kept, visible, in [`Store::rejections`].
//!
//! Record content in the store file is encrypted with a [`StoreKey`] that the
//! app keeps in the platform keystore (Android Keystore, iOS Keychain).
//!
//! Photos and PDFs attached to records ([`attachments`]) are kept encrypted
//! with the same key beside the store, uploaded after each sync's push and
//! pull, and fetched from the server on demand.
//!
//! ```no_run
//! use gridsync_client_core::{HttpTransport, NewDispute, Store, StoreKey};
//!
//! # fn key_from_the_platform_keystore() -> [u8; 32] { [0; 32] }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = StoreKey::from_bytes(key_from_the_platform_keystore());
//! let mut store = Store::init("worker.db".as_ref(), "http://10.1.2.3:8080", "device", &key)?;
//! let server = HttpTransport::new(store.server_url())?;
//! store.enroll(&server, "7KQ2M-XW4NP-R8TJD-3HFAZ")?; // the one-time code from the township
//!
//! let patrol = store.start_patrol(1_796_090_400_000)?;
//! let dispute = store.register_dispute(&NewDispute {
//!     place: None,
//!     source: "patrol".into(),
//!     source_record: Some(patrol),
//!     category: "邻里纠纷".into(),
//!     summary: Some("两户因排水沟发生争执".into()),
//!     risk: Some(1),
//!     parties: vec![],
//!     address: None,
//!     due: None,
//! })?;
//! store.note(dispute, "双方到村委会调解")?;
//! store.file_all_safe("2026-12-01".parse()?)?;
//! let report = store.sync(&server)?;
//! println!("pushed {} changes, pulled {}, refused {}", report.pushed, report.pulled, report.refused);
//! # Ok(()) }
//! ```

pub mod attachments;
pub mod crypto;
pub mod disputes;
pub mod doctor;
pub mod error;
pub mod identity;
pub mod rejections;
pub mod store;
pub mod sync;
pub mod transport;
pub mod work;

pub use attachments::{AttachmentInfo, NetworkKind};
pub use crypto::StoreKey;
pub use disputes::{Mediation, NewDispute, Party, StepDetails};
pub use doctor::RepairReport;
pub use error::{Error, Result};
pub use identity::{Signer, SigningKey};
pub use rejections::{Outcome, Receipt, RefusedEdit, Rejection};
pub use store::{Conflict, Edit, RecordFilter, SCHEMA, Store};
pub use sync::{SyncObserver, SyncOptions, SyncPhase, SyncProgress, SyncReport};
pub use transport::{HttpTransport, Request, Transport, check_server_url};
pub use work::{DailyReport, Gps, Visit};
