//! The web console's HTTP details, without a browser: the redirect from
//! `/`, the security headers and cookie attributes, the login form's CSRF
//! token and rate limit, a session that ended, refusals as HTML pages with
//! stable codes, and the stylesheet compiled in; a password change that
//! ends the user's other sessions, and one forced at the first login of a
//! one-time password; the dispute page's forms offered only to
//! who may use them (and forged ones refused), a new value for a conflict
//! typed as its field, an escalation to the place the form offers. The
//! browser tests are in `console.rs`.

mod common;
mod handsets;

use gridsync_proto::Role;
use gridsync_server::demo::{self, DemoOptions};
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};
use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client")
}

/// The `Set-Cookie` header for `name`.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The cookie's value, from its `Set-Cookie` header.
fn value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// The `value` of the hidden `csrf` input in a page.
fn csrf_of(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    page[at..].split('"').next().unwrap_or_default().to_owned()
}

/// A form body, URL-encoded.
fn form_body(fields: &[(&str, &str)]) -> String {
    let enc = |text: &str| -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

const FORM: &str = "application/x-www-form-urlencoded";

fn location(r: &Response) -> String {
    r.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[test]
fn the_console_answers_with_its_headers_cookies_and_codes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut made =
        demo::fill(&data, &DemoOptions { days: 3, villages: 2, grids: 2, ..DemoOptions::default() })?;
    made.admin.1 = common::choose_own_password(&Operator::open_default(&data)?, &made.admin.0, &made.admin.1);
    let mut settings = Settings::new(&data, "127.0.0.1:0".parse()?);
    settings.logins_per_minute = 8;
    let server = Running::start(settings)?;
    let url = server.url();
    let http = client();

    // `/` → the console → today → the login form.
    assert_eq!(location(&http.get(format!("{url}/")).send()?), "/console/");
    assert_eq!(location(&http.get(format!("{url}/console/")).send()?), "/console/today");
    let today = http.get(format!("{url}/console/today")).send()?;
    assert_eq!((today.status().as_u16(), location(&today)), (303, "/console/login".to_owned()));

    // The login form: security headers, a CSRF secret in a strict cookie.
    let form = http.get(format!("{url}/console/login")).send()?;
    assert_eq!(form.status(), 200);
    let h = form.headers().clone();
    let csp = h["content-security-policy"].to_str()?;
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'none'"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    let login_cookie = set_cookie(&h, "gs_login").expect("the login form's secret");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(login_cookie.contains(attribute), "{attribute} in {login_cookie}");
    }
    assert!(!login_cookie.contains("Secure"), "not over plain HTTP");
    let page = form.text()?;
    assert!(page.contains(r#"<html lang="zh-CN">"#) && !page.contains("<script"), "Chinese, no script");
    let token = csrf_of(&page);
    let secret = value(&login_cookie);

    let post_login = |cookie: Option<&str>, token: &str, password: &str| {
        let body = form_body(&[("csrf", token), ("user", made.centre.0.as_str()), ("password", password)]);
        let mut request = http.post(format!("{url}/console/login")).header("content-type", FORM).body(body);
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("gs_login={cookie}"));
        }
        request.send()
    };
    // Without the cookie, or with another form's token: refused before the password is looked at.
    let forged = post_login(None, &token, &made.centre.1)?;
    assert_eq!(forged.status(), 403);
    assert!(forged.text()?.contains("csrf_token"));
    let forged = post_login(Some(&secret), &"0".repeat(64), &made.centre.1)?;
    assert_eq!(forged.status(), 403);
    // A wrong password: the form again, 401.
    let wrong = post_login(Some(&secret), &token, "wrong password!")?;
    assert_eq!(wrong.status(), 401);
    // The right one: a session cookie, strict, for the console only; the
    // password was set for the centre by the demo, so to the account page.
    let ok = post_login(Some(&secret), &token, &made.centre.1)?;
    assert_eq!((ok.status().as_u16(), location(&ok)), (303, "/console/account?required=1".to_owned()));
    let session_cookie = set_cookie(ok.headers(), "gs_session").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=28800"] {
        assert!(session_cookie.contains(attribute), "{attribute} in {session_cookie}");
    }
    let session = format!("gs_session={}", value(&session_cookie));
    let get = |path: &str| http.get(format!("{url}{path}")).header("cookie", &session).send();

    // A one-time password: no other page until the centre has chosen their own.
    for path in ["/console/today", "/console/people", "/console/audit"] {
        let sent_back = get(path)?;
        assert_eq!(
            (sent_back.status().as_u16(), location(&sent_back)),
            (303, "/console/account?required=1".into())
        );
    }
    let account = get("/console/account?required=1")?;
    assert_eq!(account.status(), 200);
    let account = account.text()?;
    assert!(account.contains("一次性密码"), "the notice says why");
    let own = "the centre's own password";
    let change = |current: &str, new: &str| {
        let form = [
            ("csrf", csrf_of(&account)),
            ("current", current.into()),
            ("new", new.into()),
            ("repeat", new.into()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        http.post(format!("{url}/console/account"))
            .header("cookie", &session)
            .header("content-type", FORM)
            .body(form_body(&form))
            .send()
    };
    let same = change(&made.centre.1, &made.centre.1)?;
    assert_eq!(same.status(), 400, "the one-time password cannot be chosen again");
    assert_eq!(location(&get("/console/today")?), "/console/account?required=1", "still restricted");
    let changed = change(&made.centre.1, own)?;
    assert_eq!(
        (changed.status().as_u16(), location(&changed)),
        (303, "/console/account?done=password".into())
    );
    assert_eq!(post_login(Some(&secret), &token, &made.centre.1)?.status(), 401, "the one-time one is spent");

    // Pages with the session; errors as pages with codes.
    let today = get("/console/today")?;
    assert_eq!(today.status(), 200);
    let page = today.text()?;
    assert!(page.contains("今日日报") && page.contains(&made.centre.0));
    let csrf = csrf_of(&page);
    let county = get("/console/today?place=620802")?;
    assert_eq!(county.status(), 403);
    assert!(county.text()?.contains(r#"<code class="error-code">forbidden</code>"#));
    let nowhere = get("/console/ledgers?place=nowhere")?;
    assert_eq!(nowhere.status(), 404);
    assert!(nowhere.text()?.contains("unknown_place"));
    assert_eq!(get("/console/today?date=2026-13-40")?.status(), 400);
    assert_eq!(get("/console/no-such-page")?.status(), 404);
    let english = get("/console/today?lang=en")?;
    let lang_cookie = set_cookie(english.headers(), "gs_lang").expect("the language is remembered");
    assert!(lang_cookie.starts_with("gs_lang=en") && lang_cookie.contains("SameSite=Strict"));
    assert!(english.text()?.contains("Today's daily reports"));

    // The stylesheet is compiled in, and may be cached.
    let css = get("/console/assets/console-2.css")?;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["cache-control"].to_str()?.contains("max-age"));
    assert!(css.text()?.contains("header.top"));

    // A form without the session's token is refused; logging out ends the session.
    let post = |path: &str, form: &[(&str, &str)]| {
        let request =
            http.post(format!("{url}{path}")).header("cookie", &session).header("content-type", FORM);
        request.body(form_body(form)).send()
    };
    assert_eq!(post("/console/logout", &[("csrf", "")])?.status(), 403);
    let out = post("/console/logout", &[("csrf", &csrf)])?;
    assert_eq!((out.status().as_u16(), location(&out)), (303, "/console/login?bye=1".to_owned()));
    let after = get("/console/today")?;
    assert_eq!((after.status().as_u16(), location(&after)), (303, "/console/login".to_owned()));

    // A session whose user is deactivated ends too.
    let again = post_login(Some(&secret), &token, own)?;
    assert_eq!(location(&again), "/console/today", "the centre's own password: no detour");
    let again =
        format!("gs_session={}", value(&set_cookie(again.headers(), "gs_session").expect("a session")));
    let admin: serde_json::Value = http
        .post(format!("{url}/v1/admin/login"))
        .json(&serde_json::json!({ "user": made.admin.0, "password": made.admin.1 }))
        .send()?
        .json()?;
    let bearer = admin["token"].as_str().expect("an admin token").to_owned();
    let deactivated = http
        .post(format!("{url}/v1/admin/users/{}/deactivate", made.centre.0))
        .bearer_auth(&bearer)
        .send()?;
    assert_eq!(deactivated.status(), 200);
    let after = http.get(format!("{url}/console/today")).header("cookie", &again).send()?;
    assert_eq!((after.status().as_u16(), location(&after)), (303, "/console/login".to_owned()));

    // Logins are rate-limited like the admin API's: in fixed one-minute
    // windows of 8, so 17 attempts meet the limit even when a window ends
    // during the burst (at most 8 in each of the two windows it spans).
    let limited = (0..2 * 8 + 1)
        .filter_map(|_| post_login(Some(&secret), &token, "wrong password!").ok())
        .any(|r| r.status() == 429);
    assert!(limited, "a burst of logins from one address is limited");
    server.stop();
    Ok(())
}

#[test]
fn over_https_the_console_cookies_are_secure() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut settings = Settings::new(&data, "127.0.0.1:0".parse()?);
    let files = gridsync_server::tls::write_self_signed(&data, &["127.0.0.1".to_owned()], 30, false)?;
    settings.tls_cert = Some(files.cert.clone());
    settings.tls_key = Some(files.key.clone());
    let server = Running::start(settings)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let roots = reqwest::Certificate::from_pem_bundle(&std::fs::read(&files.ca)?)?;
    let https =
        Client::builder().tls_certs_only(roots).redirect(reqwest::redirect::Policy::none()).build()?;
    let form = https.get(format!("{}/console/login?lang=en", server.url())).send()?;
    assert_eq!(form.status(), 200);
    for name in ["gs_login", "gs_lang"] {
        let cookie = set_cookie(form.headers(), name).unwrap_or_else(|| panic!("{name} is set"));
        assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    }
    server.stop();
    Ok(())
}

/// A console session of `user`, as its `Cookie` header, and its form token.
fn log_in(http: &Client, url: &str, user: &str, password: &str) -> anyhow::Result<(String, String)> {
    let form = http.get(format!("{url}/console/login")).send()?;
    let secret = value(&set_cookie(form.headers(), "gs_login").expect("the login form's secret"));
    let token = csrf_of(&form.text()?);
    let body = form_body(&[("csrf", &token), ("user", user), ("password", password)]);
    let ok = http
        .post(format!("{url}/console/login"))
        .header("cookie", format!("gs_login={secret}"))
        .header("content-type", FORM)
        .body(body)
        .send()?;
    assert_eq!(ok.status(), 303, "{user} logs in");
    let cookie = format!("gs_session={}", value(&set_cookie(ok.headers(), "gs_session").expect("a session")));
    let page = http.get(format!("{url}/console/account")).header("cookie", &cookie).send()?.text()?;
    Ok((cookie, csrf_of(&page)))
}

/// A page's status and text.
fn get(http: &Client, url: &str, path: &str, cookie: &str) -> anyhow::Result<(u16, String)> {
    let r = http.get(format!("{url}{path}")).header("cookie", cookie).send()?;
    Ok((r.status().as_u16(), r.text()?))
}

/// A form's status, redirect and text.
fn post(
    http: &Client,
    url: &str,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
) -> anyhow::Result<(u16, String, String)> {
    let r = http
        .post(format!("{url}{path}"))
        .header("cookie", cookie)
        .header("content-type", FORM)
        .body(form_body(fields))
        .send()?;
    let to = location(&r);
    Ok((r.status().as_u16(), to, r.text()?))
}

/// The error code an error page shows.
fn error_code(page: &str) -> &str {
    let start = r#"<code class="error-code">"#;
    page.split_once(start).and_then(|(_, rest)| rest.split_once('<')).map_or("", |(code, _)| code)
}

/// The `value` attributes of the `<option>`s of `<select name="NAME">` in a page's form `form_id`.
fn options(page: &str, form_id: &str, name: &str) -> Vec<String> {
    let Some((_, form)) = page.split_once(&format!(r#"id="{form_id}""#)) else { return Vec::new() };
    let form = form.split("</form>").next().unwrap_or_default();
    let Some((_, select)) = form.split_once(&format!(r#"<select name="{name}""#)) else { return Vec::new() };
    let select = select.split("</select>").next().unwrap_or_default();
    select
        .split(r#"<option value=""#)
        .skip(1)
        .filter_map(|o| o.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_password_change_ends_the_user_s_other_sessions_and_keeps_this_one() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut made =
        demo::fill(&data, &DemoOptions { days: 2, villages: 1, grids: 1, ..DemoOptions::default() })?;
    common::demo_staff_choose_their_own(&data, &mut made);
    let server = Running::start(Settings::new(&data, "127.0.0.1:0".parse()?))?;
    let (url, http) = (server.url(), client());
    let (centre, password) = made.centre.clone();
    let (this, csrf) = log_in(&http, &url, &centre, &password)?;
    let (other, _) = log_in(&http, &url, &centre, &password)?;
    let bearer = |password: &str| -> anyhow::Result<String> {
        let login: serde_json::Value = http
            .post(format!("{url}/v1/admin/login"))
            .json(&serde_json::json!({ "user": centre, "password": password }))
            .send()?
            .json()?;
        Ok(login["token"].as_str().expect("an admin token").to_owned())
    };
    let api = bearer(&password)?;
    let api_status = |token: &str| -> anyhow::Result<u16> {
        Ok(http.get(format!("{url}/v1/admin/users")).bearer_auth(token).send()?.status().as_u16())
    };
    assert_eq!(api_status(&api)?, 200);

    // A wrong current password changes nothing and ends nothing.
    let new = "a new password 2026";
    let change = |current: &str| {
        let form = [("csrf", csrf.as_str()), ("current", current), ("new", new), ("repeat", new)];
        post(&http, &url, "/console/account", &this, &form)
    };
    assert_eq!(change("not the password")?.0, 403);
    assert_eq!(get(&http, &url, "/console/today", &other)?.0, 200, "the other session goes on");

    // The right one: this session stays, the other is sent to the login form, the API token ends.
    let (status, to, _) = change(&password)?;
    assert_eq!((status, to.as_str()), (303, "/console/account?done=password"));
    let (status, page) = get(&http, &url, "/console/account?done=password", &this)?;
    assert!(status == 200 && page.contains("其他地方的登录均已退出"), "{status}");
    let ended = http.get(format!("{url}/console/today")).header("cookie", &other).send()?;
    assert_eq!((ended.status().as_u16(), location(&ended)), (303, "/console/login".to_owned()));
    assert_eq!(api_status(&api)?, 401, "the admin API's session of the old password ends too");
    assert_eq!(get(&http, &url, "/console/today", &this)?.0, 200, "this session stays signed in");
    assert_eq!(api_status(&bearer(new)?)?, 200, "the new password logs in");
    server.stop();
    Ok(())
}

#[test]
fn the_dispute_page_offers_its_forms_to_who_may_use_them() -> anyhow::Result<()> {
    const TOWNSHIP: &str = "620802100";
    const DAY_MS: u64 = 24 * 60 * 60 * 1000;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut made =
        demo::fill(&data, &DemoOptions { days: 2, villages: 2, grids: 1, ..DemoOptions::default() })?;
    common::demo_staff_choose_their_own(&data, &mut made);
    let (grid, village) = (format!("{TOWNSHIP}001-01"), format!("{TOWNSHIP}001"));
    let mut codes = Vec::new();
    let one_time = "a long password for staff";
    let staff_password;
    {
        let op = Operator::open_default(&data)?;
        for name in ["网格员 甲", "网格员 乙"] {
            op.add_user(name, Role::Worker, Some(&grid), None, None)?;
            codes.push((name.to_owned(), op.issue_code(name, DAY_MS, "http://127.0.0.1")?.code));
        }
        op.add_user("审计 员", Role::Auditor, Some(TOWNSHIP), None, Some(one_time.into()))?;
        // An admin assigned to a village, not at a centre: no transfer, no close.
        op.add_user("村 管理员", Role::TownshipAdmin, Some(&village), None, Some(one_time.into()))?;
        staff_password = common::choose_own_password(&op, "审计 员", one_time);
        common::choose_own_password(&op, "村 管理员", one_time);
    }
    let staff_password = staff_password.as_str();
    let server = Running::start(Settings::new(&data, "127.0.0.1:0".parse()?))?;
    let (url, http) = (server.url(), client());
    let (id, mut handsets) = handsets::conflicting_handsets(&url, &codes)?;
    let page_path = format!("/console/disputes/{id}");
    let (resolve_path, steps_path) = (format!("{page_path}/resolve"), format!("{page_path}/steps"));
    let (centre, centre_csrf) = log_in(&http, &url, &made.centre.0, &made.centre.1)?;

    // The centre: accept and escalate (to the grid's village only), the conflict's forms.
    let (status, page) = get(&http, &url, &page_path, &centre)?;
    assert_eq!(status, 200);
    for (form, shown) in
        [("step-accept", true), ("step-escalate", true), ("step-transfer", false), ("step-close", false)]
    {
        assert_eq!(page.contains(&format!(r#"id="{form}""#)), shown, "{form}");
    }
    assert_eq!(options(&page, "step-escalate", "to"), vec![village.clone()]);
    assert!(page.contains(r#"id="no-attachments""#), "no attachment yet");
    assert!(page.contains(r#"data-input="int""#) && page.contains(r#"name="value" type="number""#));
    let seen = page
        .split(r#"name="seen" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the seen ids")
        .to_owned();

    // A new value: refused when it is not of the field's type, naming the field and not the value.
    for bad in ["five", "9"] {
        let form = [("csrf", centre_csrf.as_str()), ("field", "risk"), ("seen", &seen), ("value", bad)];
        let (status, _, page) = post(&http, &url, &resolve_path, &centre, &form)?;
        assert_eq!((status, error_code(&page)), (400, "invalid_field"), "{bad}");
        assert!(
            page.contains("risk: must be a whole number from 1 to 4") && !page.contains(&format!(": {bad}"))
        );
    }
    let form = [("csrf", centre_csrf.as_str()), ("field", "risk"), ("seen", &seen), ("value", "4")];
    let (status, to, _) = post(&http, &url, &resolve_path, &centre, &form)?;
    assert_eq!((status, to), (303, format!("{page_path}?done=resolved")));
    let (_, page) = get(&http, &url, &page_path, &centre)?;
    assert!(
        page.contains(r#"id="no-conflicts""#)
            && page.contains(r#"<tr data-field="risk"><th>risk</th><td class="value">4</td>"#)
    );
    handsets[1].sync(&url)?;
    assert_eq!(handsets[1].store.get(id)?.expect("held").value("risk"), Some(&gridsync_proto::Value::Int(4)));

    // A photo of the signed agreement: listed on the page, downloaded from it.
    let mut photo = vec![0x5a_u8; 300 * 1024];
    photo[..11].copy_from_slice(b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00");
    handsets[0].store.set_network(gridsync_client_core::NetworkKind::Wifi);
    handsets[0].store.attach(id, None, Some("调解协议书"), &photo)?;
    handsets[0].sync(&url)?;
    let (_, page) = get(&http, &url, &page_path, &centre)?;
    let link =
        format!("/console/records/{id}/attachments/{}", gridsync_proto::ContentHash::of(&photo).to_hex());
    assert!(page.contains(r#"id="attachments""#) && page.contains(&format!(r#"href="{link}""#)), "{page}");
    assert!(page.contains("调解协议书") && page.contains("image/jpeg"));
    let download = http.get(format!("{url}{link}")).header("cookie", &centre).send()?;
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(download.headers()["content-type"], "image/jpeg");
    assert!(download.headers()["content-disposition"].to_str()?.starts_with("attachment"));
    assert_eq!(download.bytes()?.as_ref(), &photo[..]);

    // The auditor may not read a dispute's page (it names the parties), nor write: forged forms are refused.
    let (auditor, auditor_csrf) = log_in(&http, &url, "审计 员", staff_password)?;
    let (status, page) = get(&http, &url, &page_path, &auditor)?;
    assert_eq!((status, error_code(&page)), (403, "forbidden"));
    let (status, page) = get(&http, &url, &link, &auditor)?;
    assert_eq!((status, error_code(&page)), (403, "forbidden"), "nor download its attachments");
    assert!(!page.contains("<form method=\"post\" action=\"/console/disputes"), "no desk form");
    for (path, form) in [
        (&steps_path, vec![("action", "accept")]),
        (&resolve_path, vec![("field", "risk"), ("seen", seen.as_str()), ("value", "1")]),
    ] {
        let mut form = form;
        form.push(("csrf", &auditor_csrf));
        let (status, _, page) = post(&http, &url, path, &auditor, &form)?;
        assert_eq!((status, error_code(&page)), (403, "forbidden"), "{path}");
    }

    // The centre accepts; the village's admin then sees only what they may do: escalate.
    let (status, ..) =
        post(&http, &url, &steps_path, &centre, &[("csrf", &centre_csrf), ("action", "accept")])?;
    assert_eq!(status, 303);
    let units = options(&get(&http, &url, &page_path, &centre)?.1, "step-transfer", "unit");
    assert!(!units.is_empty(), "the centre may transfer an accepted dispute");
    let (village_admin, village_csrf) = log_in(&http, &url, "村 管理员", staff_password)?;
    let (status, page) = get(&http, &url, &page_path, &village_admin)?;
    assert_eq!(status, 200);
    assert!(page.contains(r#"id="step-escalate""#) && !page.contains(r#"id="step-transfer""#), "no transfer");
    let forged = [
        ("csrf", village_csrf.as_str()),
        ("action", "transfer"),
        ("unit", units[0].as_str()),
        ("letter_number", "村转〔2026〕1号"),
    ];
    let (status, _, page) = post(&http, &url, &steps_path, &village_admin, &forged)?;
    assert_eq!((status, error_code(&page)), (403, "forbidden"), "the service refuses what the page hides");

    // Escalation names where it goes: another place is refused naming `to`, the one offered is taken.
    for (to, code) in [("620802", "invalid_field"), ("nowhere", "unknown_place")] {
        let form = [("csrf", centre_csrf.as_str()), ("action", "escalate"), ("to", to)];
        let (status, _, page) = post(&http, &url, &steps_path, &centre, &form)?;
        assert_eq!(error_code(&page), code, "{to}: {status}");
        assert!(page.contains("to: "), "the field is named");
    }
    let form = [("csrf", centre_csrf.as_str()), ("action", "escalate"), ("to", village.as_str())];
    assert_eq!(post(&http, &url, &steps_path, &centre, &form)?.0, 303);
    let (_, page) = get(&http, &url, &page_path, &centre)?;
    assert!(page.contains(&format!(r#"data-owner="{village}""#)), "owned by the village now");
    assert!(page.contains(&format!(r#"data-action="escalate" data-status="applied" data-to="{village}""#)));
    server.stop();
    Ok(())
}
