//! # gridsync-server
//!
//! The township sync endpoint. Devices push their changes and pull everyone
//! else's; the server merges every change into one state per record with the
//! rules of [`gridsync_proto::record`] and keeps an ordered, deduplicated
//! change log that devices read by cursor.
//!
//! * [`db`]: the SQLite store (one writer thread with group commit, pooled readers);
//! * [`web`]: the routes, shared by `main` and the tests through [`web::configure`];
//! * [`app`]: building and running the HTTP server;
//! * [`config`]: settings from flags, environment and a TOML file;
//! * [`identity`], [`passwords`], [`audit`]: users, devices, enrollment and
//!   the tamper-evident audit log; [`operator`]: the command-line
//!   administration on a data directory; [`tls`]: HTTPS and the township CA.

pub mod app;
pub mod audit;
pub mod config;
pub mod db;
pub mod demo;
pub mod directory;
pub mod error;
pub mod hierarchy;
pub mod identity;
pub mod operator;
pub mod passwords;
pub mod reports;
pub mod scope;
pub mod staff;
pub mod tls;
pub mod web;

pub use app::Running;
pub use config::Settings;
pub use db::{Inspector, Store};
pub use error::ApiError;
