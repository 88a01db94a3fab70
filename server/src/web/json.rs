//! JSON request bodies of the admin API. A body that does not fit its
//! type is refused naming the member at fault, never repeating what was
//! sent (ADR 0032).

use gridsync_proto::ErrorCode;
use serde::Deserialize;

use super::error::ApiError;

/// Decodes a JSON body. A body that is not JSON is `malformed`; one that
/// is JSON of the wrong shape names the member at fault in `field` (a path
/// such as `scope` or `seen[1]`) with `missing_field`, `unknown_field` or
/// `invalid_field`, and says what it should be. The value sent is never
/// repeated.
pub(crate) fn json_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    let mut decoder = serde_json::Deserializer::from_slice(body);
    let value =
        serde_path_to_error::deserialize(&mut decoder).map_err(|e| json_refusal(e.path(), e.inner()))?;
    decoder.end().map_err(|e| not_json(&e))?;
    Ok(value)
}

/// The refusal of a JSON body that failed at `path` with `error`.
fn json_refusal(path: &serde_path_to_error::Path, error: &serde_json::Error) -> ApiError {
    let at = join(path, "");
    if error.is_syntax() && !at.is_empty() {
        // JSON that is not a value of the member's type where serde_json
        // reads it as syntax (an enum given a number, say).
        let message = format!(
            "`{at}` is not valid (line {}, column {}): not a value of its type",
            error.line(),
            error.column()
        );
        return ApiError::new(ErrorCode::InvalidField, message).field(at);
    }
    if !error.is_data() {
        return not_json(error);
    }
    // serde's message is `WHAT[: VALUE], expected SHAPE at line L column C`:
    // only the member's name and the expected shape (which come from the
    // type, never from the body) are kept.
    let text = error.to_string();
    let text = text.rsplit_once(" at line ").map_or(text.as_str(), |(t, _)| t);
    let expected = text.rsplit_once(", expected ").map(|(_, e)| e);
    let member = |prefix: &str| {
        text.strip_prefix(prefix).and_then(|rest| rest.split('`').next()).map(|name| join(path, name))
    };
    if let Some(field) = member("missing field `") {
        return ApiError::new(ErrorCode::MissingField, format!("`{field}` is required")).field(field);
    }
    if let Some(field) = member("unknown field `") {
        let message = match expected {
            Some(e) => format!("`{field}` is not taken here; expected {e}"),
            None => format!("`{field}` is not taken here"),
        };
        return ApiError::new(ErrorCode::UnknownField, message).field(field);
    }
    let field = at;
    if field.is_empty() {
        let message = match expected {
            Some(e) => format!("the request body is not the expected JSON: expected {e}"),
            None => "the request body is not the expected JSON".to_owned(),
        };
        return ApiError::new(ErrorCode::Malformed, message);
    }
    let message = match expected {
        Some(e) => format!("`{field}` is not valid: expected {e}"),
        None => format!("`{field}` is not valid"),
    };
    ApiError::new(ErrorCode::InvalidField, message).field(field)
}

/// The refusal of a body that is not JSON at all (or has more after it).
fn not_json(error: &serde_json::Error) -> ApiError {
    let message = if error.is_eof() && error.line() == 1 && error.column() == 0 {
        "the request body is empty; send a JSON object".to_owned()
    } else {
        format!(
            "the request body is not JSON (line {}, column {}); send one JSON object",
            error.line(),
            error.column()
        )
    };
    ApiError::new(ErrorCode::Malformed, message)
}

/// `path` and then `member` (if not empty), as `a.b[2].member`; a part
/// of the path serde could not name (a map key that did not parse) ends it.
fn join(path: &serde_path_to_error::Path, member: &str) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    let push = |out: &mut String, name: &str| {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(name);
    };
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => push(&mut out, key),
            Segment::Enum { variant } => push(&mut out, variant),
            Segment::Unknown => break,
        }
    }
    if !member.is_empty() {
        push(&mut out, member);
    }
    out
}
