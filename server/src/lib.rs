//! # gridsync-server
//!
//! The township sync endpoint: the web layer and the operator's command
//! line over the service layer of [`gridsync_server_core`], with the
//! embedded SQLite storage of [`gridsync_server_sqlite`] or, for several
//! server processes sharing one deployment, PostgreSQL
//! ([`gridsync_server_postgres`]).
//!
//! ```text
//! gridsync-server  (this crate)   web handlers, operator CLI, settings, TLS, demo
//!        │ calls
//! gridsync-server-core            service layer, policy, storage traits; no HTTP, no SQL
//!        │ implemented by
//! gridsync-server-sqlite          the SQLite backend: writer with group commit, readers
//! gridsync-server-postgres        or the PostgreSQL backend, shared by several processes
//! ```
//!
//! * [`web`]: the routes, shared by `main` and the tests through [`web::configure`];
//!   handlers decode, call one service operation, and answer;
//! * [`console`]: the web console for township and county staff, under `/console/`;
//! * [`operator`]: the command-line administration on a data directory,
//!   calling the same service operations as the operator;
//! * [`app`]: building and running the HTTP server; [`refusals`]: closing
//!   the minutes of refused requests beside it;
//! * [`backend`]: which database ([`Database`]) and opening it with its
//!   guards ([`Backend`]);
//! * [`config`]: settings from flags, environment and a TOML file;
//! * [`export`]: the ledgers' sheets written as XLSX, CSV and JSON;
//! * [`metrics`]: Prometheus metrics at `/metrics`, and who may read them;
//! * [`blobs`]: where attachment bytes live, the data directory or an
//!   S3-compatible bucket;
//! * [`files`]: bounded reads of the files an operator names;
//! * [`tls`]: HTTPS and the township CA; [`demo`]: a demo township.

pub mod app;
pub mod backend;
pub mod backup;
pub mod blobs;
pub mod config;
pub mod console;
pub mod demo;
pub mod export;
pub mod files;
mod inspector;
pub mod metrics;
pub mod migrate;
pub mod operator;
pub mod refusals;
pub mod tls;
pub mod web;

pub use app::Running;
pub use backend::{Backend, Database};
pub use config::Settings;
pub use inspector::{Inspector, LoggedChange};
pub use web::ApiError;
