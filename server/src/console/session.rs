//! Console sessions: the admin API's sessions ([`gridsync_server_core::Service::login`],
//! [`session_user`](gridsync_server_core::Service::session_user),
//! [`logout`](gridsync_server_core::Service::logout)), carried in a cookie
//! instead of a bearer header. The session lives as long as the service
//! says ([`gridsync_server_core::service::people::SESSION_MS`]); the cookie
//! is `HttpOnly; SameSite=Strict; Path=/console`, `Secure` when the request
//! came over TLS, and expires with the session.
//!
//! [`Admin`] is the extractor of every signed-in page: without a live
//! session (none, expired, logged out, or the user deactivated) the page
//! answers a redirect to the login form, and while the user's password is
//! one-time a redirect to the account page. [`Restricted`] is the account
//! page's and logout's: it takes such a session too. [`Posted`] is the
//! form of a signed-in page, read only after its session was checked.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::{FromRequest, HttpRequest, web};
use gridsync_server_core::audit::Event;
use gridsync_server_core::service::Caller;
use gridsync_server_core::service::people::SESSION_MS;
use gridsync_server_core::storage::User;

use super::csrf::{self, Purpose};
use super::failure::{Failure, OrPage};
use super::i18n::Lang;
use crate::web::AppState;

/// The cookie holding the session token.
pub(crate) const SESSION_COOKIE: &str = "gs_session";
/// Where every console cookie applies.
pub(crate) const COOKIE_PATH: &str = "/console";

/// Whether the request came over TLS (directly; a trusted proxy's
/// `X-Forwarded-Proto` is not consulted).
pub(crate) fn secure(req: &HttpRequest) -> bool {
    req.app_config().secure()
}

/// A console cookie: `HttpOnly; SameSite=Strict; Path=/console`, `Secure`
/// over TLS, living `max_age_s` seconds.
pub(crate) fn cookie(name: &'static str, value: String, max_age_s: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(Duration::seconds(max_age_s))
        .finish()
}

/// The session cookie for `token`.
pub(crate) fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    cookie(SESSION_COOKIE, token, (SESSION_MS / 1000) as i64, secure)
}

/// A cookie that removes the session cookie.
pub(crate) fn removal() -> Cookie<'static> {
    let mut gone = cookie(SESSION_COOKIE, String::new(), 0, false);
    gone.make_removal();
    gone
}

/// A signed-in staff member on a console page.
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    /// Who.
    pub(crate) user: User,
    /// The page's language.
    pub(crate) lang: Lang,
    token: String,
}

impl Admin {
    /// The staff member as the service's caller.
    pub(crate) fn caller(&self) -> Caller {
        Caller::Staff(self.user.clone())
    }

    /// The token every form of this session carries.
    pub(crate) fn csrf(&self) -> String {
        csrf::token(&self.token, Purpose::Session)
    }

    /// Refuses a form whose token is not this session's, and audits the
    /// refusal (`console.form`, outcome `csrf_token`, the form's path): a
    /// forged form shows in the audit log as a refused request does.
    pub(crate) async fn check_csrf(
        &self,
        state: &AppState,
        req: &HttpRequest,
        given: &str,
    ) -> Result<(), Failure> {
        if csrf::valid(&self.token, Purpose::Session, given) {
            return Ok(());
        }
        let event = Event::new(self.caller().audit_name(), "console.form", req.path(), "csrf_token");
        if let Err(e) = state.service.audit(event).await {
            tracing::error!(error = %e, "cannot audit a refused form");
        }
        Err(Failure::csrf(self.lang))
    }

    /// The session token, to end it.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

impl Admin {
    /// The signed-in staff member of `req`; with `restricted`, also one
    /// whose password is one-time.
    async fn of(req: HttpRequest, restricted: bool) -> Result<Admin, Failure> {
        let lang = Lang::of(&req);
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| Failure::of(crate::web::ApiError::internal(), lang))?;
        let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()).ok_or(Failure::Login)?;
        if token.is_empty() {
            return Err(Failure::Login);
        }
        let user = if restricted {
            state.service.restricted_session_user(&token).await
        } else {
            state.service.session_user(&token).await
        };
        Ok(Admin { user: user.or_page(lang)?, lang, token })
    }
}

impl FromRequest for Admin {
    type Error = Failure;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Failure>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(Admin::of(req.clone(), false))
    }
}

/// A signed-in staff member whose password may be one-time
/// ([`gridsync_server_core::storage::User::must_change_password`]): only
/// the account page (to change it) and logout take one.
#[derive(Debug, Clone)]
pub(crate) struct Restricted(pub(crate) Admin);

impl FromRequest for Restricted {
    type Error = Failure;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Failure>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Admin::of(req, true).await.map(Restricted) })
    }
}

/// A form posted by a signed-in staff member (`S`: [`Admin`] or
/// [`Restricted`]): the session is checked first and the form's body read
/// only after, so a request without a session is answered before its body
/// is read. The forms' size limit is the console's `FormConfig`.
#[derive(Debug)]
pub(crate) struct Posted<S, T> {
    /// Who posted it.
    pub(crate) who: S,
    /// What they posted.
    pub(crate) form: T,
}

impl<S, T> FromRequest for Posted<S, T>
where
    S: FromRequest<Error = Failure> + 'static,
    T: serde::de::DeserializeOwned + 'static,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let who = S::from_request(&req, &mut actix_web::dev::Payload::None).await?;
            let form = web::Form::<T>::from_request(&req, &mut payload).await?.into_inner();
            Ok(Posted { who, form })
        })
    }
}
