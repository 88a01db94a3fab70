//! Closing the minutes of refused requests while serving: the service
//! counts refusals per requester and minute
//! ([`gridsync_server_core::audit::refusals`]) and appends a minute's
//! summary when the minute has closed. A thread beside the server closes
//! them every few seconds, so a flood's summary is in the audit log soon
//! after its minute ends even if no other refusal follows; when the server
//! stops ([`crate::backend::Backend::join`]) it closes the open minute too.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use gridsync_server_core::Service;

/// How often closed minutes are looked for.
const EVERY: Duration = Duration::from_secs(5);

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
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    runtime.block_on(service.close_refusals(false));
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
