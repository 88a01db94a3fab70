//! The errors actix answers on its own, as the JSON
//! [`gridsync_proto::ErrorBody`] with a stable code instead of actix's
//! plain text (`Query deserialize error: …`, `A payload reached size
//! limit.`): a client reads every refusal of the API the same way. The
//! message names what is wrong, never echoes the request.
//!
//! `web::Query` and `web::Path` take error handlers ([`query`], [`path`]);
//! the body extractors (`web::Bytes`) do not, so [`json_errors`] rewrites
//! any other error answer of the API that is not JSON.

use actix_web::dev::ServiceResponse;
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpRequest, HttpResponse, web};
use gridsync_proto::{ErrorBody, ErrorCode};

use super::ApiError;

/// Rewrites an error answer of the API (`/v1/...`, `/health`) whose body
/// is not JSON into the JSON error body, its code chosen by the status;
/// wrap the app in it. The console's pages (HTML) are left as they are.
pub fn json_errors<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let path = res.request().path();
        let api = path.starts_with("/v1/") || path == "/health";
        let json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !api || json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let (code, message) = of_status(status);
        let body = ErrorBody::new(code, message);
        let (req, _) = res.into_parts();
        let answer = HttpResponse::build(status).json(body);
        Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, answer).map_into_right_body()))
    })
}

/// The code and message of an error status that actix answered itself
/// (the status is kept).
fn of_status(status: StatusCode) -> (ErrorCode, &'static str) {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "the request body is over the limit"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            (ErrorCode::UnsupportedMediaType, "the body's media type is not taken")
        }
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => {
            (ErrorCode::MethodNotAllowed, "this endpoint does not take that method")
        }
        s if s.is_server_error() => {
            (ErrorCode::Internal, "the server failed; nothing of the request was applied")
        }
        _ => (ErrorCode::Malformed, "the request cannot be read"),
    }
}

/// A query string that does not fit the route's parameters: `invalid_request`.
pub(super) fn query() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _: &HttpRequest| {
        let (detail, field) = match &err {
            QueryPayloadError::Deserialize(e) => {
                let message = e.to_string();
                (field_problem(&message), named_field(&message))
            }
            _ => ("the query string cannot be read".to_owned(), None),
        };
        let error = ApiError::new(ErrorCode::InvalidRequest, format!("query: {detail}"));
        match field {
            Some(field) => error.field(field),
            None => error,
        }
        .into()
    })
}

/// A path segment that does not fit the route: `not_found`.
pub(super) fn path() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_: PathError, _: &HttpRequest| {
        ApiError::new(ErrorCode::NotFound, "no such resource").into()
    })
}

/// The parameter a missing- or duplicate-field message names.
fn named_field(serde_message: &str) -> Option<String> {
    ["missing field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| serde_message.strip_prefix(prefix))
        .and_then(|rest| rest.strip_suffix('`'))
        .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_owned)
}

/// What serde found wrong, when its message cannot carry what was sent: a
/// missing or repeated field (the name is the route's own) or a number
/// that does not parse. Any other message (an unknown variant, an invalid
/// type) may quote the value, which could be personal: a fixed text then.
fn field_problem(serde_message: &str) -> String {
    const NUMBERS: [&str; 4] = [
        "invalid digit found in string",
        "number too large to fit in target type",
        "number too small to fit in target type",
        "cannot parse integer from empty string",
    ];
    let names_a_field = |prefix: &str| {
        serde_message.strip_prefix(prefix).is_some_and(|rest| {
            rest.starts_with('`')
                && rest.ends_with('`')
                && rest[1..rest.len() - 1].chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    if names_a_field("missing field ")
        || names_a_field("duplicate field ")
        || NUMBERS.contains(&serde_message)
    {
        serde_message.to_owned()
    } else {
        "a parameter is not of its type".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;
    use actix_web::test as actix_test;
    use actix_web::{App, HttpResponse};
    use gridsync_proto::ErrorBody;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Page {
        #[allow(dead_code)]
        after: u64,
    }

    async fn page(_: web::Query<Page>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    use super::*;

    #[actix_web::test]
    async fn a_bad_query_is_a_json_refusal_that_names_the_parameter() {
        let app =
            actix_test::init_service(App::new().app_data(query()).route("/p", web::get().to(page))).await;
        for uri in ["/p?after=not-a-number", "/p", "/p?after=-1", "/p?after=1&after=2"] {
            let response =
                actix_test::call_service(&app, actix_test::TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
            let body: ErrorBody = actix_test::read_body_json(response).await;
            assert_eq!(body.code, ErrorCode::InvalidRequest, "{uri}");
            assert!(body.message.starts_with("query: "), "{uri}: {}", body.message);
            assert!(!body.message.contains("not-a-number"), "the value is not echoed: {}", body.message);
        }
    }

    #[test]
    fn only_messages_that_cannot_quote_the_value_pass_through() {
        assert_eq!(field_problem("missing field `place`"), "missing field `place`");
        assert_eq!(field_problem("invalid digit found in string"), "invalid digit found in string");
        for leaky in [
            "unknown variant `王小明`, expected `a` or `b`",
            "invalid type: string \"110101199001011234\", expected u64",
            "missing field `a b`",
        ] {
            assert_eq!(field_problem(leaky), "a parameter is not of its type", "{leaky}");
        }
    }
}
