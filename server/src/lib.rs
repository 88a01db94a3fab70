//! # gridsync-server
//!
//! The township sync endpoint: the web layer and the operator's command
//! line over the service layer of [`gridsync_server_core`], with the
//! embedded SQLite storage of [`gridsync_server_sqlite`].
//!
//! ```text
//! gridsync-server  (this crate)   web handlers, operator CLI, settings, TLS, demo
//!        │ calls
//! gridsync-server-core            service layer, policy, storage traits; no HTTP, no SQL
//!        │ implemented by
//! gridsync-server-sqlite          the SQLite backend: writer with group commit, readers
//! ```
//!
//! * [`web`]: the routes, shared by `main` and the tests through [`web::configure`];
//!   handlers decode, call one service operation, and answer;
//! * [`operator`]: the command-line administration on a data directory,
//!   calling the same service operations as the operator;
//! * [`app`]: building and running the HTTP server;
//! * [`config`]: settings from flags, environment and a TOML file;
//! * [`tls`]: HTTPS and the township CA; [`demo`]: a demo township.

pub mod app;
pub mod config;
pub mod demo;
pub mod operator;
pub mod tls;
pub mod web;

pub use app::Running;
pub use config::Settings;
pub use gridsync_server_sqlite::Inspector;
pub use web::ApiError;
