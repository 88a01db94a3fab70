//! Nagle's algorithm is off on every accepted connection, plain and TLS: a
//! pull answer leaves as a header and then a compressed body, and with
//! Nagle on the body would wait for the client's delayed ACK (~40 ms per
//! request, measured at 70% of a township phone's first sync). The server
//! reads `TCP_NODELAY` back from each accepted socket (`getsockopt`) and
//! logs it at debug level; this test listens to those logs while it
//! connects several times to a plain and to an HTTPS server.

use std::io::Write;
use std::sync::{Arc, Mutex};

use gridsync_server::tls::write_self_signed;
use gridsync_server::{Running, Settings};
use tracing_subscriber::fmt::MakeWriter;

/// Log lines, shared with the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("the log").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    /// The lines saying a connection was accepted.
    fn accepted(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.0.lock().expect("the log")).into_owned();
        text.lines().filter(|l| l.contains("connection accepted")).map(str::to_owned).collect()
    }
}

/// Connects `n` times (a fresh client each time: one TCP connection each)
/// and answers how many more connections were logged.
fn connect(
    log: &Captured,
    url: &str,
    client: impl Fn() -> reqwest::blocking::Client,
    n: usize,
) -> Vec<String> {
    let before = log.accepted().len();
    for _ in 0..n {
        let answer = client().get(format!("{url}/health")).send().expect("answered");
        assert!(answer.status().is_success());
    }
    log.accepted().split_off(before)
}

#[test]
fn every_accepted_connection_has_nagle_off_plain_and_tls() {
    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("gridsync_server::app=debug")
        .with_writer(log.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");
    let _ = rustls::crypto::ring::default_provider().install_default();

    let dir = tempfile::tempdir().expect("tempdir");
    let plain = Running::start(Settings::new(dir.path().join("plain"), "127.0.0.1:0".parse().expect("addr")))
        .expect("a plain server");
    let lines = connect(&log, &plain.url(), reqwest::blocking::Client::new, 3);
    assert_eq!(lines.len(), 3, "one line per connection: {lines:?}");
    assert!(lines.iter().all(|l| l.contains("tcp_nodelay=true")), "{lines:?}");

    let data = dir.path().join("tls");
    let mut settings = Settings::new(&data, "127.0.0.1:0".parse().expect("addr"));
    let files = write_self_signed(&data, &["127.0.0.1".to_owned()], 30, false).expect("a self-signed set");
    settings.tls_cert = Some(files.cert.clone());
    settings.tls_key = Some(files.key.clone());
    let tls = Running::start(settings).expect("an HTTPS server");
    let ca = std::fs::read(&files.ca).expect("the CA");
    let pinned = || {
        let roots = reqwest::Certificate::from_pem_bundle(&ca).expect("CA PEM");
        reqwest::blocking::Client::builder().tls_certs_only(roots).build().expect("a client")
    };
    let lines = connect(&log, &tls.url(), pinned, 3);
    assert_eq!(lines.len(), 3, "one line per TLS connection: {lines:?}");
    assert!(lines.iter().all(|l| l.contains("tcp_nodelay=true")), "{lines:?}");
}
