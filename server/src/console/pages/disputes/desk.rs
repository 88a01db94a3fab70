//! The desk's forms on a dispute's page and the writes they post: keep one
//! competing value of a field, enter a new value of the field's type, or
//! take a lifecycle step (accept, escalate to a chosen place, transfer with
//! its letter number, close).
//!
//! A page shows only the forms the service offers its reader
//! ([`DeskOffer`]: the role, the place and the stage as the service will
//! judge them), yet every write is judged again by the service, which
//! refuses a forged one with its code. Every write names what the page
//! showed (`seen`, `after`), so a dispute that moved on meanwhile is
//! refused, never overwritten.

use actix_web::{HttpRequest, HttpResponse, web};
use gridsync_proto::rules::{FieldInput, field_input};
use gridsync_proto::{Action, Dot, ErrorCode, Place, RecordKind, Unit};
use gridsync_server_core::service::disputes::{
    Choice, DeskOffer, DeskStep, DisputeDetail, FieldConflict, ResolveConflict,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::super::super::failure::{Failure, OrPage};
use super::super::super::i18n::Texts;
use super::super::super::layout;
use super::super::super::session::{Admin, Posted};
use super::super::{place_name, see_other};
use super::filled;
use crate::web::disputes_api::{parse_dot, parse_id};
use crate::web::{ApiError, AppState};

/// Longest text typed in a one-line input; longer fields get a text area.
const ONE_LINE: usize = 200;

/// The forms of the steps the desk offers the reader, or why there are none.
pub(super) fn step_forms(admin: &Admin, places: &[Place], units: &[Unit], detail: &DisputeDetail) -> Markup {
    let t = admin.lang.texts();
    let offer: &DeskOffer = &detail.desk;
    html! {
        @if offer.steps.is_empty() {
            p.muted id="no-steps" { (t.no_steps) }
        } @else {
            div.steps id="steps" {
                @for action in &offer.steps {
                    @match action {
                        Action::Escalate => {
                            (step_form(admin, detail, *action, escalate_fields(t, places, offer)))
                        }
                        Action::Transfer => {
                            (step_form(admin, detail, *action, transfer_fields(t, units)))
                        }
                        _ => {
                            (step_form(admin, detail, *action, html! {}))
                        }
                    }
                }
            }
        }
    }
}

/// The escalation's target: one of the places the rules let it go to.
fn escalate_fields(t: &Texts, places: &[Place], offer: &DeskOffer) -> Markup {
    html! {
        label { (t.escalate_to) select name="to" required {
            @for code in &offer.escalate_to {
                option value=(code) { (place_name(places, code)) " (" (code) ")" }
            }
        } }
    }
}

/// A transfer's department and letter number.
fn transfer_fields(t: &Texts, units: &[Unit]) -> Markup {
    html! {
        label { (t.unit) select name="unit" required {
            @for u in units { option value=(u.code) { (u.name) " (" (u.code) ")" } }
        } }
        label { (t.letter_number) input name="letter_number" required maxlength="64"; }
    }
}

/// One step's form: its own fields, a note, the dispute's head.
fn step_form(admin: &Admin, detail: &DisputeDetail, action: Action, extra: Markup) -> Markup {
    let (lang, t) = (admin.lang, admin.lang.texts());
    html! {
        form.card.step id={ "step-" (action.name()) } method="post"
            action={ "/console/disputes/" (detail.line.id) "/steps" } {
            (layout::csrf_field(admin))
            input type="hidden" name="action" value=(action.name());
            @if let Some(head) = &detail.head { input type="hidden" name="after" value=(head); }
            (extra)
            label { (t.note) input name="note" maxlength="500"; }
            button type="submit" { (lang.action(action.name())) }
        }
    }
}

/// The ids of a conflict's candidates, as the forms send them.
fn seen(conflict: &FieldConflict) -> String {
    conflict.candidates.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(",")
}

/// The form that keeps candidate `pick` of `conflict`.
pub(super) fn pick_form(admin: &Admin, id: &str, conflict: &FieldConflict, pick: &str) -> Markup {
    let t = admin.lang.texts();
    html! {
        form.pick method="post" action={ "/console/disputes/" (id) "/resolve" } {
            (layout::csrf_field(admin))
            input type="hidden" name="field" value=(conflict.field);
            input type="hidden" name="seen" value=(seen(conflict));
            input type="hidden" name="pick" value=(pick);
            button type="submit" { (t.pick_value) }
        }
    }
}

/// The form that settles `conflict` with a new value, its input typed as
/// the record rules type the field; none for a field that cannot change.
pub(super) fn new_value_form(admin: &Admin, id: &str, conflict: &FieldConflict) -> Markup {
    let t = admin.lang.texts();
    let Some(input) = field_input(RecordKind::Dispute, &conflict.field) else { return html! {} };
    html! {
        form.card.new-value method="post" action={ "/console/disputes/" (id) "/resolve" }
            data-input=(input_kind(&input)) {
            (layout::csrf_field(admin))
            input type="hidden" name="field" value=(conflict.field);
            input type="hidden" name="seen" value=(seen(conflict));
            label { (t.new_value) " " (typed_input(t, &input)) }
            button type="submit" { (t.use_new_value) }
        }
    }
}

/// The input's kind, for tests and styles.
fn input_kind(input: &FieldInput) -> &'static str {
    match input {
        FieldInput::Text { .. } => "text",
        FieldInput::Choice { .. } => "choice",
        FieldInput::Int { .. } => "int",
        FieldInput::Date => "date",
        FieldInput::Millis => "millis",
        FieldInput::Place { .. } => "place",
        FieldInput::Record => "record",
        FieldInput::User => "user",
        FieldInput::Json => "json",
    }
}

/// An input named `value` of the field's type.
fn typed_input(t: &Texts, input: &FieldInput) -> Markup {
    html! {
        @match input {
            FieldInput::Text { max_chars } if *max_chars > ONE_LINE => {
                textarea name="value" required maxlength=(max_chars) rows="3" {}
            }
            FieldInput::Text { max_chars } => {
                input name="value" required maxlength=(max_chars);
            }
            FieldInput::Choice { options } => {
                select name="value" required {
                    @for o in options.iter() { option value=(o) { (o) } }
                }
            }
            FieldInput::Int { min, max } => {
                input name="value" type="number" required step="1" min=(min) max=(max);
            }
            FieldInput::Millis => {
                input name="value" type="number" required step="1";
            }
            FieldInput::Date => {
                input name="value" type="date" required;
            }
            FieldInput::Place { .. } | FieldInput::Record | FieldInput::User => {
                input name="value" required maxlength="64";
            }
            FieldInput::Json => {
                textarea name="value" required rows="3" {}
                span.muted { " " (t.as_json) }
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ResolveForm {
    #[serde(default)]
    csrf: String,
    field: String,
    seen: String,
    pick: Option<String>,
    value: Option<String>,
}

/// A refusal of a new value, naming the field (a field of the rules; any
/// other text is not repeated) and never the value.
fn bad_value(field: &str, why: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, format!("{field}: {why}"))
}

impl ResolveForm {
    /// The service's request: keep `pick`, or take `value` read as the
    /// field's type, replacing the `seen` values.
    fn request(self) -> Result<ResolveConflict, ApiError> {
        let seen = self
            .seen
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| parse_dot("seen", s))
            .collect::<Result<Vec<Dot>, _>>()?;
        let choice = match (filled(self.pick.as_ref()), self.value) {
            (Some(pick), None) => Choice::Pick(parse_dot("pick", &pick)?),
            (None, Some(text)) => {
                let input = field_input(RecordKind::Dispute, &self.field).ok_or_else(|| {
                    bad_value("field", "names no field whose value can be entered at the desk")
                })?;
                Choice::Value(input.read(&text).map_err(|why| bad_value(&self.field, &why))?)
            }
            _ => {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "pick: give either pick (a competing value) or value (a new value)",
                ));
            }
        };
        Ok(ResolveConflict { field: self.field, seen, choice })
    }
}

/// `POST /console/disputes/{id}/resolve`: keep one candidate, or a new value.
pub(super) async fn resolve(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Posted { who: admin, form }: Posted<Admin, ResolveForm>,
) -> Result<HttpResponse, Failure> {
    admin.check_csrf(&state, &req, &form.csrf).await?;
    let lang = admin.lang;
    let id = parse_id(&id).or_page(lang)?;
    let request = form.request().or_page(lang)?;
    state.service.resolve_dispute_conflict(&admin.caller(), id, request).await.or_page(lang)?;
    Ok(see_other(&format!("/console/disputes/{id}?done=resolved")))
}

#[derive(Deserialize)]
pub(super) struct StepForm {
    #[serde(default)]
    csrf: String,
    action: String,
    after: Option<String>,
    to: Option<String>,
    unit: Option<String>,
    letter_number: Option<String>,
    note: Option<String>,
}

impl StepForm {
    /// The service's step.
    fn step(self) -> Result<DeskStep, ApiError> {
        let action: Action = self
            .action
            .parse()
            .map_err(|e: String| ApiError::new(ErrorCode::InvalidRequest, format!("action: {e}")))?;
        let after = filled(self.after.as_ref()).map(|a| parse_dot("after", &a)).transpose()?;
        Ok(DeskStep {
            action,
            after,
            to: filled(self.to.as_ref()),
            unit: filled(self.unit.as_ref()),
            letter_number: filled(self.letter_number.as_ref()),
            note: filled(self.note.as_ref()),
        })
    }
}

/// `POST /console/disputes/{id}/steps`: take a lifecycle step.
pub(super) async fn step(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Posted { who: admin, form }: Posted<Admin, StepForm>,
) -> Result<HttpResponse, Failure> {
    admin.check_csrf(&state, &req, &form.csrf).await?;
    let lang = admin.lang;
    let id = parse_id(&id).or_page(lang)?;
    let step = form.step().or_page(lang)?;
    state.service.take_dispute_step(&admin.caller(), id, step).await.or_page(lang)?;
    Ok(see_other(&format!("/console/disputes/{id}?done=step")))
}

#[cfg(test)]
mod tests {
    use gridsync_proto::Value;

    use super::*;

    const DOT: &str = "0190f3a2-7b1c-4d4e-8f00-123456789abc:2";

    fn form(field: &str, pick: Option<&str>, value: Option<&str>) -> ResolveForm {
        ResolveForm {
            csrf: String::new(),
            field: field.into(),
            seen: format!("{DOT},{DOT}"),
            pick: pick.map(Into::into),
            value: value.map(Into::into),
        }
    }

    #[test]
    fn resolve_forms_name_the_seen_values_and_one_choice() {
        let request = form("risk", Some(DOT), None).request().expect("a pick");
        assert_eq!(request.seen.len(), 2);
        assert!(matches!(request.choice, Choice::Pick(_)));
        let bad = ResolveForm { seen: "nope".into(), ..form("risk", Some(DOT), None) };
        assert!(bad.request().is_err());
        assert!(form("risk", Some(DOT), Some("3")).request().is_err(), "not both");
        assert!(form("risk", None, None).request().is_err(), "not neither");
    }

    #[test]
    fn a_new_value_is_read_as_the_field_s_type_and_a_bad_one_names_the_field() {
        let risk = form("risk", None, Some(" 3 ")).request().expect("a value");
        assert_eq!(risk.choice, Choice::Value(Value::Int(3)));
        let due = form("due", None, Some("2026-12-31")).request().expect("a date");
        assert_eq!(due.choice, Choice::Value(Value::Text("2026-12-31".into())));
        for (field, text) in [("risk", "five"), ("risk", "9"), ("due", "31/12/2026"), ("category", "")] {
            let e = form(field, None, Some(text)).request().expect_err("refused");
            assert_eq!(e.code, ErrorCode::InvalidField, "{field}={text}");
            assert!(e.message.starts_with(&format!("{field}: ")), "{}", e.message);
            assert!(text.is_empty() || !e.message.contains(text), "the value is not repeated: {}", e.message);
        }
        let fixed = form("source", None, Some("hotline")).request().expect_err("fixed");
        assert_eq!((fixed.code, fixed.message.starts_with("field: ")), (ErrorCode::InvalidField, true));
    }
}
