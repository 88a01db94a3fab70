//! The Chinese words the ledgers print for stages, steps, sources and levels.

use gridsync_proto::{Action, Level, Stage};

/// A stage, as the ledgers name it.
pub fn stage(stage: Stage) -> &'static str {
    match stage {
        Stage::Found => "发现登记",
        Stage::Accepted => "已受理",
        Stage::Mediating => "调解中",
        Stage::Resolved => "已化解",
        Stage::FollowedUp => "已回访",
        Stage::Transferred => "转办待签收",
        Stage::Handling => "部门办理中",
        Stage::ClosureRequested => "申请办结",
        Stage::Closed => "已销号",
    }
}

/// A step, as the ledgers name it.
pub fn action(action: Action) -> &'static str {
    match action {
        Action::Accept => "受理",
        Action::Mediate => "调解",
        Action::Resolve => "化解",
        Action::FollowUp => "回访",
        Action::Close => "销号",
        Action::Escalate => "上报",
        Action::Transfer => "转办",
        Action::AcceptTransfer => "签收",
        Action::Return => "退回",
        Action::RequestClosure => "申请办结",
        Action::ConfirmClosure => "确认销号",
        Action::Assist => "协办函",
        Action::Remind => "提示函",
        Action::Acknowledge => "确认覆盖",
    }
}

/// Where a dispute came from (the `source` field), as the ledgers name it;
/// an unknown source prints as itself.
pub fn source(source: &str) -> &str {
    match source {
        "patrol" => "巡查发现",
        "visit" => "走访发现",
        "walk_in" => "群众来访",
        "hotline" => "热线",
        "assigned" => "上级交办",
        other => other,
    }
}

/// A party's role in a dispute.
pub fn party_role(role: &str) -> &str {
    match role {
        "applicant" => "申请人",
        "respondent" => "被申请人",
        "other" => "其他",
        other => other,
    }
}

/// A level of the hierarchy.
pub fn level(level: Level) -> &'static str {
    match level {
        Level::City => "市",
        Level::County => "县（区）",
        Level::Township => "乡镇（街道）",
        Level::Village => "村（社区）",
        Level::Grid => "网格",
    }
}

/// `是` or `否`.
pub fn yes_no(yes: bool) -> &'static str {
    if yes { "是" } else { "否" }
}
