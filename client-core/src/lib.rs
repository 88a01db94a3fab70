//! # gridsync-client-core
//!
//! The handset side of gridsync: a durable local store of CRDT records on
//! SQLite that never loses an edit, and the sync loop that exchanges changes
//! with the township server. Plain Rust; the `gridsync-ffi` crate exposes it
//! to the Android and iOS apps.
//!
//! ```no_run
//! use gridsync_client_core::{HttpTransport, Store};
//! use gridsync_proto::{RecordKind, Value};
//!
//! # fn main() -> Result<(), gridsync_client_core::Error> {
//! let mut store = Store::init("worker.db".as_ref(), "http://10.1.2.3:8080", "网格员 张三")?;
//! let id = store.create(RecordKind::Dispute, [("category".into(), Value::from("邻里纠纷"))])?;
//! store.note(id, "双方到村委会调解")?;
//! let report = store.sync(&HttpTransport::new(store.server_url())?)?;
//! println!("pushed {} changes, pulled {}", report.pushed, report.pulled);
//! # Ok(()) }
//! ```

pub mod error;
pub mod store;
pub mod sync;
pub mod transport;

pub use error::{Error, Result};
pub use store::{Conflict, Edit, RecordFilter, SCHEMA, Store};
pub use sync::{SyncOptions, SyncReport};
pub use transport::{HttpTransport, Transport};
