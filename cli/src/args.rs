//! The command line, as clap derive types. Parsing only: no I/O here.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use gridsync_proto::{RecordId, RecordKind};

/// gridsync on this device: record patrols, visits, disputes and daily
/// reports offline, and sync them with the township server when there is a
/// connection.
///
/// Field values are given as `KEY=TEXT` (always text) or `KEY:=JSON` (a
/// number, true/false, null, a list or an object). Exit codes: 0 ok, 1 usage
/// or validation error, 2 sync refused by the server, 3 server unreachable
/// (unsent changes are kept; sync again later).
#[derive(Debug, Parser)]
#[command(name = "gridsync", version)]
pub(crate) struct Cli {
    /// The store file on this device (created by `init`).
    #[arg(long, global = true, env = "GRIDSYNC_STORE", value_name = "FILE")]
    pub(crate) store: Option<PathBuf>,

    /// The file holding the store key (64 hexadecimal digits). Without it,
    /// the key comes from the environment variable GRIDSYNC_STORE_KEY, else
    /// from FILE.key next to the store, which `init` creates if needed.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the store with a new device identity, encrypted with the store
    /// key (a new random key in FILE.key if none is given); prints the device id.
    Init {
        /// The township server, e.g. http://10.1.2.3:8080
        #[arg(long, value_name = "URL")]
        server: String,
        /// The author recorded on changes made before enrollment (enrollment
        /// sets it to the enrolled user's name).
        #[arg(long, value_name = "NAME", default_value = "worker")]
        author: String,
        /// One-time enrollment code from the township: enrolls the device now.
        #[arg(long, value_name = "CODE")]
        code: Option<String>,
        /// The township CA (PEM) to trust, alone, for an https:// server.
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
    },
    /// Enroll this device with a one-time code from the township.
    Enroll {
        /// The enrollment code (or the QR code's text).
        code: String,
    },
    /// Create a record; prints its id.
    New {
        /// The record kind.
        kind: KindArg,
        /// An initial field value: KEY=TEXT or KEY:=JSON (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Set fields of a record, all in one atomic edit.
    Set {
        /// The record id.
        id: RecordId,
        /// Field values: KEY=TEXT or KEY:=JSON.
        #[arg(required = true, value_name = "KEY=VALUE")]
        fields: Vec<String>,
    },
    /// Append a note to a record.
    Note {
        /// The record id.
        id: RecordId,
        /// The note text.
        #[arg(allow_hyphen_values = true)]
        text: String,
    },
    /// Show one record: fields, conflicts and entries.
    Show {
        /// The record id.
        id: RecordId,
        /// Print the record's JSON view instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List records, oldest first.
    List {
        /// Only records of this kind (patrol, visit, dispute, daily_report).
        #[arg(long, value_name = "KIND")]
        kind: Option<RecordKind>,
        /// Only records with a field in conflict.
        #[arg(long)]
        conflicted: bool,
        /// Print a JSON array of record views instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List every field in conflict, with each competing value.
    Conflicts {
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Resolve a conflict: VALUE replaces every competing value of FIELD.
    Resolve {
        /// The record id.
        id: RecordId,
        /// The field in conflict.
        field: String,
        /// The value to keep: text, or JSON with --json.
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// Read VALUE as JSON (a number, true/false, null, a list or an object).
        #[arg(long)]
        json: bool,
    },
    /// Push unsent changes to the server, then pull everyone else's.
    Sync {
        /// Print the sync report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the device id, the server, unsent changes and the sync cursor.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A record kind that this build can create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KindArg {
    /// A patrol of the grid (巡查).
    Patrol,
    /// A household or place visit (走访).
    Visit,
    /// A dispute (矛盾纠纷).
    Dispute,
    /// The daily report (有事报信息、无事报平安).
    #[value(name = "daily_report")]
    DailyReport,
}

impl From<KindArg> for RecordKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Patrol => RecordKind::Patrol,
            KindArg::Visit => RecordKind::Visit,
            KindArg::Dispute => RecordKind::Dispute,
            KindArg::DailyReport => RecordKind::DailyReport,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn kind_names_match_the_record_kinds() {
        for kind in KindArg::value_variants() {
            let name = kind.to_possible_value().map(|v| v.get_name().to_owned());
            assert_eq!(name, Some(RecordKind::from(*kind).name()));
        }
    }

    #[test]
    fn resolve_takes_a_negative_json_value() {
        let id = "0190f3a2-7b1c-7d4e-8f00-123456789abc";
        let cli = Cli::try_parse_from(["gridsync", "resolve", id, "count", "-3", "--json"]);
        match cli.map(|c| c.command) {
            Ok(Command::Resolve { value, json, .. }) => assert_eq!((value.as_str(), json), ("-3", true)),
            other => panic!("unexpected parse: {other:?}"),
        }
    }
}
