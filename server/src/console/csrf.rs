//! Cross-site request forgery protection: every form the console serves
//! carries a token that a page from another site cannot know, and every
//! form the console accepts is refused without it.
//!
//! The token is `HMAC-SHA256(secret, purpose)`, hex, where the secret is a
//! value only this browser holds in an `HttpOnly` cookie:
//!
//! - signed in: the session token itself ([`super::session::SESSION_COOKIE`]),
//!   so the form token is tied to the session, needs no storage, and works
//!   on every server process behind a load balancer;
//! - on the login form: a random value set with the form
//!   ([`LOGIN_COOKIE`]), a double submit signed with HMAC.
//!
//! The cookies are also `SameSite=Strict`, so another site's form does not
//! even send them. The comparison is constant-time (`ring::hmac::verify`).

use gridsync_proto::auth::hex;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The form field that carries the token.
pub(crate) const FIELD: &str = "csrf";
/// The cookie holding the login form's secret.
pub(crate) const LOGIN_COOKIE: &str = "gs_login";

/// What a token is for: a signed-in form, or the login form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A form of a signed-in page.
    Session,
    /// The login form.
    Login,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Session => b"gridsync console form v1",
            Purpose::Login => b"gridsync console login v1",
        }
    }
}

/// The token for `secret` and `purpose`.
pub(crate) fn token(secret: &str, purpose: Purpose) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hex(hmac::sign(&key, purpose.label()).as_ref())
}

/// Whether `given` is the token for `secret` and `purpose`.
pub(crate) fn valid(secret: &str, purpose: Purpose, given: &str) -> bool {
    let Some(tag) = unhex(given) else { return false };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    !secret.is_empty() && hmac::verify(&key, purpose.label(), &tag).is_ok()
}

/// A fresh random secret (32 bytes, hex), or `None` if the system's random
/// generator fails.
pub(crate) fn fresh_secret() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(hex(&bytes))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_only_for_its_secret_and_purpose() {
        let secret = fresh_secret().expect("random");
        let good = token(&secret, Purpose::Session);
        assert!(valid(&secret, Purpose::Session, &good));
        assert!(!valid(&secret, Purpose::Login, &good), "another purpose");
        assert!(!valid("another session", Purpose::Session, &good), "another session");
        assert!(!valid(&secret, Purpose::Session, ""), "missing");
        assert!(!valid(&secret, Purpose::Session, &good[..62]), "cut short");
        assert!(!valid(&secret, Purpose::Session, &"é".repeat(32)), "not hex");
        assert!(!valid("", Purpose::Session, &token("", Purpose::Session)), "no secret");
    }
}
