//! The page shell: head, header with the navigation and the language
//! switch, the logout form, and the body. No inline script or style (the
//! content security policy forbids both); the one stylesheet is served from
//! [`super::assets`].

use gridsync_server_core::policy;
use maud::{DOCTYPE, Markup, html};

use super::i18n::Lang;
use super::session::Admin;

/// The console's sections, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    /// 今日.
    Today,
    /// 纠纷.
    Disputes,
    /// 台帐.
    Ledgers,
    /// 人员与设备.
    People,
    /// 审计日志.
    Audit,
    /// 账户.
    Account,
}

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · " (lang.texts().app) }
            link rel="stylesheet" href=(super::assets::CSS_PATH);
        }
    }
}

/// A page without navigation (login, errors).
pub(crate) fn bare(lang: Lang, title: &str, body: Markup) -> Markup {
    let t = lang.texts();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title))
            body {
                header.top {
                    span.brand { (t.app) }
                    nav.lang { a href={ "?lang=" (lang.other().short()) } { (t.switch_lang) } }
                }
                main { (body) }
            }
        }
    }
}

/// A signed-in page: the navigation shows the sections the user's role
/// may open.
pub(crate) fn page(admin: &Admin, section: Section, title: &str, body: Markup) -> Markup {
    let (lang, user) = (admin.lang, &admin.user);
    let t = lang.texts();
    let mut links = vec![(Section::Today, "/console/today", t.nav_today)];
    links.push((Section::Disputes, "/console/disputes", t.nav_disputes));
    links.push((Section::Ledgers, "/console/ledgers", t.nav_ledgers));
    links.push((Section::People, "/console/people", t.nav_people));
    if policy::may_audit(user) {
        links.push((Section::Audit, "/console/audit", t.nav_audit));
    }
    links.push((Section::Account, "/console/account", t.nav_account));
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title))
            body {
                header.top {
                    span.brand { (t.app) }
                    nav.sections {
                        @for (s, href, text) in links {
                            @if s == section {
                                a.current href=(href) aria-current="page" { (text) }
                            } @else {
                                a href=(href) { (text) }
                            }
                        }
                    }
                    span.who {
                        (t.signed_in_as) " " strong.user-name { (user.name) }
                        " · " (lang.role(user.role))
                    }
                    nav.lang { a href={ "?lang=" (lang.other().short()) } { (t.switch_lang) } }
                    form.logout method="post" action="/console/logout" {
                        input type="hidden" name="csrf" value=(admin.csrf());
                        button type="submit" { (t.logout) }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A notice after a change (`?done=…`), if the key is known.
pub(crate) fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p.notice role="status" { (text) }
        }
    }
}

/// The hidden CSRF field of a signed-in form.
pub(crate) fn csrf_field(admin: &Admin) -> Markup {
    html! { input type="hidden" name="csrf" value=(admin.csrf()); }
}
