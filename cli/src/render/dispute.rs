//! A dispute's lifecycle, as printed by `gridsync dispute show`.

use std::fmt::Write as _;

use gridsync_proto::dispute::StepStatus;
use gridsync_proto::view::{LifecycleView, StepView};
use serde::Serialize;

use super::{clean, clean_multiline, indent, origin, plural, received, time};

/// `dispute show --json`: the record id and its lifecycle (the `lifecycle`
/// object of the record view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DisputeJson {
    /// The dispute's record id.
    pub(crate) id: String,
    /// Stage, owner, handler, cooperating departments, flag and steps.
    #[serde(flatten)]
    pub(crate) lifecycle: LifecycleView,
}

/// The name of a step's status.
fn status_name(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Applied => "applied",
        StepStatus::Overridden => "overridden",
        StepStatus::Waiting => "waiting",
    }
}

/// Who took a step: `author (role at place, unit U, device 1a2b3c4d)`.
fn step_author(step: &StepView) -> String {
    let mut at = step.by_role.clone();
    if let Some(place) = &step.by_place {
        let _ = write!(at, " at {}", clean(place));
    }
    if let Some(unit) = &step.by_unit {
        let _ = write!(at, ", unit {}", clean(unit));
    }
    format!("{} [{at}]", origin(&step.stamp))
}

/// A dispute's lifecycle for reading.
pub(crate) fn dispute_text(d: &DisputeJson) -> String {
    let l = &d.lifecycle;
    let mut out = format!("dispute {}\nstage        {}\nowner        {}\n", d.id, l.stage, clean(&l.owner));
    if let Some(handler) = &l.handler {
        let _ = writeln!(out, "handler      {}", clean(handler));
    }
    if !l.cooperating.is_empty() {
        let units: Vec<String> = l.cooperating.iter().map(|u| clean(u)).collect();
        let _ = writeln!(out, "cooperating  {}", units.join(", "));
    }
    if l.flagged {
        let _ = writeln!(
            out,
            "flagged      {} not acknowledged; acknowledge with: gridsync dispute step {} acknowledge",
            plural(l.unacknowledged.len() as u64, "overridden step", "overridden steps"),
            d.id
        );
    }
    if l.steps.is_empty() {
        out.push_str("steps: none\n");
        return out;
    }
    out.push_str("steps:\n");
    for s in &l.steps {
        let _ = writeln!(
            out,
            "  {}  {}  {}  by {}{}",
            time(s.stamp.time_ms),
            s.action,
            status_name(s.status),
            step_author(s),
            received(&s.stamp)
        );
        if s.status != StepStatus::Applied {
            let _ = writeln!(out, "    id: {}", s.id);
        }
        let details = [
            ("to", &s.to),
            ("unit", &s.unit),
            ("letter", &s.letter),
            ("letter_number", &s.letter_number),
            ("receipt", &s.receipt),
        ];
        for (name, value) in details {
            if let Some(value) = value {
                let _ = writeln!(out, "    {name}: {}", clean(value));
            }
        }
        if let Some(note) = &s.note {
            let _ = writeln!(out, "    note: {}", indent(&clean_multiline(note), 6));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use gridsync_proto::view::StampView;
    use serde_json::{Value as Json, json};

    use super::*;

    const DEVICE: &str = "1a2b3c4d-0000-4000-8000-000000000001";
    const MAY_FIRST: u64 = 1_714_552_200_000; // 2024-05-01T08:30:00Z

    fn step(action: &str, status: StepStatus, counter: u32) -> StepView {
        StepView {
            id: format!("{DEVICE}:{counter}"),
            action: action.to_owned(),
            status,
            parent: None,
            by_role: "worker".to_owned(),
            by_place: Some("530102001-01".to_owned()),
            by_unit: None,
            to: None,
            unit: None,
            letter: None,
            letter_number: None,
            receipt: None,
            note: None,
            stamp: StampView {
                device: DEVICE.to_owned(),
                author: "李".to_owned(),
                time_ms: MAY_FIRST,
                received_ms: Some(MAY_FIRST + 60_000),
                clock_suspect: false,
            },
        }
    }

    fn escalated() -> DisputeJson {
        let mut escalate = step("escalate", StepStatus::Applied, 4);
        escalate.to = Some("530102001".to_owned());
        escalate.note = Some("村级调解未果".to_owned());
        DisputeJson {
            id: "0190f3a2-7b1c-7d4e-8f00-123456789abc".to_owned(),
            lifecycle: LifecycleView {
                stage: "accepted".to_owned(),
                owner: "530102001".to_owned(),
                handler: None,
                cooperating: vec!["U-POLICE".to_owned()],
                flagged: true,
                unacknowledged: vec![format!("{DEVICE}:5")],
                steps: vec![escalate, step("resolve", StepStatus::Overridden, 5)],
            },
        }
    }

    #[test]
    fn a_lifecycle_reads_with_its_steps() {
        let expected = "\
dispute 0190f3a2-7b1c-7d4e-8f00-123456789abc
stage        accepted
owner        530102001
cooperating  U-POLICE
flagged      1 overridden step not acknowledged; acknowledge with: gridsync dispute step 0190f3a2-7b1c-7d4e-8f00-123456789abc acknowledge
steps:
  2024-05-01T08:30:00Z  escalate  applied  by 李 (device 1a2b3c4d) [worker at 530102001-01], received 2024-05-01T08:31:00Z
    to: 530102001
    note: 村级调解未果
  2024-05-01T08:30:00Z  resolve  overridden  by 李 (device 1a2b3c4d) [worker at 530102001-01], received 2024-05-01T08:31:00Z
    id: 1a2b3c4d-0000-4000-8000-000000000001:5
";
        assert_eq!(dispute_text(&escalated()), expected);
    }

    #[test]
    fn the_json_is_the_lifecycle_with_the_record_id() {
        let printed: Json = serde_json::to_value(escalated()).expect("encode");
        assert_eq!(printed["id"], "0190f3a2-7b1c-7d4e-8f00-123456789abc");
        assert_eq!(printed["stage"], "accepted");
        assert_eq!(printed["owner"], "530102001");
        assert_eq!(printed["handler"], Json::Null);
        assert_eq!(printed["cooperating"], json!(["U-POLICE"]));
        assert_eq!(printed["flagged"], true);
        let first = &printed["steps"][0];
        assert_eq!(first["action"], "escalate");
        assert_eq!(first["status"], "applied");
        assert_eq!(first["to"], "530102001");
        assert_eq!(first["received_ms"], MAY_FIRST + 60_000);
        assert_eq!(first["clock_suspect"], false);
        assert_eq!(printed["steps"][1]["status"], "overridden");
    }
}
