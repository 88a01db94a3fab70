//! `gridsync-server user password NAME`: the operator sets a staff
//! member's password, one-time (they choose their own at their next login,
//! ADR 0030), and every session of theirs ends. The new password is typed
//! at a prompt that does not echo it (asked twice), read from the first
//! line of standard input (`--password-stdin`, for scripts), or generated
//! (`--generate`) and printed once.

use std::io::IsTerminal;

use anyhow::{Context, bail};
use gridsync_server_core::passwords;
use gridsync_server_core::service::Caller;

use super::{Operator, password_from_stdin};

/// Where a new password comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewPassword {
    /// Typed twice at a prompt on the terminal, not echoed.
    Prompt,
    /// The first line of standard input.
    Stdin,
    /// Generated, and printed once.
    Generate,
}

impl NewPassword {
    /// The source the flags name: `--generate`, `--password-stdin`, or the
    /// prompt.
    pub fn from_flags(password_stdin: bool, generate: bool) -> Self {
        match (password_stdin, generate) {
            (_, true) => NewPassword::Generate,
            (true, false) => NewPassword::Stdin,
            (false, false) => NewPassword::Prompt,
        }
    }
}

/// A password set by [`Operator::set_password`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSet {
    /// The generated password, to print once (`--generate`).
    pub generated: Option<String>,
    /// How many of the user's sessions ended.
    pub sessions_ended: u64,
}

impl Operator {
    /// `user password NAME`: sets `name`'s password (one-time) from `source`
    /// and ends their sessions. Audited as `cli` (`user.password`).
    pub fn set_password(&self, name: &str, source: NewPassword) -> anyhow::Result<PasswordSet> {
        let (password, generated) = match source {
            NewPassword::Generate => (passwords::generate()?, true),
            NewPassword::Stdin => (password_from_stdin()?, false),
            NewPassword::Prompt => (prompt(name)?, false),
        };
        let sessions_ended = self.run(self.service().set_password(&Caller::Operator, name, &password))?;
        Ok(PasswordSet { generated: generated.then_some(password), sessions_ended })
    }
}

/// Asks for the new password twice on the terminal, without echo.
fn prompt(name: &str) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to type the password at: give --password-stdin or --generate");
    }
    let first = rpassword::prompt_password(format!("new one-time password for {name}: "))
        .context("cannot read the password from the terminal")?;
    let again = rpassword::prompt_password("the same again: ")
        .context("cannot read the password from the terminal")?;
    if first != again {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_choose_the_source() {
        assert_eq!(NewPassword::from_flags(false, false), NewPassword::Prompt);
        assert_eq!(NewPassword::from_flags(true, false), NewPassword::Stdin);
        assert_eq!(NewPassword::from_flags(false, true), NewPassword::Generate);
    }

    #[test]
    fn a_generated_password_is_one_time_and_ends_sessions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let op = Operator::open_default(dir.path()).expect("open");
        let first = op.create_admin("admin", None).expect("admin").expect("generated");
        let service = op.service().clone();
        let session = op.run(service.login("admin", &first)).expect("login");
        assert!(session.user.must_change_password, "admin create's password is one-time");
        let set = op.set_password("admin", NewPassword::Generate).expect("set");
        let generated = set.generated.expect("printed once");
        assert_eq!((generated.len(), set.sessions_ended), (20, 1));
        assert!(op.run(service.login("admin", &first)).is_err(), "the old one no longer matches");
        let again = op.run(service.login("admin", &generated)).expect("the new one");
        assert!(again.user.must_change_password, "and it is one-time too");
        let unknown = op.set_password("nobody", NewPassword::Generate).expect_err("no such user");
        assert!(unknown.to_string().contains("no such user"), "{unknown}");
    }
}
