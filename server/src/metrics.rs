//! Prometheus metrics at `GET /metrics` (ADR 0031).
//!
//! The layers record through the `metrics` facade (names and labels in
//! [`gridsync_server_core::metrics`]); [`install`] puts the Prometheus
//! recorder of `metrics-exporter-prometheus` behind it once per process,
//! with no HTTP listener of its own: the route renders it. The gauges that
//! need a query (open conflicts, devices by last-sync age, the database's
//! size) are read at scrape time through the storage seam
//! ([`gridsync_server_core::Service::vitals`]), never on a sync's path.
//!
//! Who may read it ([`Access`]): with a `metrics_token` set, callers that
//! send `Authorization: Bearer TOKEN`; without one, only callers on a
//! loopback address that did not come through a proxy.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use gridsync_proto::ErrorCode;
use gridsync_server_core::metrics::{self as names, JOBS_BUCKETS, SECONDS_BUCKETS};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use ring::digest::{SHA256, digest};

use crate::web::{ApiError, AppState};

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Shortest `metrics_token` accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// How often histograms are folded into their buckets between scrapes, so
/// that unscraped samples do not pile up.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder as the process's `metrics` recorder
/// (once; later calls return the same handle) and starts its upkeep
/// thread. `None` when another recorder was installed first: the metrics
/// then go there and `/metrics` answers `unavailable`.
pub fn install() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(names::WRITER_GROUP_JOBS.into()), JOBS_BUCKETS))
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(handle) => {
                    names::describe();
                    let upkeep = handle.clone();
                    let spawned = std::thread::Builder::new().name("gridsync-metrics".into()).spawn(move || {
                        loop {
                            std::thread::sleep(UPKEEP_EVERY);
                            upkeep.run_upkeep();
                        }
                    });
                    if let Err(e) = spawned {
                        tracing::warn!(error = %e, "cannot start the metrics upkeep thread; scrapes still fold histograms");
                    }
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot install the metrics recorder; /metrics is unavailable");
                    None
                }
            }
        })
        .clone()
}

/// Who may read `/metrics`.
#[derive(Clone, PartialEq, Eq)]
pub enum Access {
    /// Callers that present this bearer token (kept as its SHA-256, compared
    /// digest to digest), from any address.
    Token([u8; 32]),
    /// Callers on a loopback address, with no `Forwarded` or
    /// `X-Forwarded-For` header and not a trusted proxy.
    Loopback,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Token(_) => f.write_str("Token(***)"),
            Access::Loopback => f.write_str("Loopback"),
        }
    }
}

impl Access {
    /// The access a `metrics_token` setting gives (none: loopback only).
    pub fn new(token: Option<&str>) -> Self {
        match token {
            Some(token) => Access::Token(sha256(token.as_bytes())),
            None => Access::Loopback,
        }
    }

    /// Admits the request or refuses it: `unauthenticated` without the
    /// right token, `forbidden` from an address that may not read metrics.
    pub fn check(&self, req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Result<(), ApiError> {
        match self {
            Access::Token(expected) => {
                let presented = req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                match presented {
                    Some(token) if sha256(token.trim().as_bytes()) == *expected => Ok(()),
                    _ => Err(ApiError::new(
                        ErrorCode::Unauthenticated,
                        "send the metrics token as Authorization: Bearer TOKEN",
                    )),
                }
            }
            Access::Loopback => {
                let peer = req.peer_addr().map(|a| a.ip());
                let forwarded = req.headers().contains_key("x-forwarded-for")
                    || req.headers().contains_key(header::FORWARDED);
                let local = peer.is_some_and(|ip| ip.is_loopback() && !trusted_proxies.contains(&ip));
                if local && !forwarded {
                    Ok(())
                } else {
                    Err(ApiError::new(
                        ErrorCode::Forbidden,
                        "metrics are served to this machine only; set metrics_token to scrape from elsewhere",
                    ))
                }
            }
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// `GET /metrics`: the scrape-time gauges read, then everything rendered
/// in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    summary = "Prometheus metrics",
    description = "Counters, histograms and gauges in the Prometheus text format, labelled by route \
                   pattern, stable error code, operation and outcome only. Readable with the \
                   `metrics_token` setting as a bearer token or, without one, from this machine only \
                   (a loopback peer that is not a trusted proxy and sent no forwarding header).",
    responses(
        (status = 200, description = "The exposition text.", content_type = "text/plain", body = String),
        (status = 401, response = crate::web::openapi::Refused),
        (status = 403, response = crate::web::openapi::Refused),
    )
)]
pub(crate) async fn scrape(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.metrics.check(&req, &state.trusted_proxies)?;
    let handle = install().ok_or_else(|| {
        ApiError::new(ErrorCode::Unavailable, "the metrics recorder is not installed in this process")
    })?;
    match state.service.vitals().await {
        Ok(vitals) => vitals.publish(),
        // The other metrics still go out; the gauges keep their last values.
        Err(e) => tracing::warn!(error = %e, "cannot read the scrape-time gauges"),
    }
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(handle.render()))
}

/// Records what the web layer knows of an answer: an error's stable code
/// by route ([`names::REFUSALS`]), and a sync request's time by outcome
/// ([`names::SYNC_SECONDS`]). `route` is the matched pattern, never the path.
pub(crate) fn observe<B>(route: &str, res: &ServiceResponse<B>, started: Instant) {
    let status = res.status();
    if let Some(error) = res.response().error().and_then(|e| e.as_error::<ApiError>()) {
        metrics::counter!(names::REFUSALS, "route" => route.to_owned(), "code" => error.code.as_str())
            .increment(1);
    }
    let op = match route {
        "/v1/sync/push" => "push",
        "/v1/sync/pull" => "pull",
        "/v1/attachments/status" => "attachment_status",
        "/v1/attachments/upload" => "attachment_upload",
        "/v1/attachments/fetch" => "attachment_fetch",
        _ => return,
    };
    let outcome = if status.is_success() {
        "ok"
    } else if status.is_server_error() {
        "failed"
    } else {
        "refused"
    };
    metrics::histogram!(names::SYNC_SECONDS, "op" => op, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn a_token_must_match_and_loopback_must_be_direct() {
        let token = Access::new(Some("a-long-enough-metrics-token"));
        let bearer =
            |v: &str| TestRequest::default().insert_header((header::AUTHORIZATION, v)).to_http_request();
        assert!(token.check(&bearer("Bearer a-long-enough-metrics-token"), &[]).is_ok());
        let refused = token.check(&bearer("Bearer a-long-enough-metrics-tokeN"), &[]).expect_err("wrong");
        assert_eq!(refused.code, ErrorCode::Unauthenticated);
        assert!(token.check(&TestRequest::default().to_http_request(), &[]).is_err(), "no header");
        assert!(!format!("{token:?}").contains("long-enough"), "Debug hides the token");

        let local: std::net::SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let remote: std::net::SocketAddr = "192.0.2.7:5000".parse().expect("addr");
        let open = Access::new(None);
        assert!(open.check(&TestRequest::default().peer_addr(local).to_http_request(), &[]).is_ok());
        let far = open.check(&TestRequest::default().peer_addr(remote).to_http_request(), &[]);
        assert_eq!(far.expect_err("remote").code, ErrorCode::Forbidden);
        let proxied = TestRequest::default().peer_addr(local).insert_header(("x-forwarded-for", "192.0.2.7"));
        assert!(open.check(&proxied.to_http_request(), &[]).is_err(), "through a local proxy");
        let trusted = [local.ip()];
        let direct = TestRequest::default().peer_addr(local).to_http_request();
        assert!(open.check(&direct, &trusted).is_err(), "a trusted proxy's own address");
    }
}
