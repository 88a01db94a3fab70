//! Watching a sync from the app: progress after every request, and a
//! cancellation check before every request.

use std::sync::atomic::{AtomicBool, Ordering};

use gridsync_client_core::{SyncObserver, SyncProgress};

use crate::types::SyncProgressInfo;

/// Implemented by the app to watch a sync run. Both methods are called on
/// the thread that called `sync`, while the run holds the store: they must
/// return quickly and must not call back into the same `GridStore` (except
/// `cancel_sync`, which never waits). An exception thrown from them is a
/// bug in the app: the run stops and the call fails with UniFFI's internal
/// error (nothing is lost; the store is reopened from its file on the next
/// call).
#[uniffi::export(foreign)]
pub trait SyncListener: Send + Sync {
    /// Progress after a request (push batch, pull page) and once at the end.
    fn on_progress(&self, progress: SyncProgressInfo);
    /// Whether the run should stop now; asked before each request. Return
    /// `false` to rely on `cancel_sync` alone.
    fn is_cancelled(&self) -> bool;
}

/// The app's listener and the store's cancel flag, as the core's observer.
pub(crate) struct Observer<'a> {
    pub(crate) cancel: &'a AtomicBool,
    pub(crate) listener: Option<&'a dyn SyncListener>,
}

impl std::fmt::Debug for Observer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer").field("listener", &self.listener.is_some()).finish_non_exhaustive()
    }
}

impl SyncObserver for Observer<'_> {
    fn progress(&self, progress: &SyncProgress) {
        if let Some(listener) = self.listener {
            listener.on_progress(progress.into());
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst) || self.listener.is_some_and(|l| l.is_cancelled())
    }
}
