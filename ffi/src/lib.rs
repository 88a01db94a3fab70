//! # gridsync-ffi
//!
//! The bindings of `gridsync-client-core` for the Android and iOS apps,
//! through UniFFI proc-macros (no UDL): Kotlin, Swift and Python bindings
//! are generated from the built library (`docs/MOBILE.md`). This is the only
//! crate that knows about the foreign-function layer; `gridsync-client-core`
//! stays plain Rust. Why it looks the way it does is in
//! `docs/adr/0011-ffi-uniffi.md`.
//!
//! * [`GridStore`]: one handset store, thread-safe. Records, typed field
//!   work (patrols, visits, daily reports, households), disputes and their
//!   steps, conflicts, refused writes, enrollment and sync.
//! * [`SyncListener`]: progress and cancellation of a sync, implemented by
//!   the app.
//! * [`ForeignTransport`]: optionally, the app's own HTTP stack (OkHttp,
//!   `URLSession`) instead of the built-in one.
//! * [`GridError`]: the one error, chosen by what the app will do.
//!
//! Field values cross as JSON text, record views as the JSON documented in
//! `docs/CLI.md`; ids, dates, kinds and dispute actions as their text forms.
//!
//! ```kotlin
//! val store = GridStore.open(path, keyFromKeystore())
//! val id = store.registerDispute(NewDispute(source = "patrol", category = "邻里纠纷"))
//! store.fileAllSafe()
//! try { store.sync(listener) } catch (e: GridException.Network) { /* retry later */ }
//! ```

uniffi::setup_scaffolding!();

mod convert;
pub mod error;
pub mod listener;
pub mod store;
pub mod transport;
pub mod types;

pub use error::GridError;
pub use listener::SyncListener;
pub use store::{GridStore, repair_store, store_exists};
pub use transport::{ForeignTransport, Header, HttpAnswer, TransportError};
pub use types::{
    AttachmentInfo, CandidateInfo, ConflictInfo, Enrolled, Gps, Mediation, NetworkKind, NewDispute, Party,
    RejectionInfo, RepairSummary, StepDetails, SyncPhase, SyncProgressInfo, SyncSummary, Visit,
};

/// The version of the core library these bindings wrap.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_the_workspace_version() {
        assert_eq!(super::core_version(), env!("CARGO_PKG_VERSION"));
    }
}
