//! OpenAPI schemas (`utoipa`) for the proto types whose serde form is
//! written by hand: error codes, dates and device ids travel as strings.
//! Built only with the `openapi` feature (the server's; handsets build
//! without it). The derived schemas sit on the types themselves; see ADR
//! 0029.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};
use utoipa::{PartialSchema, ToSchema};

use crate::{ActorId, Date, ErrorCode};

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(
                "A stable, machine-readable error code: its meaning never changes once released. \
                 A client reads a code it does not know as `unknown`.",
            ))
            .into()
    }
}

impl ToSchema for ErrorCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

impl PartialSchema for Date {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .description(Some("A civil date, `YYYY-MM-DD`."))
            .examples(["2026-12-01"])
            .into()
    }
}

impl ToSchema for Date {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Date")
    }
}

impl PartialSchema for ActorId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("uuid".to_owned())))
            .description(Some("A device's id (a UUID chosen by the device at enrollment)."))
            .into()
    }
}

impl ToSchema for ActorId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ActorId")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_is_listed_by_its_wire_name() {
        let schema = serde_json::to_value(ErrorCode::schema()).expect("json");
        let names = schema["enum"].as_array().expect("an enum");
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert!(names.contains(&serde_json::json!(code.as_str())), "{code}");
        }
    }
}
