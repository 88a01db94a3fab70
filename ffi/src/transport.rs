//! The app's own network stack, optionally: an app that wants its platform's
//! HTTP client (OkHttp with its proxy, cache and certificate settings;
//! `URLSession`) implements [`ForeignTransport`] and hands it to
//! `GridStore::create`/`open`. Without one, the store uses
//! `gridsync-client-core`'s reqwest transport (pinned to the township CA
//! when `pin_ca` was called).
//!
//! The request is sent unchanged: the body is already compressed and signed
//! over its exact bytes, so the transport must neither re-encode it nor add
//! a `content-encoding` of its own. It must return the answer's body
//! decoded (OkHttp and `URLSession` inflate a gzip answer themselves) and
//! must report any HTTP status as an [`HttpAnswer`], not as an error: what
//! a status and body mean is decided in one place for every transport,
//! [`gridsync_client_core::transport::interpret_answer`].

use std::sync::Arc;

use gridsync_client_core::transport::interpret_answer;
use gridsync_client_core::{Error as CoreError, Request, Transport};

/// One request header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Header {
    /// Its name, in lower case (`content-encoding`, `x-gridsync-device`, …).
    pub name: String,
    /// Its value.
    pub value: String,
}

/// The server's answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body, decoded (no `content-encoding` left on it).
    pub body: Vec<u8>,
}

/// Why a foreign transport could not get an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TransportError {
    /// No answer: no connection, DNS failure, timeout, TLS failure. The
    /// sync ends with `GridError::Network` and nothing is lost.
    #[error("{reason}")]
    Network {
        /// What went wrong ("timeout", "connection refused"); never the
        /// request's body.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TransportError {
    /// Any other exception thrown by the app's transport counts as a
    /// network failure: the sync stops, nothing is lost.
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TransportError::Network { reason: format!("the app's transport failed: {}", e.reason) }
    }
}

/// An HTTP stack supplied by the app (Kotlin, Swift, Python).
#[uniffi::export(foreign)]
pub trait ForeignTransport: Send + Sync {
    /// POSTs `body` to `url` (the store's server URL followed by the path,
    /// e.g. `http://10.1.2.3:8080/v1/sync/push`) with the content type and
    /// headers given, and returns the answer whatever its status. Blocking:
    /// it is called on the thread that called `sync` or `enroll`.
    fn post(
        &self,
        url: String,
        content_type: String,
        headers: Vec<Header>,
        body: Vec<u8>,
    ) -> Result<HttpAnswer, TransportError>;
}

/// A [`ForeignTransport`] as `gridsync-client-core` sees transports.
pub(crate) struct ForeignAdapter {
    inner: Arc<dyn ForeignTransport>,
    base: String,
}

impl std::fmt::Debug for ForeignAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignAdapter").field("base", &self.base).finish_non_exhaustive()
    }
}

impl ForeignAdapter {
    /// The app's transport to the server at `base_url`.
    pub(crate) fn new(inner: Arc<dyn ForeignTransport>, base_url: &str) -> Self {
        Self { inner, base: base_url.trim_end_matches('/').to_owned() }
    }
}

impl Transport for ForeignAdapter {
    fn send(&self, request: Request) -> gridsync_client_core::Result<Vec<u8>> {
        let headers = request
            .headers
            .into_iter()
            .map(|(name, value)| Header { name: name.to_owned(), value })
            .collect();
        let url = format!("{}{}", self.base, request.path);
        match self.inner.post(url, request.content_type.to_owned(), headers, request.body) {
            Ok(answer) => interpret_answer(answer.status, answer.body),
            Err(TransportError::Network { reason }) => Err(CoreError::Network(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use gridsync_proto::{ErrorBody, ErrorCode};

    use super::*;

    /// What a transport was asked to send: URL, content type, headers, body.
    type Sent = (String, String, Vec<Header>, Vec<u8>);

    /// Answers with a fixed status and body, remembering what it was sent.
    struct Canned {
        answer: Result<HttpAnswer, TransportError>,
        sent: Mutex<Vec<Sent>>,
    }

    impl ForeignTransport for Canned {
        fn post(
            &self,
            url: String,
            content_type: String,
            headers: Vec<Header>,
            body: Vec<u8>,
        ) -> Result<HttpAnswer, TransportError> {
            self.sent.lock().expect("not poisoned").push((url, content_type, headers, body));
            self.answer.clone()
        }
    }

    fn send(
        answer: Result<HttpAnswer, TransportError>,
    ) -> (gridsync_client_core::Result<Vec<u8>>, Arc<Canned>) {
        let canned = Arc::new(Canned { answer, sent: Mutex::new(Vec::new()) });
        let adapter = ForeignAdapter::new(canned.clone(), "http://10.1.2.3:8080/");
        let request = Request {
            path: "/v1/sync/push",
            content_type: "application/x-gridsync",
            headers: vec![("content-encoding", "gzip".into())],
            body: vec![1, 2, 3],
        };
        (adapter.send(request), canned)
    }

    #[test]
    fn the_request_goes_out_unchanged() {
        let (answer, canned) = send(Ok(HttpAnswer { status: 200, body: b"ok".to_vec() }));
        assert_eq!(answer.expect("2xx"), b"ok");
        let sent = canned.sent.lock().expect("not poisoned");
        let (url, content_type, headers, body) = &sent[0];
        assert_eq!(url, "http://10.1.2.3:8080/v1/sync/push");
        assert_eq!(content_type, "application/x-gridsync");
        assert_eq!(headers, &[Header { name: "content-encoding".into(), value: "gzip".into() }]);
        assert_eq!(body, &[1, 2, 3]);
    }

    #[test]
    fn answers_mean_what_they_mean_for_the_default_transport() {
        let refusal = ErrorBody::new(ErrorCode::DeviceRevoked, "this device was revoked");
        let body = serde_json::to_vec(&refusal).expect("json");
        let (answer, _) = send(Ok(HttpAnswer { status: 403, body }));
        match answer {
            Err(CoreError::Rejected { status: 403, body }) => assert_eq!(body, refusal),
            other => panic!("a refusal: {other:?}"),
        }
        // A captive portal's page is not a gridsync answer: retry later.
        let (answer, _) = send(Ok(HttpAnswer { status: 502, body: b"<html>".to_vec() }));
        assert!(matches!(answer, Err(CoreError::Network(_))), "{answer:?}");
        let (answer, _) = send(Err(TransportError::Network { reason: "timeout".into() }));
        assert!(matches!(answer, Err(CoreError::Network(r)) if r == "timeout"));
    }
}
