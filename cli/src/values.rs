//! Field values from the command line, httpie style: `KEY=TEXT` always sets
//! text; `KEY:=JSON` sets a typed value (number, bool, null, list, object).
//!
//! Errors name the argument's position and the field, never the value: the
//! value is record content.

use std::collections::HashSet;
use std::fmt;

use gridsync_proto::Value;

/// Why a field argument was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// The argument has no `=`.
    NoSeparator {
        /// 1-based position among the field arguments.
        position: usize,
    },
    /// The field name before `=` or `:=` is empty.
    EmptyKey {
        /// 1-based position among the field arguments.
        position: usize,
    },
    /// The value after `:=` (or given with `--json`) is not JSON.
    BadJson {
        /// The field, if known.
        field: String,
        /// The JSON parser's reason (positions only, never the input).
        reason: String,
    },
    /// The same field appears twice in one command.
    Duplicate {
        /// The field.
        field: String,
    },
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::NoSeparator { position } => {
                write!(f, "field argument {position} has no `=`: expected KEY=TEXT or KEY:=JSON")
            }
            ValueError::EmptyKey { position } => {
                write!(f, "field argument {position} has an empty field name: expected KEY=TEXT or KEY:=JSON")
            }
            ValueError::BadJson { field, reason } => write!(
                f,
                "the value for field {field:?} is not valid JSON ({reason}); to set text, use {field}=TEXT"
            ),
            ValueError::Duplicate { field } => write!(f, "field {field:?} is given more than once"),
        }
    }
}

impl std::error::Error for ValueError {}

/// Parses one `KEY=TEXT` or `KEY:=JSON` argument at 1-based `position`.
///
/// The first `=` separates the key; if the character before it is `:`, the
/// rest is JSON. So `a:=1` is the number 1 and `url=http://x?a=b` is text.
pub fn parse_assignment(arg: &str, position: usize) -> Result<(String, Value), ValueError> {
    let eq = arg.find('=').ok_or(ValueError::NoSeparator { position })?;
    let (head, rest) = (&arg[..eq], &arg[eq + 1..]);
    let (key, typed) = match head.strip_suffix(':') {
        Some(key) => (key, true),
        None => (head, false),
    };
    if key.is_empty() {
        return Err(ValueError::EmptyKey { position });
    }
    let value = parse_value(rest, typed, key)?;
    Ok((key.to_owned(), value))
}

/// Parses every field argument of one command; a field may appear only once.
pub fn parse_assignments(args: &[String]) -> Result<Vec<(String, Value)>, ValueError> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let (key, value) = parse_assignment(arg, i + 1)?;
        if !seen.insert(key.clone()) {
            return Err(ValueError::Duplicate { field: key });
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Parses a single value for `field`: as JSON if `json`, else as text.
pub fn parse_value(raw: &str, json: bool, field: &str) -> Result<Value, ValueError> {
    if !json {
        return Ok(Value::Text(raw.to_owned()));
    }
    serde_json::from_str::<serde_json::Value>(raw)
        .map(|j| Value::from_json(&j))
        .map_err(|e| ValueError::BadJson { field: field.to_owned(), reason: json_reason(&e) })
}

/// The parser's complaint without any of the input: category and position.
fn json_reason(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "unexpected end",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unsupported data",
        serde_json::error::Category::Io => "read error",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn one(arg: &str) -> Result<(String, Value), ValueError> {
        parse_assignment(arg, 1)
    }

    fn field(key: &str, value: Value) -> Result<(String, Value), ValueError> {
        Ok((key.to_owned(), value))
    }

    #[test]
    fn plain_assignments_are_text() {
        assert_eq!(one("category=邻里纠纷"), field("category", "邻里纠纷".into()));
        assert_eq!(one("count=3"), field("count", "3".into()));
        assert_eq!(one("empty="), field("empty", "".into()));
        // Only the first `=` separates.
        assert_eq!(one("url=http://x/?a=b"), field("url", "http://x/?a=b".into()));
        // A colon elsewhere in the key is part of it.
        assert_eq!(one("a:b=c"), field("a:b", "c".into()));
    }

    #[test]
    fn typed_assignments_are_json() {
        assert_eq!(one("count:=3"), field("count", Value::Int(3)));
        assert_eq!(one("lat:=25.04"), field("lat", Value::Float(25.04)));
        assert_eq!(one("urgent:=true"), field("urgent", Value::Bool(true)));
        assert_eq!(one("cleared:=null"), field("cleared", Value::Null));
        assert_eq!(one("name:=\"张三\""), field("name", "张三".into()));
        assert_eq!(
            one("gps:=[25.04, 102.7]"),
            field("gps", Value::List(vec![Value::Float(25.04), Value::Float(102.7)]))
        );
        let party = BTreeMap::from([("role".to_owned(), Value::from("applicant"))]);
        assert_eq!(one(r#"party:={"role":"applicant"}"#), field("party", Value::Map(party)));
    }

    #[test]
    fn malformed_arguments_are_refused_without_echoing_the_value() {
        assert_eq!(one("secret"), Err(ValueError::NoSeparator { position: 1 }));
        assert_eq!(parse_assignment("=x", 4), Err(ValueError::EmptyKey { position: 4 }));
        assert_eq!(one(":=1"), Err(ValueError::EmptyKey { position: 1 }));
        let err = one("count:=秘密 text").expect_err("not JSON");
        assert!(matches!(&err, ValueError::BadJson { field, .. } if field == "count"));
        let message = err.to_string();
        assert!(!message.contains("秘密"), "{message}");
        assert!(message.contains("count=TEXT"), "{message}");
        assert!(matches!(one("n:=[1,"), Err(ValueError::BadJson { .. })));
        assert!(!ValueError::NoSeparator { position: 2 }.to_string().contains("secret"));
    }

    #[test]
    fn a_field_may_appear_once_per_command() {
        let args = vec!["a=1".to_owned(), "b:=2".to_owned()];
        assert_eq!(
            parse_assignments(&args),
            Ok(vec![("a".to_owned(), "1".into()), ("b".to_owned(), Value::Int(2))])
        );
        let twice = vec!["a=1".to_owned(), "a:=2".to_owned()];
        assert_eq!(parse_assignments(&twice), Err(ValueError::Duplicate { field: "a".to_owned() }));
        let bad = vec!["a=1".to_owned(), "oops".to_owned()];
        assert_eq!(parse_assignments(&bad), Err(ValueError::NoSeparator { position: 2 }));
    }

    #[test]
    fn single_values_for_resolve() {
        assert_eq!(parse_value("-3", false, "n"), Ok("-3".into()));
        assert_eq!(parse_value("-3", true, "n"), Ok(Value::Int(-3)));
        assert!(parse_value("nope", true, "n").is_err());
    }
}
