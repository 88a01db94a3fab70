//! Building and running the HTTP server, in `main` and in tests alike.
//! With [`Settings::tls_cert`] and [`Settings::tls_key`] set it serves HTTPS
//! (rustls, ring provider; see [`tls`]).

use std::any::Any;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::{Extensions, Server, ServerHandle, Service};
use actix_web::middleware::Compress;
use actix_web::rt::net::TcpStream;
use actix_web::{App, HttpServer};
use anyhow::Context;

use gridsync_server_core::Service as GridService;
use gridsync_server_postgres::PgOptions;

use crate::backend::Backend;
use crate::config::Settings;
use crate::tls;
use crate::web::{self, AppState};

/// How long in-flight requests may take to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Opens the storage ([`Settings::database`]: SQLite in the data directory,
/// or PostgreSQL), builds the service with the backend's replay guard and
/// rate limits, and binds the listener (HTTPS when the settings name a
/// certificate and key). Call inside an actix system.
///
/// Returns the backend handle: once the server has stopped, call
/// [`Backend::join`] (outside the actix system) so queued writes finish.
///
/// Attachment bytes go to the store [`Settings::attachments`] names
/// ([`crate::blobs::open`]: `<data>/blobs`, or an S3 bucket).
///
/// Fails before opening the store when `database` is not a PostgreSQL URL,
/// when the attachment limits are out of bounds,
/// when only one of `tls_cert` and `tls_key` is set or when either file is
/// unusable. On PostgreSQL the data directory holds only the attachments
/// of the `fs` store (`<data>/blobs`; none with the `s3` store).
pub fn build(
    settings: &Settings,
    handle_signals: bool,
) -> anyhow::Result<(Server, Vec<SocketAddr>, Backend)> {
    let database = settings.database()?;
    settings.metrics_access()?;
    settings.attachments.limits()?;
    crate::metrics::install();
    let tls = match settings.tls_files()? {
        Some((cert, key)) => Some(tls::server_config(cert, key)?),
        None => None,
    };
    let pool = PgOptions { pool_size: settings.database_pool_size };
    let mut backend = Backend::open_with(&database, pool)?;
    backend.lock_for_serving()?;
    let blobs = crate::blobs::open(&settings.attachments, &settings.data_dir)?;
    if !database.is_embedded() && blobs.kind() == "fs" {
        tracing::warn!(
            "attachments are kept in this machine's data directory: with several server processes, \
             set [attachments] store = \"s3\" so that every process sees every upload"
        );
    }
    tracing::info!(store = blobs.kind(), "attachment store");
    let service =
        GridService::with_replay_guard(backend.storage.clone(), settings.service(), backend.replay.clone())
            .with_blobs(blobs);
    backend.close_refusals_of(service.clone())?;
    let limiter = backend.rate_limiter(settings.enrollments_per_minute, settings.logins_per_minute);
    let state = AppState::with_limiter(service, settings, limiter);
    let limits = settings.limits;
    let edge = settings.edge;
    let mut server = HttpServer::new(move || {
        let (state, limits) = web::app_data(state.clone(), limits);
        App::new()
            .app_data(state)
            .app_data(limits)
            .wrap(web::json_errors())
            .wrap(Compress::default())
            .wrap_fn(|req, srv| {
                let started = Instant::now();
                let method = req.method().clone();
                // The route pattern, never the raw path or query.
                let route = req.match_pattern().unwrap_or_else(|| "(unmatched)".to_owned());
                let fut = srv.call(req);
                async move {
                    let res = fut.await?;
                    crate::metrics::observe(&route, &res, started);
                    tracing::info!(
                        %method,
                        route,
                        status = res.status().as_u16(),
                        micros = started.elapsed().as_micros() as u64,
                        "request"
                    );
                    Ok(res)
                }
            })
            .configure(web::configure)
    })
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    // Slow clients: a request's head must arrive within the timeout, an
    // idle connection is closed, and each worker holds a bounded number of
    // connections (the rest wait in the listen backlog).
    .client_request_timeout(edge.client_request_timeout)
    .client_disconnect_timeout(edge.client_disconnect_timeout)
    .keep_alive(edge.keep_alive)
    .max_connections(edge.max_connections_per_worker)
    // Pull answers leave as a header then a compressed body: with Nagle's
    // algorithm on, the body would wait for the client's delayed ACK.
    .tcp_nodelay(true)
    .on_connect(note_connection);
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    if !handle_signals {
        server = server.disable_signals();
    }
    let server = match tls {
        Some(config) => server.bind_rustls_0_23(settings.listen, config),
        None => server.bind(settings.listen),
    }
    .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addrs = server.addrs();
    Ok((server.run(), addrs, backend))
}

/// Reads back the socket options of an accepted connection, plain or TLS,
/// and says so at debug level; a connection with Nagle's algorithm still on
/// (`TCP_NODELAY` off: every small write waits for the client's delayed
/// ACK, ~40 ms) is a warning.
fn note_connection(connection: &dyn Any, _: &mut Extensions) {
    let socket = connection
        .downcast_ref::<TcpStream>()
        .or_else(|| connection.downcast_ref::<TlsStream<TcpStream>>().map(|tls| tls.get_ref().0));
    match socket.map(TcpStream::nodelay) {
        Some(Ok(true)) => tracing::debug!(tcp_nodelay = true, "connection accepted"),
        Some(Ok(false)) => {
            tracing::warn!(tcp_nodelay = false, "connection accepted with Nagle's algorithm on")
        }
        Some(Err(e)) => tracing::warn!(error = %e, "cannot read an accepted connection's TCP_NODELAY"),
        None => tracing::warn!("connection accepted on a socket of an unknown kind"),
    }
}

/// A server running on its own thread, for tests and benchmarks.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    https: bool,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Starts a server with `settings` (use port 0 for a free loopback port).
    pub fn start(settings: Settings) -> anyhow::Result<Running> {
        let https = settings.tls_cert.is_some();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new().name("gridsync-server".into()).spawn(move || {
            let system = actix_web::rt::System::new();
            let built = system.block_on(async { build(&settings, false) });
            match built {
                Ok((server, addrs, backend)) => {
                    let _ = ready_tx.send(Ok((addrs[0], server.handle())));
                    if let Err(e) = system.block_on(server) {
                        tracing::error!(error = %e, "server stopped with an error");
                    }
                    backend.join();
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })?;
        let (addr, handle) = ready_rx.recv().context("server thread ended before starting")??;
        Ok(Running { addr, https, handle, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, e.g. `http://127.0.0.1:40123`, or `https://...` when
    /// it serves TLS.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops gracefully: in-flight requests finish, queued pushes commit.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            let handle = self.handle.clone();
            // `stop` is a future; drive it on a throwaway runtime.
            let rt = tokio::runtime::Builder::new_current_thread().build();
            if let Ok(rt) = rt {
                rt.block_on(handle.stop(true));
            }
            let _ = thread.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}
