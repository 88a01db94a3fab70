//! Diagnostic logging to stderr, and whether stderr gets colours.
//!
//! The command line reports every outcome in its own words (stdout, the
//! `gridsync: ...` notices and the one `gridsync: error: ...` line), so the
//! library's log events would only repeat them: logging is off unless
//! `GRIDSYNC_LOG` asks for it. Colours (ANSI escape sequences) only go to a
//! terminal, and never when `NO_COLOR` is set to anything but the empty
//! text (<https://no-color.org>).

use std::ffi::OsStr;
use std::io::{self, IsTerminal};

use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter (an `EnvFilter` directive).
const LOG_ENV: &str = "GRIDSYNC_LOG";

/// Starts logging to stderr as `GRIDSYNC_LOG` says (nothing when it is
/// unset or empty). A filter that does not parse is said once, and
/// logging stays off.
pub(crate) fn init() {
    let directive = std::env::var(LOG_ENV).unwrap_or_default();
    if directive.trim().is_empty() {
        return;
    }
    let filter = match EnvFilter::try_new(&directive) {
        Ok(filter) => filter,
        Err(_) => {
            eprintln!(
                "gridsync: {LOG_ENV} is not a log filter (e.g. warn, info, gridsync_client_core=debug); \
                 logging stays off"
            );
            return;
        }
    };
    let ansi = colours(io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(io::stderr).try_init();
}

/// Whether a stream gets colours: only a terminal, and only when
/// `NO_COLOR` is unset or empty.
fn colours(terminal: bool, no_color: Option<&OsStr>) -> bool {
    terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colours(true, None));
        assert!(colours(true, Some(OsStr::new(""))), "an empty NO_COLOR is no request");
        assert!(!colours(true, Some(OsStr::new("1"))));
        assert!(!colours(true, Some(OsStr::new("false"))), "any value switches colours off");
        assert!(!colours(false, None));
        assert!(!colours(false, Some(OsStr::new(""))));
    }
}
