//! The web console's HTTP details, without a browser: the redirect from
//! `/`, the security headers and cookie attributes, the login form's CSRF
//! token and rate limit, a session that ended, refusals as HTML pages with
//! stable codes, and the stylesheet compiled in. The browser tests are in
//! `console.rs`.

use gridsync_server::demo::{self, DemoOptions};
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
    let made = demo::fill(&data, &DemoOptions { days: 3, villages: 2, grids: 2, ..DemoOptions::default() })?;
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
    // The right one: a session cookie, strict, for the console only.
    let ok = post_login(Some(&secret), &token, &made.centre.1)?;
    assert_eq!((ok.status().as_u16(), location(&ok)), (303, "/console/today".to_owned()));
    let session_cookie = set_cookie(ok.headers(), "gs_session").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=28800"] {
        assert!(session_cookie.contains(attribute), "{attribute} in {session_cookie}");
    }
    let session = format!("gs_session={}", value(&session_cookie));

    // Pages with the session; errors as pages with codes.
    let get = |path: &str| http.get(format!("{url}{path}")).header("cookie", &session).send();
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
    let again = post_login(Some(&secret), &token, &made.centre.1)?;
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

    // Logins are rate-limited like the admin API's.
    let limited = (0..12)
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
