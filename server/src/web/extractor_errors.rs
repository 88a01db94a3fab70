//! The errors of actix's own extractors (`web::Query`, `web::Path`) as
//! the JSON [`gridsync_proto::ErrorBody`] with a stable code, instead of
//! actix's plain text (`Query deserialize error: …`): a client reads every
//! refusal the same way. The message names what is wrong, never echoes the
//! request.

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::{HttpRequest, web};
use gridsync_proto::ErrorCode;

use super::ApiError;

/// A query string that does not fit the route's parameters: `invalid_request`.
pub(super) fn query() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _: &HttpRequest| {
        let detail = match &err {
            QueryPayloadError::Deserialize(e) => field_problem(&e.to_string()),
            _ => "the query string cannot be read".to_owned(),
        };
        ApiError::new(ErrorCode::InvalidRequest, format!("query: {detail}")).into()
    })
}

/// A path segment that does not fit the route: `not_found`.
pub(super) fn path() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_: PathError, _: &HttpRequest| {
        ApiError::new(ErrorCode::NotFound, "no such resource").into()
    })
}

/// serde's message without the offending value: the parameter it names
/// (`missing field `place``, `invalid digit found in string`), cut short.
fn field_problem(serde_message: &str) -> String {
    // serde_urlencoded's messages name the field or the type expected and,
    // for some, quote the value sent: keep only what precedes a quote
    // other than the field name's backticks.
    let text = serde_message.split(['"', '\'']).next().unwrap_or_default().trim();
    let text: String = text.chars().take(120).collect();
    if text.is_empty() { "a parameter is missing or not of its type".to_owned() } else { text }
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;
    use actix_web::{App, HttpResponse, test};
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
        let app = test::init_service(App::new().app_data(query()).route("/p", web::get().to(page))).await;
        for uri in ["/p?after=not-a-number", "/p", "/p?after=-1"] {
            let response = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
            let body: ErrorBody = test::read_body_json(response).await;
            assert_eq!(body.code, ErrorCode::InvalidRequest, "{uri}");
            assert!(body.message.starts_with("query: "), "{uri}: {}", body.message);
            assert!(!body.message.contains("not-a-number"), "the value is not echoed: {}", body.message);
        }
    }
}
