//! # gridsync-server-core
//!
//! The server's core, with no HTTP and no SQL: the policy (who may do
//! what, what each device holds), the service layer where every operation
//! lives once, and the storage seam a backend fills.
//!
//! ```text
//! web handler   → decode + extract (auth, limits) → service op → status code   (gridsync-server)
//! CLI command   → parse args                      → service op → print / --json (gridsync-server)
//! service op    → policy::authorize → storage (one transaction) → audit         (this crate)
//! storage       → traits with typed params/results; SQLite behind them          (gridsync-server-sqlite)
//! ```
//!
//! * [`error`]: [`CoreError`]: a refusal (code, field, message) or a storage failure (by kind);
//! * [`storage`]: the [`Storage`] trait family and what a backend must guarantee;
//! * [`blobs`]: the [`blobs::BlobStore`] seam where attachment bytes live;
//! * [`service`]: [`Service`], the operations, called by the HTTP handlers and the operator CLI alike;
//! * [`policy`]: role rules and scope ranking; [`directory`]: the versioned directory cache;
//! * [`guard`]: replay protection and rate limits behind traits; [`audit`]: the hash chain;
//! * [`ledger`]: the merged ledgers (一表一帐) and rankings as a pure computation over record states, rendered to a neutral sheet model;
//! * [`metrics`]: the names of the metrics every layer records, and the scrape-time [`metrics::Vitals`];
//! * `conformance` (feature `conformance`): the suite every backend must pass;
//! * `fuzzing` (feature `fuzzing`): what the push and import fuzz targets run, on any backend.

pub mod audit;
pub mod blobs;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod directory;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod home;
pub mod ledger;
pub mod metrics;
pub mod passwords;
pub mod policy;
pub mod service;
pub mod storage;

pub use error::{CoreError, CoreResult, Refusal, StorageError, StorageErrorKind};
pub use service::Service;
pub use storage::{Storage, StorageExt};
