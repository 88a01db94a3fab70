//! What a console page answers when a request fails: an HTML page in the
//! reader's language with the stable error code, or, when the session is
//! missing, expired or its user deactivated, a redirect to the login form;
//! when its user must first change a one-time password, a redirect to the
//! account page.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use gridsync_proto::ErrorCode;
use maud::html;

use super::i18n::{Lang, Texts};
use super::layout;
use super::session;
use crate::web::ApiError;

/// A failed console request.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No live session: back to the login form.
    Login,
    /// The session's password is one-time: to the account page to change it.
    PasswordChange,
    /// An error page.
    Page {
        /// The language to explain it in.
        lang: Lang,
        /// The HTTP status.
        status: StatusCode,
        /// The stable code shown to the reader (an [`ErrorCode`] name, or
        /// `csrf_token` for a forged or stale form).
        code: String,
        /// What the reader is told.
        message: String,
    },
}

impl Failure {
    /// The page for an API error, or the login redirect for a session's end.
    pub(crate) fn of(e: ApiError, lang: Lang) -> Failure {
        if matches!(e.code, ErrorCode::Unauthenticated | ErrorCode::UserInactive) {
            return Failure::Login;
        }
        if e.code == ErrorCode::PasswordChangeRequired {
            return Failure::PasswordChange;
        }
        let t = lang.texts();
        let message = explain(t, e.code).map_or(e.message.clone(), |m| format!("{m} ({})", e.message));
        Failure::Page { lang, status: e.status_code(), code: e.code.to_string(), message }
    }

    /// A form without its valid token.
    pub(crate) fn csrf(lang: Lang) -> Failure {
        Failure::Page {
            lang,
            status: StatusCode::FORBIDDEN,
            code: "csrf_token".to_owned(),
            message: lang.texts().err_csrf.to_owned(),
        }
    }

    /// A form or query that does not parse.
    pub(crate) fn invalid(lang: Lang, what: &str) -> Failure {
        Failure::Page {
            lang,
            status: StatusCode::BAD_REQUEST,
            code: ErrorCode::InvalidRequest.to_string(),
            message: format!("{} ({what})", lang.texts().err_invalid),
        }
    }
}

/// The reader's explanation of a code, where there is one.
fn explain(t: &Texts, code: ErrorCode) -> Option<&'static str> {
    Some(match code {
        ErrorCode::Forbidden | ErrorCode::OutOfScope => t.err_forbidden,
        ErrorCode::UnknownPlace => t.err_unknown_place,
        ErrorCode::RateLimited => t.err_rate_limited,
        ErrorCode::BadCredentials => t.err_bad_credentials,
        ErrorCode::NotFound => t.err_not_found,
        ErrorCode::Internal => t.err_internal,
        ErrorCode::Unavailable => t.err_unavailable,
        ErrorCode::UserInactive => t.err_inactive,
        ErrorCode::InvalidRequest | ErrorCode::InvalidField | ErrorCode::MissingField => t.err_invalid,
        _ => return None,
    })
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Login => f.write_str("log in first"),
            Failure::PasswordChange => f.write_str("change the one-time password first"),
            Failure::Page { code, .. } => f.write_str(code),
        }
    }
}

impl ResponseError for Failure {
    fn status_code(&self) -> StatusCode {
        match self {
            Failure::Login | Failure::PasswordChange => StatusCode::SEE_OTHER,
            Failure::Page { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Failure::Login => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/console/login"))
                .cookie(session::removal())
                .finish(),
            Failure::PasswordChange => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, super::pages::ACCOUNT_REQUIRED))
                .finish(),
            Failure::Page { lang, status, code, message } => {
                let t = lang.texts();
                let body = html! {
                    h1 { (t.error_title) }
                    p.error role="alert" { (message) }
                    p.muted { (t.error_code) ": " code.error-code { (code) } }
                    p { a href="/console/" { (t.back) } }
                };
                HttpResponse::build(*status)
                    .content_type("text/html; charset=utf-8")
                    .body(layout::bare(*lang, t.error_title, body).into_string())
            }
        }
    }
}

/// Turns a service or API result into a console page's.
pub(crate) trait OrPage<T> {
    /// The error as an error page in `lang` (or the login redirect).
    fn or_page(self, lang: Lang) -> Result<T, Failure>;
}

impl<T, E: Into<ApiError>> OrPage<T> for Result<T, E> {
    fn or_page(self, lang: Lang) -> Result<T, Failure> {
        self.map_err(|e| Failure::of(e.into(), lang))
    }
}
