//! How a person enters a field's value by hand (a form, a prompt): the
//! field's type as the record rules define it, and the reading of typed
//! text into a [`Value`] of that type. Reading only shapes the value; the
//! rules ([`crate::check_group`]) still judge it whole (known places, the
//! writer's rights…).

use super::fields::Ty;
use super::kinds;
use crate::date::Date;
use crate::kind::RecordKind;
use crate::place::Level;
use crate::value::Value;

/// How a field's value is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldInput {
    /// Text of 1 to `max_chars` characters.
    Text {
        /// The most characters.
        max_chars: usize,
    },
    /// One of these names.
    Choice {
        /// The names allowed.
        options: &'static [&'static str],
    },
    /// A whole number from `min` to `max`.
    Int {
        /// The least.
        min: i64,
        /// The most.
        max: i64,
    },
    /// A day, `YYYY-MM-DD`.
    Date,
    /// A time in Unix milliseconds.
    Millis,
    /// A known place's code, of `level` if given.
    Place {
        /// The level the place must have, if any.
        level: Option<Level>,
    },
    /// Another record's id.
    Record,
    /// A user name.
    User,
    /// Lists, maps and positions: entered as JSON.
    Json,
}

/// How `field` of a `kind` record is entered, or `None` when it is not a
/// field of that kind (an unknown kind, a derived or an unknown field) or
/// it is fixed at creation and cannot be changed.
pub fn field_input(kind: RecordKind, field: &str) -> Option<FieldInput> {
    let spec = kinds::spec(kind)?.field(field)?;
    if spec.fixed {
        return None;
    }
    Some(match &spec.ty {
        Ty::Text(max) => FieldInput::Text { max_chars: *max },
        Ty::Enum(options) => FieldInput::Choice { options },
        Ty::Int(min, max) => FieldInput::Int { min: *min, max: *max },
        Ty::Date => FieldInput::Date,
        Ty::Millis => FieldInput::Millis,
        Ty::Place(level) => FieldInput::Place { level: *level },
        Ty::Record => FieldInput::Record,
        Ty::User => FieldInput::User,
        // Entry attributes only, never fields; as text if a kind ever has one.
        Ty::Sha256 | Ty::EntryRef => FieldInput::Text { max_chars: 100 },
        Ty::Gps | Ty::List(..) | Ty::Struct(_) => FieldInput::Json,
    })
}

impl FieldInput {
    /// Reads typed text (surrounding blanks ignored) as a value of this
    /// type. The error says what is expected and never repeats the text.
    pub fn read(&self, text: &str) -> Result<Value, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("enter a value".to_owned());
        }
        match self {
            FieldInput::Text { max_chars } if text.chars().count() > *max_chars => {
                Err(format!("must be 1 to {max_chars} characters"))
            }
            FieldInput::Choice { options } if !options.contains(&text) => {
                Err(format!("must be one of {}", options.join(", ")))
            }
            FieldInput::Int { min, max } => match text.parse::<i64>() {
                Ok(n) if (*min..=*max).contains(&n) => Ok(Value::Int(n)),
                _ => Err(format!("must be a whole number from {min} to {max}")),
            },
            FieldInput::Millis => text
                .parse::<i64>()
                .map(Value::Int)
                .map_err(|_| "must be a time in Unix milliseconds".to_owned()),
            FieldInput::Date => text
                .parse::<Date>()
                .map(|d| Value::Text(d.to_string()))
                .map_err(|_| "must be a date, YYYY-MM-DD".to_owned()),
            FieldInput::Json => serde_json::from_str::<serde_json::Value>(text)
                .map(|json| Value::from_json(&json))
                .map_err(|_| "must be JSON".to_owned()),
            FieldInput::Text { .. }
            | FieldInput::Choice { .. }
            | FieldInput::Place { .. }
            | FieldInput::Record
            | FieldInput::User => Ok(Value::Text(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispute_s_fields_are_entered_by_their_rule_type() {
        let kind = RecordKind::Dispute;
        assert_eq!(field_input(kind, "risk"), Some(FieldInput::Int { min: 1, max: 4 }));
        assert_eq!(field_input(kind, "due"), Some(FieldInput::Date));
        assert_eq!(field_input(kind, "category"), Some(FieldInput::Text { max_chars: 64 }));
        assert_eq!(field_input(kind, "parties"), Some(FieldInput::Json));
        assert_eq!(field_input(kind, "source"), None, "fixed at registration");
        assert_eq!(field_input(kind, "stage"), None, "derived from the steps");
        assert_eq!(field_input(RecordKind::Other(999), "risk"), None);
    }

    #[test]
    fn typed_text_is_read_as_its_type_and_errors_never_repeat_it() {
        let risk = FieldInput::Int { min: 1, max: 4 };
        assert_eq!(risk.read(" 3 "), Ok(Value::Int(3)));
        for bad in ["9", "three", "2.5", ""] {
            let why = risk.read(bad).expect_err("refused");
            assert!(bad.is_empty() || !why.contains(bad), "{why}");
        }
        assert_eq!(FieldInput::Date.read("2026-12-01"), Ok(Value::Text("2026-12-01".into())));
        assert!(FieldInput::Date.read("2026-13-01").is_err());
        assert!(FieldInput::Text { max_chars: 2 }.read("邻里纠纷").is_err());
        assert_eq!(FieldInput::Text { max_chars: 4 }.read("邻里纠纷"), Ok(Value::Text("邻里纠纷".into())));
        let choice = FieldInput::Choice { options: &["a", "b"] };
        assert!(choice.read("c").is_err() && choice.read("b").is_ok());
        assert_eq!(FieldInput::Json.read("[1]"), Ok(Value::List(vec![Value::Int(1)])));
        assert!(FieldInput::Json.read("[1").is_err());
    }
}
