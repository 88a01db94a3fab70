//! HTTPS on a township LAN: the server serves the self-signed set that
//! `write_self_signed` makes, a handset pinned to that township CA reaches
//! it, and nothing else is trusted.

use std::path::Path;

use gridsync_client_core::{Error, HttpTransport, Request, Transport};
use gridsync_proto::wire;
use gridsync_proto::{ActorId, PullRequest};
use gridsync_server::tls::{TlsFiles, write_self_signed};
use gridsync_server::{Running, Settings};
use tempfile::TempDir;

/// A server in a temporary data directory, HTTPS with a fresh township CA
/// for 127.0.0.1 when `tls`.
fn start(tls: bool) -> (Running, Option<TlsFiles>, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut settings = Settings::new(&data, "127.0.0.1:0".parse().expect("addr"));
    settings.workers = 1;
    let files = tls.then(|| {
        let files = write_self_signed(&data, &["127.0.0.1".to_owned()], 30, false).expect("self-signed set");
        settings.tls_cert = Some(files.cert.clone());
        settings.tls_key = Some(files.key.clone());
        files
    });
    let server = Running::start(settings).expect("server starts");
    (server, files, dir)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("readable")
}

/// A reqwest client trusting only `ca_pem`, for routes outside `Transport`.
fn pinned_reqwest(ca_pem: &[u8]) -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let roots = reqwest::Certificate::from_pem_bundle(ca_pem).expect("CA PEM");
    reqwest::blocking::Client::builder().tls_certs_only(roots).build().expect("client")
}

/// The text of a refused TLS handshake: a certificate the handset does not
/// trust (`Error::Certificate`), or another network failure.
fn refused_tls(result: Result<Vec<u8>, Error>) -> String {
    match result {
        Err(Error::Certificate(text) | Error::Network(text)) => text,
        other => panic!("expected the TLS handshake to be refused, got {other:?}"),
    }
}

fn pull_body() -> Vec<u8> {
    wire::encode(&PullRequest { device: ActorId::random(), cursor: 0, limit: 10, profile_version: 0 })
}

fn pull_request() -> Request {
    Request {
        path: "/v1/sync/pull",
        content_type: wire::CONTENT_TYPE,
        headers: Vec::new(),
        body: pull_body(),
    }
}

#[test]
fn a_handset_pinned_to_the_township_ca_reaches_the_server() {
    let (server, files, _dir) = start(true);
    let files = files.expect("TLS files");
    let url = server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca = read(&files.ca);

    let transport = HttpTransport::with_pinned_ca(&url, &ca).expect("pinned transport");
    // Sync requests must be signed; an unsigned pull is refused with a
    // gridsync error: an answer that came over the pinned TLS connection.
    match transport.send(pull_request()) {
        Err(Error::Rejected { status, body }) => {
            assert_eq!((status, body.code), (401, gridsync_proto::ErrorCode::Unauthenticated));
        }
        other => panic!("expected a refusal over TLS, got {other:?}"),
    }

    let health = pinned_reqwest(&ca).get(format!("{url}/health")).send().expect("health over HTTPS");
    assert!(health.status().is_success());
    assert!(health.text().expect("body").contains("\"status\":\"ok\""));
    server.stop();
}

#[test]
fn a_handset_pinned_to_another_ca_is_refused() {
    let (server, _files, _dir) = start(true);
    let other = tempfile::tempdir().expect("tempdir");
    let other = write_self_signed(other.path(), &["127.0.0.1".to_owned()], 30, false).expect("another CA");

    let transport = HttpTransport::with_pinned_ca(&server.url(), &read(&other.ca)).expect("pinned transport");
    let text = refused_tls(transport.send(pull_request()));
    assert!(text.to_lowercase().contains("certificate"), "{text}");

    let health = pinned_reqwest(&read(&other.ca)).get(format!("{}/health", server.url())).send();
    assert!(health.is_err(), "another CA's client must not get through");
}

#[test]
fn the_pinned_ca_does_not_excuse_a_wrong_host_name() {
    let (server, files, _dir) = start(true);
    let ca = read(&files.expect("TLS files").ca);
    // The certificate names 127.0.0.1, not localhost.
    let url = format!("https://localhost:{}", server.addr().port());
    let transport = HttpTransport::with_pinned_ca(&url, &ca).expect("pinned transport");
    let text = refused_tls(transport.send(pull_request()));
    assert!(text.to_lowercase().contains("certificate"), "{text}");
}

#[test]
fn system_roots_do_not_trust_the_township_ca() {
    let (server, _files, _dir) = start(true);
    let transport = HttpTransport::new(&server.url()).expect("transport");
    let text = refused_tls(transport.send(pull_request()));
    assert!(text.to_lowercase().contains("certificate"), "{text}");
}

#[test]
fn plain_http_is_served_without_tls_settings() {
    let (server, files, dir) = start(false);
    assert!(files.is_none());
    let url = server.url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let health = reqwest::blocking::get(format!("{url}/health")).expect("health over HTTP");
    assert!(health.status().is_success());

    // Pinning a CA for a plain-HTTP URL would protect nothing: refused.
    let ca = write_self_signed(dir.path(), &["127.0.0.1".to_owned()], 30, false).expect("CA").ca;
    match HttpTransport::with_pinned_ca(&url, &read(&ca)) {
        Err(Error::Network(text)) => assert!(text.contains("https://"), "{text}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn an_unusable_ca_file_is_refused_by_the_transport() {
    for bad in
        [&b""[..], b"not a certificate", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
    {
        match HttpTransport::with_pinned_ca("https://127.0.0.1:1", bad) {
            Err(Error::Network(text)) => assert!(text.contains("pinned CA"), "{text}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn a_certificate_without_a_key_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let files = write_self_signed(&data, &["127.0.0.1".to_owned()], 30, false).expect("self-signed set");

    let mut settings = Settings::new(&data, "127.0.0.1:0".parse().expect("addr"));
    settings.tls_cert = Some(files.cert.clone());
    let err = format!("{:#}", Running::start(settings.clone()).expect_err("cert without key"));
    assert!(err.contains("no TLS key") && err.contains("cert.pem"), "{err}");

    settings.tls_cert = None;
    settings.tls_key = Some(files.key.clone());
    let err = format!("{:#}", Running::start(settings.clone()).expect_err("key without cert"));
    assert!(err.contains("no TLS certificate") && err.contains("key.pem"), "{err}");

    settings.tls_cert = Some(data.join("tls/missing.pem"));
    let err = format!("{:#}", Running::start(settings).expect_err("missing cert file"));
    assert!(err.contains("missing.pem"), "{err}");
}
