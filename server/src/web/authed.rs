//! Bodies read only after their sender is known: the [`Authed`] extractor
//! checks who is calling first (a staff session, a session that may be
//! restricted to a password change, or anyone, for the login and
//! enrollment routes whose credentials are the body) and only then reads
//! the body, bounded by the route's [`BodyLimit`] and the body timeouts.
//! A request without a valid session is answered before a byte of its body
//! is read, so the admin routes' larger bodies (CSV imports) are never
//! buffered for strangers.
//!
//! Handlers take `Authed<Staff>` (or `Authed<RestrictedStaff>`,
//! `Authed<Anyone>`) in place of a `Staff` and a `web::Bytes`, and decode
//! the body with [`super::json::json_body`].

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use super::AppState;
use super::admin_api::{RestrictedStaff, Staff};
use super::body::{declared_length, read_body};
use super::error::ApiError;

/// The largest body a route reads, set with `app_data` on the route or its
/// scope; [`super::MAX_JSON_BYTES`] where none is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// Who is calling, decided from the request's head alone.
pub trait Identify: Sized + 'static {
    /// The caller of `req`, or the refusal to answer before the body is read.
    fn of(req: HttpRequest) -> Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;
}

/// Anyone: for the routes whose body is the credential (login, enrollment).
/// Their bodies are small ([`BodyLimit`] on the route) and rate-limited.
#[derive(Debug, Clone, Copy)]
pub struct Anyone;

impl Identify for Anyone {
    fn of(_: HttpRequest) -> Pin<Box<dyn Future<Output = Result<Self, ApiError>>>> {
        Box::pin(async { Ok(Anyone) })
    }
}

impl Identify for Staff {
    fn of(req: HttpRequest) -> Pin<Box<dyn Future<Output = Result<Self, ApiError>>>> {
        Box::pin(Staff::of(req, false))
    }
}

impl Identify for RestrictedStaff {
    fn of(req: HttpRequest) -> Pin<Box<dyn Future<Output = Result<Self, ApiError>>>> {
        Box::pin(async move { Staff::of(req, true).await.map(RestrictedStaff) })
    }
}

/// A caller and the body they sent, read after the caller was admitted.
#[derive(Debug)]
pub struct Authed<C> {
    /// Who.
    pub who: C,
    /// What they sent (empty when nothing was).
    pub body: web::Bytes,
}

/// What to do about a body over the limit.
const SMALLER_BODY: &str = "send a smaller body (split an import into several files)";

impl<C: Identify> FromRequest for Authed<C> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let who = C::of(req.clone()).await?;
            let timeouts =
                req.app_data::<web::Data<AppState>>().ok_or_else(ApiError::internal)?.body_timeouts;
            let max = req.app_data::<BodyLimit>().map_or(super::MAX_JSON_BYTES, |l| l.0);
            let body = read_body(&mut payload, declared_length(&req), max, timeouts)
                .await
                .map_err(|e| e.answer(max, SMALLER_BODY))?;
            Ok(Authed { who, body: body.into() })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use actix_web::test::TestRequest;
    use futures_util::{Stream, StreamExt, stream};
    use gridsync_proto::ErrorCode;

    use super::*;

    /// A caller nobody is.
    #[derive(Debug)]
    struct Stranger;

    impl Identify for Stranger {
        fn of(_: HttpRequest) -> Pin<Box<dyn Future<Output = Result<Self, ApiError>>>> {
            Box::pin(async { Err(ApiError::new(ErrorCode::Unauthenticated, "log in")) })
        }
    }

    #[actix_web::test]
    async fn a_refused_caller_is_answered_before_a_byte_of_the_body_is_read() {
        let polled = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&polled);
        let body = stream::iter(std::iter::repeat_n((), 4)).map(move |()| {
            seen.fetch_add(1, Ordering::SeqCst);
            Ok::<_, actix_web::error::PayloadError>(web::Bytes::from_static(&[b'x'; 1024]))
        });
        let (req, _) = TestRequest::post().insert_header(("content-length", "4096")).to_http_parts();
        let body: Pin<Box<dyn Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>>>> =
            Box::pin(body);
        let mut payload = Payload::from(body);
        let refused = Authed::<Stranger>::from_request(&req, &mut payload).await.expect_err("refused");
        assert_eq!(refused.code, ErrorCode::Unauthenticated);
        assert_eq!(polled.load(Ordering::SeqCst), 0, "the body was not touched");
    }
}
