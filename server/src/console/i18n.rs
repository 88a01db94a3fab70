//! The console's two languages: 简体中文 by default, English on request.
//!
//! A page's language is, in order: `?lang=zh|en` on the request (remembered
//! in the `gs_lang` cookie by [`super::headers`]), the `gs_lang` cookie, the
//! browser's `Accept-Language` when it prefers English to Chinese, else
//! Chinese. Every text a page shows is a field of [`Texts`], so a missing
//! translation does not compile.

use actix_web::HttpRequest;
use gridsync_proto::{Action, Role, Stage};
use gridsync_server_core::ledger::labels;

/// The cookie that remembers the chosen language.
pub(crate) const LANG_COOKIE: &str = "gs_lang";

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    /// 简体中文.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Reads `zh` or `en`.
    pub(crate) fn parse(text: &str) -> Option<Lang> {
        match text {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Its code, for `lang` attributes, the query and the cookie.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The short code of the query and the cookie.
    pub(crate) fn short(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The other language (the switch in the header offers it).
    pub(crate) fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The texts in this language.
    pub(crate) fn texts(self) -> &'static Texts {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }

    /// The language of a request (see the module's documentation).
    pub(crate) fn of(req: &HttpRequest) -> Lang {
        if let Some(lang) = query_lang(req.query_string()) {
            return lang;
        }
        if let Some(lang) = req.cookie(LANG_COOKIE).and_then(|c| Lang::parse(c.value())) {
            return lang;
        }
        let accept = req.headers().get("accept-language").and_then(|v| v.to_str().ok()).unwrap_or("");
        from_accept_language(accept)
    }

    /// A role's name.
    pub(crate) fn role(self, role: Role) -> &'static str {
        let zh = self == Lang::Zh;
        match role {
            Role::Administrator => {
                if zh {
                    "系统管理员"
                } else {
                    "Administrator"
                }
            }
            Role::CountyAdmin => {
                if zh {
                    "县区管理员"
                } else {
                    "County admin"
                }
            }
            Role::TownshipAdmin => {
                if zh {
                    "乡镇管理员"
                } else {
                    "Township admin"
                }
            }
            Role::Department => {
                if zh {
                    "职能部门"
                } else {
                    "Department"
                }
            }
            Role::Auditor => {
                if zh {
                    "审计员"
                } else {
                    "Auditor"
                }
            }
            Role::Worker => {
                if zh {
                    "网格员"
                } else {
                    "Grid worker"
                }
            }
        }
    }
}

impl Lang {
    /// A dispute's stage: the ledgers' Chinese word, or its name in English.
    pub(crate) fn stage(self, stage: Stage) -> String {
        match self {
            Lang::Zh => labels::stage(stage).to_owned(),
            Lang::En => stage.name().replace('_', " "),
        }
    }

    /// A step's action by its name (`accept`…), as [`Lang::stage`]; an
    /// unknown name is shown as it is.
    pub(crate) fn action(self, name: &str) -> String {
        match (self, name.parse::<Action>()) {
            (Lang::Zh, Ok(action)) => labels::action(action).to_owned(),
            _ => name.replace('_', " "),
        }
    }
}

/// `lang=…` in a query string, if it names a language.
pub(crate) fn query_lang(query: &str) -> Option<Lang> {
    query.split('&').find_map(|pair| pair.strip_prefix("lang=")).and_then(Lang::parse)
}

/// English when the browser ranks an English tag before any Chinese one.
fn from_accept_language(header: &str) -> Lang {
    for tag in header.split(',').map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase()) {
        if tag.starts_with("zh") {
            return Lang::Zh;
        }
        if tag.starts_with("en") {
            return Lang::En;
        }
    }
    Lang::Zh
}

/// Every text of the console, in one language.
#[derive(Debug)]
pub(crate) struct Texts {
    pub(crate) app: &'static str,
    pub(crate) switch_lang: &'static str,
    pub(crate) nav_today: &'static str,
    pub(crate) nav_ledgers: &'static str,
    pub(crate) nav_people: &'static str,
    pub(crate) nav_audit: &'static str,
    pub(crate) nav_account: &'static str,
    pub(crate) logout: &'static str,
    pub(crate) signed_in_as: &'static str,
    pub(crate) login_title: &'static str,
    pub(crate) user_name: &'static str,
    pub(crate) password: &'static str,
    pub(crate) login_button: &'static str,
    pub(crate) logged_out: &'static str,
    pub(crate) account_title: &'static str,
    pub(crate) current_password: &'static str,
    pub(crate) new_password: &'static str,
    pub(crate) repeat_password: &'static str,
    pub(crate) change_password: &'static str,
    pub(crate) password_changed: &'static str,
    /// The notice of a login with a one-time password.
    pub(crate) password_required: &'static str,
    pub(crate) passwords_differ: &'static str,
    pub(crate) password_rules: &'static str,
    pub(crate) error_title: &'static str,
    pub(crate) back: &'static str,
    pub(crate) error_code: &'static str,
    pub(crate) err_forbidden: &'static str,
    pub(crate) err_unknown_place: &'static str,
    pub(crate) err_invalid: &'static str,
    pub(crate) err_csrf: &'static str,
    pub(crate) err_internal: &'static str,
    pub(crate) err_unavailable: &'static str,
    pub(crate) err_rate_limited: &'static str,
    pub(crate) err_bad_credentials: &'static str,
    pub(crate) err_not_found: &'static str,
    pub(crate) err_inactive: &'static str,
    pub(crate) place: &'static str,
    pub(crate) show: &'static str,
    pub(crate) today_title: &'static str,
    pub(crate) date: &'static str,
    pub(crate) deadline: &'static str,
    pub(crate) grid: &'static str,
    pub(crate) worker: &'static str,
    pub(crate) status: &'static str,
    pub(crate) filed_at: &'static str,
    pub(crate) st_safe: &'static str,
    pub(crate) st_items: &'static str,
    pub(crate) st_late: &'static str,
    pub(crate) st_missing: &'static str,
    pub(crate) workers_total: &'static str,
    pub(crate) no_workers: &'static str,
    pub(crate) ledgers_title: &'static str,
    pub(crate) month: &'static str,
    pub(crate) table_heading: &'static str,
    pub(crate) register_heading: &'static str,
    pub(crate) export_xlsx: &'static str,
    pub(crate) export_csv_table: &'static str,
    pub(crate) export_csv_register: &'static str,
    pub(crate) chart_title: &'static str,
    pub(crate) resolution_rate: &'static str,
    pub(crate) reporting_rate: &'static str,
    pub(crate) rows_of: &'static str,
    pub(crate) newer: &'static str,
    pub(crate) older: &'static str,
    pub(crate) register_empty: &'static str,
    pub(crate) locked_note: &'static str,
    pub(crate) locked_by: &'static str,
    pub(crate) lock_month: &'static str,
    pub(crate) lock_hint: &'static str,
    pub(crate) corrections_title: &'static str,
    pub(crate) corrections_none: &'static str,
    pub(crate) view_corrections: &'static str,
    pub(crate) export_corrections: &'static str,
    pub(crate) people_title: &'static str,
    pub(crate) users_heading: &'static str,
    pub(crate) add_user_heading: &'static str,
    pub(crate) role: &'static str,
    pub(crate) scope: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) state: &'static str,
    pub(crate) active: &'static str,
    pub(crate) inactive: &'static str,
    pub(crate) actions: &'static str,
    pub(crate) deactivate: &'static str,
    pub(crate) add: &'static str,
    pub(crate) password_optional: &'static str,
    pub(crate) enroll: &'static str,
    pub(crate) enroll_heading: &'static str,
    pub(crate) enroll_code: &'static str,
    pub(crate) expires: &'static str,
    pub(crate) scan_hint: &'static str,
    pub(crate) devices_heading: &'static str,
    pub(crate) device: &'static str,
    pub(crate) user: &'static str,
    pub(crate) enrolled: &'static str,
    pub(crate) last_sync: &'static str,
    pub(crate) changes: &'static str,
    pub(crate) revoke: &'static str,
    pub(crate) wipe: &'static str,
    pub(crate) revoked: &'static str,
    pub(crate) wipe_ordered: &'static str,
    pub(crate) never: &'static str,
    pub(crate) done_user_added: &'static str,
    pub(crate) done_deactivated: &'static str,
    pub(crate) done_revoked: &'static str,
    pub(crate) audit_title: &'static str,
    pub(crate) chain_intact: &'static str,
    pub(crate) chain_broken: &'static str,
    pub(crate) head: &'static str,
    pub(crate) seq: &'static str,
    pub(crate) time: &'static str,
    pub(crate) actor: &'static str,
    pub(crate) action: &'static str,
    pub(crate) target: &'static str,
    pub(crate) outcome: &'static str,
    pub(crate) detail: &'static str,
    pub(crate) refusals_only: &'static str,
    pub(crate) filter: &'static str,
    pub(crate) first_page: &'static str,
    pub(crate) no_rows: &'static str,
    pub(crate) nav_disputes: &'static str,
    pub(crate) disputes_title: &'static str,
    pub(crate) dispute_title: &'static str,
    pub(crate) dispute_id: &'static str,
    pub(crate) stage: &'static str,
    pub(crate) category: &'static str,
    pub(crate) risk: &'static str,
    pub(crate) owner: &'static str,
    pub(crate) owner_optional: &'static str,
    pub(crate) handler: &'static str,
    pub(crate) registered: &'static str,
    pub(crate) due: &'static str,
    pub(crate) overdue: &'static str,
    pub(crate) in_conflict: &'static str,
    pub(crate) flagged: &'static str,
    pub(crate) any: &'static str,
    pub(crate) step_count: &'static str,
    pub(crate) disputes_matching: &'static str,
    pub(crate) this_page: &'static str,
    pub(crate) no_disputes: &'static str,
    pub(crate) fields_heading: &'static str,
    pub(crate) field: &'static str,
    pub(crate) value: &'static str,
    pub(crate) conflicts_heading: &'static str,
    pub(crate) no_conflicts: &'static str,
    pub(crate) written_by: &'static str,
    pub(crate) device_time: &'static str,
    pub(crate) received: &'static str,
    pub(crate) clock_suspect: &'static str,
    pub(crate) desk_value: &'static str,
    pub(crate) pick_value: &'static str,
    pub(crate) history_heading: &'static str,
    pub(crate) step_applied: &'static str,
    pub(crate) step_overridden: &'static str,
    pub(crate) step_waiting: &'static str,
    pub(crate) by: &'static str,
    pub(crate) letter_number: &'static str,
    pub(crate) note: &'static str,
    pub(crate) escalate_to: &'static str,
    pub(crate) mediations_heading: &'static str,
    pub(crate) no_mediations: &'static str,
    pub(crate) attachments_heading: &'static str,
    pub(crate) no_attachments: &'static str,
    pub(crate) not_uploaded: &'static str,
    pub(crate) download: &'static str,
    pub(crate) steps_heading: &'static str,
    pub(crate) no_steps: &'static str,
    pub(crate) done_resolved: &'static str,
    pub(crate) done_step: &'static str,
    pub(crate) new_value: &'static str,
    pub(crate) use_new_value: &'static str,
    pub(crate) as_json: &'static str,
    pub(crate) chain_covers: &'static str,
    pub(crate) chain_checked_now: &'static str,
    pub(crate) chain_remembered: &'static str,
    pub(crate) verify_whole_chain: &'static str,
}

/// 简体中文.
pub(crate) const ZH: Texts = Texts {
    app: "gridsync 管理台",
    switch_lang: "English",
    nav_today: "今日",
    nav_ledgers: "台帐",
    nav_people: "人员与设备",
    nav_audit: "审计日志",
    nav_account: "账户",
    logout: "退出",
    signed_in_as: "当前用户",
    login_title: "登录",
    user_name: "用户名",
    password: "密码",
    login_button: "登录",
    logged_out: "已退出登录。",
    account_title: "修改密码",
    current_password: "当前密码",
    new_password: "新密码",
    repeat_password: "再次输入新密码",
    change_password: "修改密码",
    password_changed: "密码已修改，您在其他地方的登录均已退出。",
    password_required: "您的密码是他人为您设置的一次性密码：请先设置您自己的新密码，然后才能使用其他页面。",
    passwords_differ: "两次输入的新密码不一致。",
    password_rules: "新密码至少 12 个字符。",
    error_title: "无法完成请求",
    back: "返回",
    error_code: "错误代码",
    err_forbidden: "您无权查看或操作此内容（超出您的管辖范围或角色权限）。",
    err_unknown_place: "没有这个地点。",
    err_invalid: "输入有误，请检查后重试。",
    err_csrf: "表单安全令牌缺失或错误，请刷新页面后重试。",
    err_internal: "服务器出错，请求未被执行。",
    err_unavailable: "数据库繁忙或不可用，请稍后重试。",
    err_rate_limited: "尝试次数过多，请稍后再试。",
    err_bad_credentials: "用户名或密码错误。",
    err_not_found: "页面不存在。",
    err_inactive: "该用户已停用。",
    place: "地点",
    show: "查看",
    today_title: "今日日报",
    date: "日期",
    deadline: "截止时间",
    grid: "网格",
    worker: "网格员",
    status: "状态",
    filed_at: "报送时间",
    st_safe: "平安",
    st_items: "有事上报",
    st_late: "迟报",
    st_missing: "未报",
    workers_total: "网格员",
    no_workers: "该地点下没有在岗网格员。",
    ledgers_title: "月度台帐",
    month: "月份",
    table_heading: "清单化管理统计表",
    register_heading: "排查调处分类台帐",
    export_xlsx: "导出 Excel（XLSX）",
    export_csv_table: "导出统计表 CSV",
    export_csv_register: "导出台帐 CSV",
    chart_title: "近 12 个月化解率与报送率",
    resolution_rate: "化解率",
    reporting_rate: "报送率",
    rows_of: "条，共",
    newer: "上一页",
    older: "下一页",
    register_empty: "本月台帐没有纠纷。",
    locked_note: "本月台帐已锁定",
    locked_by: "锁定人",
    lock_month: "锁定本月台帐",
    lock_hint: "锁定后，本地及下级各地本月台帐不再变化；锁定后到达或修改的数据列为更正，附在旁边。锁定不可撤销。",
    corrections_title: "锁定后更正",
    corrections_none: "锁定后没有更正。",
    view_corrections: "查看锁定后更正",
    export_corrections: "导出更正（XLSX）",
    people_title: "人员与设备",
    users_heading: "人员",
    add_user_heading: "新增人员",
    role: "角色",
    scope: "管辖地点",
    unit: "所属部门",
    state: "状态",
    active: "在岗",
    inactive: "已停用",
    actions: "操作",
    deactivate: "停用",
    add: "新增",
    password_optional: "登录密码（管理员角色需要）",
    enroll: "发放登记码",
    enroll_heading: "设备登记码",
    enroll_code: "登记码",
    expires: "有效期至",
    scan_hint: "请用 gridsync 手机端扫描二维码，或手工输入登记码。登记码只显示这一次。",
    devices_heading: "设备",
    device: "设备",
    user: "用户",
    enrolled: "登记时间",
    last_sync: "最近上传",
    changes: "变更数",
    revoke: "吊销",
    wipe: "同时远程擦除",
    revoked: "已吊销",
    wipe_ordered: "已下达擦除",
    never: "从未",
    done_user_added: "人员已新增。",
    done_deactivated: "人员已停用，其设备均已吊销。",
    done_revoked: "设备已吊销。",
    audit_title: "审计日志",
    chain_intact: "审计链完整",
    chain_broken: "审计链已损坏",
    head: "链头哈希",
    seq: "序号",
    time: "时间",
    actor: "操作者",
    action: "动作",
    target: "对象",
    outcome: "结果",
    detail: "详情",
    refusals_only: "只看被拒绝的请求",
    filter: "筛选",
    first_page: "最新",
    no_rows: "没有符合条件的记录。",
    nav_disputes: "纠纷",
    disputes_title: "纠纷",
    dispute_title: "纠纷详情",
    dispute_id: "编号",
    stage: "阶段",
    category: "类别",
    risk: "风险等级",
    owner: "属地",
    owner_optional: "仅限属地（可选，编码）",
    handler: "承办部门",
    registered: "登记时间",
    due: "期限",
    overdue: "已逾期",
    in_conflict: "有冲突",
    flagged: "有被覆盖的步骤",
    any: "全部",
    step_count: "步骤数",
    disputes_matching: "件符合条件",
    this_page: "本页",
    no_disputes: "没有符合条件的纠纷。",
    fields_heading: "登记内容",
    field: "字段",
    value: "值",
    conflicts_heading: "冲突",
    no_conflicts: "没有字段存在冲突。",
    written_by: "填写人",
    device_time: "设备时间",
    received: "服务器接收",
    clock_suspect: "设备时钟可疑",
    desk_value: "管理台填写",
    pick_value: "选用此值",
    history_heading: "处理经过",
    step_applied: "已生效",
    step_overridden: "被覆盖",
    step_waiting: "等待前序步骤",
    by: "经办",
    letter_number: "文号",
    note: "说明",
    escalate_to: "上报至",
    mediations_heading: "调解记录",
    no_mediations: "暂无调解记录。",
    attachments_heading: "附件",
    no_attachments: "暂无附件。",
    not_uploaded: "尚未上传（仍在拍摄的手机上）",
    download: "下载",
    steps_heading: "办理",
    no_steps: "当前没有您可在管理台办理的步骤。",
    done_resolved: "冲突已处理，各终端同步后采用所选值。",
    done_step: "步骤已办理。",
    new_value: "填写新值",
    use_new_value: "采用新值",
    as_json: "（JSON 格式）",
    chain_covers: "已校验至第",
    chain_checked_now: "本次新校验行数",
    chain_remembered: "此前已发现，重启或从头校验前一直显示",
    verify_whole_chain: "从头重新校验",
};

/// English.
pub(crate) const EN: Texts = Texts {
    app: "gridsync console",
    switch_lang: "中文",
    nav_today: "Today",
    nav_ledgers: "Ledgers",
    nav_people: "People and devices",
    nav_audit: "Audit log",
    nav_account: "Account",
    logout: "Log out",
    signed_in_as: "Signed in as",
    login_title: "Log in",
    user_name: "User name",
    password: "Password",
    login_button: "Log in",
    logged_out: "You have logged out.",
    account_title: "Change password",
    current_password: "Current password",
    new_password: "New password",
    repeat_password: "New password again",
    change_password: "Change password",
    password_changed: "Your password was changed, and your other sessions were ended.",
    password_required: "Your password was set for you and is one-time: choose your own before using any other page.",
    passwords_differ: "The two new passwords differ.",
    password_rules: "At least 12 characters.",
    error_title: "The request could not be done",
    back: "Back",
    error_code: "Error code",
    err_forbidden: "You may not see or do this (outside your area or your role).",
    err_unknown_place: "There is no such place.",
    err_invalid: "Something in the form is wrong; check it and try again.",
    err_csrf: "The form's security token is missing or wrong; reload the page and try again.",
    err_internal: "The server failed; nothing of the request was done.",
    err_unavailable: "The database is busy or unavailable; try again later.",
    err_rate_limited: "Too many attempts; try again later.",
    err_bad_credentials: "Wrong user name or password.",
    err_not_found: "There is no such page.",
    err_inactive: "This user is deactivated.",
    place: "Place",
    show: "Show",
    today_title: "Today's daily reports",
    date: "Date",
    deadline: "Deadline",
    grid: "Grid",
    worker: "Grid worker",
    status: "Status",
    filed_at: "Filed at",
    st_safe: "All safe",
    st_items: "Has items",
    st_late: "Late",
    st_missing: "Missing",
    workers_total: "Workers",
    no_workers: "No active grid worker under this place.",
    ledgers_title: "Monthly ledgers",
    month: "Month",
    table_heading: "Checklist statistics table",
    register_heading: "Dispute register",
    export_xlsx: "Export Excel (XLSX)",
    export_csv_table: "Table as CSV",
    export_csv_register: "Register as CSV",
    chart_title: "Resolution and reporting rates, last 12 months",
    resolution_rate: "Resolution rate",
    reporting_rate: "Reporting rate",
    rows_of: "of",
    newer: "Previous",
    older: "Next",
    register_empty: "No dispute on this month's books.",
    locked_note: "This month's ledgers are locked",
    locked_by: "locked by",
    lock_month: "Lock this month's ledgers",
    lock_hint: "Once locked, this month's ledgers of this place and every place below it no longer change; data arriving or edited later is listed as corrections beside them. A lock cannot be lifted.",
    corrections_title: "Corrections since the lock",
    corrections_none: "Nothing has changed since the lock.",
    view_corrections: "Corrections since the lock",
    export_corrections: "Export corrections (XLSX)",
    people_title: "People and devices",
    users_heading: "People",
    add_user_heading: "Add a person",
    role: "Role",
    scope: "Place",
    unit: "Department",
    state: "State",
    active: "Active",
    inactive: "Deactivated",
    actions: "Actions",
    deactivate: "Deactivate",
    add: "Add",
    password_optional: "Password (admin roles log in with it)",
    enroll: "Issue enrollment",
    enroll_heading: "Enrollment code",
    enroll_code: "Code",
    expires: "Valid until",
    scan_hint: "Scan the QR code with the gridsync app, or type the code. It is shown only this once.",
    devices_heading: "Devices",
    device: "Device",
    user: "User",
    enrolled: "Enrolled",
    last_sync: "Last upload",
    changes: "Changes",
    revoke: "Revoke",
    wipe: "and wipe it",
    revoked: "Revoked",
    wipe_ordered: "wipe ordered",
    never: "never",
    done_user_added: "The person was added.",
    done_deactivated: "The person was deactivated and their devices revoked.",
    done_revoked: "The device was revoked.",
    audit_title: "Audit log",
    chain_intact: "The audit chain is intact",
    chain_broken: "The audit chain is broken",
    head: "Head hash",
    seq: "No.",
    time: "Time",
    actor: "Actor",
    action: "Action",
    target: "Target",
    outcome: "Outcome",
    detail: "Detail",
    refusals_only: "Refusals only",
    filter: "Filter",
    first_page: "Newest",
    no_rows: "No row matches.",
    nav_disputes: "Disputes",
    disputes_title: "Disputes",
    dispute_title: "Dispute",
    dispute_id: "Id",
    stage: "Stage",
    category: "Category",
    risk: "Risk",
    owner: "Owner",
    owner_optional: "Owner only (optional, code)",
    handler: "Handling department",
    registered: "Registered",
    due: "Due",
    overdue: "Overdue",
    in_conflict: "In conflict",
    flagged: "Overridden steps",
    any: "Any",
    step_count: "Steps",
    disputes_matching: "match",
    this_page: "on this page",
    no_disputes: "No dispute matches.",
    fields_heading: "Fields",
    field: "Field",
    value: "Value",
    conflicts_heading: "Conflicts",
    no_conflicts: "No field is in conflict.",
    written_by: "Written by",
    device_time: "Device time",
    received: "Received",
    clock_suspect: "device clock suspect",
    desk_value: "written at the desk",
    pick_value: "Keep this value",
    history_heading: "History",
    step_applied: "applied",
    step_overridden: "overridden",
    step_waiting: "waiting",
    by: "By",
    letter_number: "Letter number",
    note: "Note",
    escalate_to: "Escalate to",
    mediations_heading: "Mediation sessions",
    no_mediations: "No mediation sessions.",
    attachments_heading: "Attachments",
    no_attachments: "No attachments.",
    not_uploaded: "not uploaded yet (still on the phone that took it)",
    download: "Download",
    steps_heading: "Take a step",
    no_steps: "No desk step is yours to take at this stage.",
    done_resolved: "Conflict settled: handsets take the chosen value when they sync.",
    done_step: "Step taken.",
    new_value: "Enter a new value",
    use_new_value: "Use this value",
    as_json: "(as JSON)",
    chain_covers: "verified up to row",
    chain_checked_now: "rows newly checked",
    chain_remembered: "found earlier; shown until a restart or a check from the first row",
    verify_whole_chain: "Verify from the first row",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_the_query_then_the_browser() {
        assert_eq!(query_lang("month=2026-11&lang=en"), Some(Lang::En));
        assert_eq!(query_lang("lang=fr"), None);
        assert_eq!(from_accept_language("en-US,en;q=0.9,zh-CN;q=0.8"), Lang::En);
        assert_eq!(from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(from_accept_language(""), Lang::Zh);
        assert_eq!(from_accept_language("fr-FR"), Lang::Zh);
    }
}
