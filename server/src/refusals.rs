//! Closing the minutes of refused requests while serving: the service
//! counts refusals per requester and minute
//! ([`gridsync_server_core::audit::refusals`]) and appends a minute's
//! summary when the minute has closed. A thread beside the server closes
//! them every few seconds, so a flood's summary is in the audit log soon
//! after its minute ends even if no other refusal follows; when the server
//! stops ([`crate::backend::Backend::join`]) it closes the open minute too.
//!
//! The same thread drops abandoned attachment uploads (started a week ago
//! and never finished: their rows and chunks), once soon after the start
//! and then every hour ([`Service::sweep_stale_uploads`]).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use gridsync_server_core::Service;
use gridsync_server_core::service::attachments::STALE_UPLOAD_MS;

/// How often closed minutes are looked for.
const EVERY: Duration = Duration::from_secs(5);

/// Every how many rounds of [`EVERY`] abandoned uploads are swept (an hour).
const SWEEP_ROUNDS: u64 = 720;

/// The thread closing the service's refusal minutes.
#[derive(Debug)]
pub struct RefusalCloser {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl RefusalCloser {
    /// Starts the thread for `service`.
    pub fn start(service: Service) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the refusal closer's runtime")?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("refusal-closer".into())
            .spawn(move || {
                // Until told to stop (or the handle is dropped).
                let mut round: u64 = 0;
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    runtime.block_on(service.close_refusals(false));
                    if round.is_multiple_of(SWEEP_ROUNDS) {
                        let swept = runtime.block_on(service.sweep_stale_uploads(STALE_UPLOAD_MS));
                        if let Err(e) = swept {
                            tracing::warn!(error = %e, "cannot sweep abandoned attachment uploads");
                        }
                    }
                    round += 1;
                }
                runtime.block_on(service.close_refusals(true));
            })
            .context("cannot start the refusal closer")?;
        Ok(Self { stop, thread })
    }

    /// Closes the open minute too, and ends the thread (with its handle on
    /// the storage). Blocks until it has.
    pub fn stop(self) {
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            tracing::error!("the refusal closer panicked");
        }
    }
}
