//! How the store talks to the server. The default is [`HttpTransport`]
//! (reqwest, rustls with the ring provider); an app may bring its own
//! implementation of [`Transport`] (e.g. its platform's HTTP stack).

use std::time::Duration;

use gridsync_proto::ErrorBody;
use gridsync_proto::wire::{self, CONTENT_TYPE};

use crate::error::{Error, Result};

/// Sends one request body to a path of the server and returns the answer body.
pub trait Transport: Send + Sync {
    /// POSTs `body` (an `application/x-gridsync` envelope) to `path` (e.g.
    /// `/v1/sync/push`). Returns the body of a 200 answer; a refusal as
    /// [`Error::Rejected`]; anything else as [`Error::Network`].
    fn post(&self, path: &str, body: Vec<u8>) -> Result<Vec<u8>>;
}

/// The default transport over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpTransport {
    base: String,
    client: reqwest::blocking::Client,
}

impl HttpTransport {
    /// A transport to the server at `base_url` (e.g. `http://10.0.0.2:8080`).
    pub fn new(base_url: &str) -> Result<Self> {
        // One crypto provider throughout: ring. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("gridsync-client-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network(format!("cannot build HTTP client: {e}")))?;
        Ok(Self { base: base_url.trim_end_matches('/').to_owned(), client })
    }
}

impl Transport for HttpTransport {
    fn post(&self, path: &str, body: Vec<u8>) -> Result<Vec<u8>> {
        let mut request = self
            .client
            .post(format!("{}{}", self.base, path))
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE);
        // Rural links are slow: compress what is worth it (answers are
        // compressed by the server and inflated by reqwest).
        request = if body.len() >= wire::COMPRESS_MIN_BYTES {
            request.header(reqwest::header::CONTENT_ENCODING, "gzip").body(wire::gzip(&body))
        } else {
            request.body(body)
        };
        let response = request.send().map_err(network)?;
        let status = response.status();
        let bytes = response.bytes().map_err(network)?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(Error::Rejected { status: status.as_u16(), body }),
            Err(_) => Err(Error::Network(format!("server answered HTTP {status} without a gridsync error"))),
        }
    }
}

/// Describes a failed request with its causes ("connection refused", "timed
/// out"), without the URL.
fn network(e: reqwest::Error) -> Error {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    Error::Network(text)
}
