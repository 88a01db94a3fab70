//! # gridsync-client-core
//!
//! The handset side of gridsync: a durable local store of CRDT records on
//! SQLite that never loses an edit, and the sync loop that exchanges changes
//! with the township server. Plain Rust; the `gridsync-ffi` crate exposes it
//! to the Android and iOS apps.
//!
//! Record content in the store file is encrypted with a [`StoreKey`] that the
//! app keeps in the platform keystore (Android Keystore, iOS Keychain).
//!
//! ```no_run
//! use gridsync_client_core::{HttpTransport, Store, StoreKey};
//! use gridsync_proto::{RecordKind, Value};
//!
//! # fn key_from_the_platform_keystore() -> [u8; 32] { [0; 32] }
//! # fn main() -> Result<(), gridsync_client_core::Error> {
//! let key = StoreKey::from_bytes(key_from_the_platform_keystore());
//! let mut store = Store::init("worker.db".as_ref(), "http://10.1.2.3:8080", "网格员 张三", &key)?;
//! let id = store.create(RecordKind::Dispute, [("category".into(), Value::from("邻里纠纷"))])?;
//! store.note(id, "双方到村委会调解")?;
//! let report = store.sync(&HttpTransport::new(store.server_url())?)?;
//! println!("pushed {} changes, pulled {}", report.pushed, report.pulled);
//! # Ok(()) }
//! ```

pub mod crypto;
pub mod error;
pub mod identity;
pub mod store;
pub mod sync;
pub mod transport;

pub use crypto::StoreKey;
pub use error::{Error, Result};
pub use identity::{Signer, SigningKey};
pub use store::{Conflict, Edit, RecordFilter, SCHEMA, Store};
pub use sync::{SyncOptions, SyncReport};
pub use transport::{HttpTransport, Request, Transport};
