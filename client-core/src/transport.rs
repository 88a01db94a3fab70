//! How the store talks to the server. The default is [`HttpTransport`]
//! (reqwest, rustls with the ring provider); an app may bring its own
//! implementation of [`Transport`] (e.g. its platform's HTTP stack).
//!
//! Certificates are always verified: against the system's roots with
//! [`HttpTransport::new`], or against one township CA only with
//! [`HttpTransport::with_pinned_ca`].

use std::time::Duration;

use gridsync_proto::ErrorBody;

use crate::error::{Error, Result};

/// One POST to the server, ready for the wire: the body is exactly what is
/// sent (already compressed, and signed over those bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The path, e.g. `/v1/sync/push`.
    pub path: &'static str,
    /// The body's content type.
    pub content_type: &'static str,
    /// Further headers: authentication, `content-encoding`.
    pub headers: Vec<(&'static str, String)>,
    /// The body as sent.
    pub body: Vec<u8>,
}

/// Sends requests to the server. An app may bring its own (its platform's
/// HTTP stack); it must send the request unchanged.
pub trait Transport: Send + Sync {
    /// POSTs the request. Returns the body of a 2xx answer; a refusal with a
    /// gridsync error body as [`Error::Rejected`]; anything else as
    /// [`Error::Network`]. An implementation that gets an HTTP answer hands
    /// its status and body to [`interpret_answer`], which decides this.
    fn send(&self, request: Request) -> Result<Vec<u8>>;
}

/// The default transport over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpTransport {
    base: String,
    client: reqwest::blocking::Client,
}

impl HttpTransport {
    /// A transport to the server at `base_url` (e.g. `http://10.0.0.2:8080`).
    /// An `https://` server's certificate is verified against the system's
    /// trusted roots.
    pub fn new(base_url: &str) -> Result<Self> {
        Self::build(base_url, builder())
    }

    /// A transport to the `https://` server at `base_url` that trusts only
    /// the CA certificate(s) in `ca_pem` (PEM; normally the township CA's
    /// `ca.pem`), not the system's roots: a server certificate not signed by
    /// it, or not naming the host of `base_url`, is refused. Redirects to
    /// plain HTTP are refused too.
    ///
    /// Fails with [`Error::Network`] when `base_url` is not `https://` or
    /// `ca_pem` holds no usable certificate.
    pub fn with_pinned_ca(base_url: &str, ca_pem: &[u8]) -> Result<Self> {
        if !base_url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")) {
            return Err(Error::Network(
                "a pinned CA needs an https:// server URL: plain HTTP would not use it".into(),
            ));
        }
        let roots = pinned_roots(ca_pem)?;
        Self::build(base_url, builder().https_only(true).tls_certs_only(roots))
    }

    fn build(base_url: &str, builder: reqwest::blocking::ClientBuilder) -> Result<Self> {
        let client = builder.build().map_err(|e| Error::Network(format!("cannot build HTTP client: {e}")))?;
        Ok(Self { base: base_url.trim_end_matches('/').to_owned(), client })
    }
}

/// Checks that `url` can be a store's server URL: an absolute `http://` or
/// `https://` URL with a host, and without user name, password, query or
/// fragment (e.g. `http://10.1.2.3:8080`). Returns whether it is `https://`.
/// The error ([`Error::ServerUrl`]) says what is wrong, without the URL.
pub fn check_server_url(url: &str) -> Result<bool> {
    let parsed = reqwest::Url::parse(url).map_err(|_| {
        Error::ServerUrl("is not an absolute URL (an http:// or https:// URL, e.g. http://10.1.2.3:8080)")
    })?;
    let https = match parsed.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(Error::ServerUrl("must start with http:// or https:// (e.g. http://10.1.2.3:8080)")),
    };
    if url.trim() != url {
        return Err(Error::ServerUrl("starts or ends with blanks; give it without them"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::ServerUrl("names no host (e.g. http://10.1.2.3:8080)"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::ServerUrl("must not hold a user name or password"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::ServerUrl("must not hold a query (?…) or fragment (#…)"));
    }
    Ok(https)
}

/// The answer encodings the default transport takes, best first.
pub const ACCEPT_ENCODING: &str = "zstd, gzip;q=0.5";

/// The client settings every transport shares.
fn builder() -> reqwest::blocking::ClientBuilder {
    // One crypto provider throughout: ring. Installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("gridsync-client-core/", env!("CARGO_PKG_VERSION")))
}

/// Every `CERTIFICATE` in `ca_pem`, each checked to be usable as a trust
/// anchor, so that a bad file is reported here rather than as a failed
/// connection later.
fn pinned_roots(ca_pem: &[u8]) -> Result<Vec<reqwest::Certificate>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = Vec::new();
    for der in CertificateDer::pem_slice_iter(ca_pem) {
        let der = der.map_err(|e| Error::Network(format!("the pinned CA is not valid PEM: {e}")))?;
        rustls::RootCertStore::empty().add(der.clone()).map_err(|e| {
            Error::Network(format!("the pinned CA certificate cannot be used as a trust anchor: {e}"))
        })?;
        let root = reqwest::Certificate::from_der(&der)
            .map_err(|e| Error::Network(format!("the pinned CA certificate is unusable: {e}")))?;
        roots.push(root);
    }
    if roots.is_empty() {
        return Err(Error::Network("the pinned CA holds no PEM CERTIFICATE section".into()));
    }
    Ok(roots)
}

impl Transport for HttpTransport {
    fn send(&self, request: Request) -> Result<Vec<u8>> {
        let mut http = self
            .client
            .post(format!("{}{}", self.base, request.path))
            .header(reqwest::header::CONTENT_TYPE, request.content_type);
        for (name, value) in request.headers {
            http = http.header(name, value);
        }
        // Answers are compressed by the server and inflated by reqwest;
        // zstd first: a page of snapshots is a third smaller than with
        // gzip, and inflates faster (ADR 0019).
        http = http.header(reqwest::header::ACCEPT_ENCODING, ACCEPT_ENCODING);
        let response = http.body(request.body).send().map_err(network)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().map_err(network)?;
        interpret_answer(status, bytes.to_vec())
    }
}

/// What an HTTP answer from the server means, for every [`Transport`]
/// (the default one and an app's own): the body of a 2xx answer; a refusal
/// with a gridsync error body as [`Error::Rejected`]; anything else (a
/// proxy's or captive portal's page, a bare 502) as [`Error::Network`], to
/// retry later. `body` is the answer's body as received, already inflated.
pub fn interpret_answer(status: u16, body: Vec<u8>) -> Result<Vec<u8>> {
    if (200..300).contains(&status) {
        return Ok(body);
    }
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(refusal) => Err(Error::Rejected { status, body: refusal }),
        Err(_) => Err(Error::Network(format!("server answered HTTP {status} without a gridsync error"))),
    }
}

/// Describes a failed request with its causes ("connection refused", "timed
/// out"), without the URL. A server certificate this device does not trust
/// is [`Error::Certificate`]: retrying would not help.
fn network(e: reqwest::Error) -> Error {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut untrusted = None;
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        untrusted = untrusted.or_else(|| certificate_problem(c));
        cause = c.source();
    }
    match untrusted {
        Some(why) => Error::Certificate(why),
        None => Error::Network(text),
    }
}

/// What is wrong with the server's certificate, if `e` is rustls refusing
/// it (directly, or wrapped in the `io::Error`s the TLS stream reports:
/// `io::Error::source` skips the error it wraps, so they are opened here).
fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut tls = e.downcast_ref::<rustls::Error>();
    let mut io = e.downcast_ref::<std::io::Error>();
    // A few layers at most: each TLS and HTTP layer wraps once.
    for _ in 0..4 {
        let Some(inner) = io.and_then(std::io::Error::get_ref) else { break };
        tls = tls.or_else(|| inner.downcast_ref::<rustls::Error>());
        io = inner.downcast_ref::<std::io::Error>();
    }
    let tls = tls?;
    let rustls::Error::InvalidCertificate(problem) = tls else { return None };
    use rustls::CertificateError as C;
    let why = match problem {
        C::UnknownIssuer => "it is not signed by a CA this device trusts",
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is not issued for the address in the server URL"
        }
        C::Expired | C::ExpiredContext { .. } => "it has expired (or this device's clock is wrong)",
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "it is not valid yet (or this device's clock is wrong)"
        }
        _ => "it does not verify",
    };
    Some(format!("{why} ({tls})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untrusted_certificate_is_told_apart_from_a_network_failure() {
        let wrapped = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let why = certificate_problem(&wrapped).expect("a certificate problem");
        let twice = std::io::Error::other(wrapped);
        assert_eq!(certificate_problem(&twice).as_deref(), Some(why.as_str()));
        assert!(why.starts_with("it is not signed by a CA this device trusts"), "{why}");
        assert!(why.contains("UnknownIssuer"), "{why}");
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        assert_eq!(certificate_problem(&refused), None);
        let other_tls = rustls::Error::General("handshake".into());
        assert_eq!(certificate_problem(&other_tls), None);
    }

    #[test]
    fn a_server_url_is_an_absolute_http_or_https_url() {
        assert_eq!(check_server_url("http://10.1.2.3:8080").ok(), Some(false));
        assert_eq!(check_server_url("https://grid.example.cn/").ok(), Some(true));
        for bad in [
            "10.1.2.3:8080",
            "ftp://10.1.2.3",
            "http://",
            " http://10.1.2.3",
            "http://user:pw@10.1.2.3",
            "http://10.1.2.3/?x=1",
            "http://10.1.2.3/#top",
            "",
        ] {
            let err = check_server_url(bad).expect_err(bad);
            assert!(matches!(err, Error::ServerUrl(_)), "{bad}: {err}");
            assert!(err.to_string().starts_with("the server URL "), "{err}");
        }
    }
}
