//! The command line, as clap derive types. Parsing only: no I/O here.

mod dispute;
mod field;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use gridsync_proto::{ContentHash, Dot, RecordId, RecordKind};

pub(crate) use dispute::{DisputeCommand, RejectedCommand};
pub(crate) use field::{GpsArgs, HouseholdCommand, PatrolCommand, ReportCommand, VisitArgs};

/// gridsync on this device: record patrols, visits, disputes and daily
/// reports offline, and sync them with the township server when there is a
/// connection.
///
/// Every write is checked with the record rules for the enrolled user, as
/// the server will check it; enroll the device first (`init --code`).
/// Field values are given as `KEY=TEXT` (always text) or `KEY:=JSON` (a
/// number, true/false, null, a list or an object). Long texts (notes,
/// summaries, results) may be read from standard input (`-`) or a file
/// (`--note-file FILE`, …); each holds at most 20,000 characters. Exit codes: 0 ok, 1 usage,
/// validation or rule error, 2 sync refused by the server, 3 server
/// unreachable (unsent changes are kept; sync again later), 4 device revoked,
/// 5 store damaged (it refuses writes and syncs: run `gridsync doctor`).
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

    /// Show times in text output in UTC instead of China Standard Time
    /// (UTC+8). JSON output is always Unix milliseconds.
    #[arg(long, global = true)]
    pub(crate) utc: bool,

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
        /// The author name kept until enrollment (enrollment sets it to the
        /// enrolled user's name).
        #[arg(long, value_name = "NAME", default_value = "worker")]
        author: String,
        /// One-time enrollment code from the township: enrolls the device now.
        #[arg(long, value_name = "CODE")]
        code: Option<String>,
        /// The township CA (PEM) to trust, alone, for an https:// server
        /// (refused with an http:// URL, which would not use it).
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
    },
    /// Move this device to a new server address, keeping its identity,
    /// keys, unsent changes and records; the next sync goes there.
    SetServer {
        /// The server's new address, e.g. http://10.1.2.4:8080
        #[arg(value_name = "URL")]
        server: String,
        /// The township CA (PEM) to trust, alone, for an https:// server
        /// (refused with an http:// URL). Without it a CA trusted before is
        /// kept, and the URL must then be https://.
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
    },
    /// Enroll this device with a one-time code from the township.
    Enroll {
        /// The enrollment code (or the QR code's text).
        code: String,
    },
    /// Create a record with exactly the fields given; prints its id.
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
        /// The note text, at most 20,000 characters (`-`: read it from
        /// standard input).
        #[arg(allow_hyphen_values = true, required_unless_present = "text_file")]
        text: Option<String>,
        /// Read the note from FILE (UTF-8, at most 20,000 characters; `-`:
        /// standard input) instead of TEXT.
        #[arg(long, value_name = "FILE", conflicts_with = "text")]
        text_file: Option<PathBuf>,
    },
    /// Show one record: fields, conflicts, entries and a dispute's stage.
    Show {
        /// The record id.
        id: RecordId,
        /// Print the record's JSON view instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List records, oldest first.
    List {
        /// Only records of this kind (patrol, visit, dispute, daily_report, household).
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
    /// Patrols of the grid (巡查): start, checkpoints, findings, end.
    #[command(subcommand)]
    Patrol(PatrolCommand),
    /// Record a household or place visit (走访); prints its id.
    Visit(VisitArgs),
    /// File the daily report (有事报信息、无事报平安); prints its id.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Disputes (矛盾纠纷): register, take lifecycle steps, mediate, show.
    #[command(subcommand)]
    Dispute(DisputeCommand),
    /// Base information on households and places (门牌、楼栋、人口、单位).
    #[command(subcommand)]
    Household(HouseholdCommand),
    /// Writes the server refused, with its reason; `rejected dismiss ID` once seen.
    Rejected {
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
        /// What to do with them (list them when absent).
        #[command(subcommand)]
        command: Option<RejectedCommand>,
    },
    /// Attach a photo (JPEG, PNG, WebP, HEIC) or PDF to a record: kept
    /// encrypted with the store, uploaded after a later sync; prints its hash.
    Attach {
        /// The record id.
        record: RecordId,
        /// The file (at most 20 MiB; its kind is taken from its bytes).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// A name to show for it (not taken from FILE otherwise).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// The entry of the record it belongs to (DEVICE:COUNTER, as `show` prints).
        #[arg(long, value_name = "DOT")]
        entry: Option<Dot>,
        /// Print the attachment as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a record's attachments: hash, kind, size, whether on this
    /// device and on the server.
    Attachments {
        /// The record id.
        record: RecordId,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a decrypted copy of an attachment on this device into a
    /// directory (never into the current one unasked); prints its path.
    OpenAttachment {
        /// The attachment's hash (as `attachments` prints it).
        #[arg(value_name = "HASH")]
        hash: ContentHash,
        /// The directory to write the copy into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Download an attachment of a record from the server into this
    /// device's cache (resuming an interrupted download).
    FetchAttachment {
        /// The record id.
        record: RecordId,
        /// The attachment's hash.
        #[arg(value_name = "HASH")]
        hash: ContentHash,
    },
    /// Push unsent changes to the server, then pull everyone else's.
    Sync {
        /// Print the sync report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the device, its user, unsent changes, refused writes and the sync cursor.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the store thoroughly and, if it is damaged, salvage its device
    /// identity, unsent changes and refused writes into a fresh store, which
    /// takes its place; the damaged file is kept aside as FILE.damaged-N.
    /// The next `sync` sends the unsent changes first, then pulls every
    /// record again.
    Doctor {
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
    /// Base information on a household or place (门牌、楼栋、人口、单位).
    Household,
}

impl From<KindArg> for RecordKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Patrol => RecordKind::Patrol,
            KindArg::Visit => RecordKind::Visit,
            KindArg::Dispute => RecordKind::Dispute,
            KindArg::DailyReport => RecordKind::DailyReport,
            KindArg::Household => RecordKind::Household,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use gridsync_proto::Action;

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
        assert_eq!(KindArg::value_variants().len(), RecordKind::KNOWN.len());
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

    #[test]
    fn every_step_action_parses() {
        let id = "0190f3a2-7b1c-7d4e-8f00-123456789abc";
        for action in Action::ALL {
            let cli = Cli::try_parse_from(["gridsync", "dispute", "step", id, action.name()]);
            match cli.map(|c| c.command) {
                Ok(Command::Dispute(DisputeCommand::Step { action: parsed, .. })) => {
                    assert_eq!(parsed, action)
                }
                other => panic!("{action}: unexpected parse: {other:?}"),
            }
        }
        assert!(Cli::try_parse_from(["gridsync", "dispute", "step", id, "settle"]).is_err());
    }

    #[test]
    fn a_visit_names_a_household_or_an_address_and_a_whole_position() {
        let base = ["gridsync", "visit", "--category", "general", "--purpose", "routine"];
        let parse = |extra: &[&str]| Cli::try_parse_from(base.iter().chain(extra)).map(|c| c.command);
        assert!(parse(&[]).is_err(), "neither household nor address");
        assert!(parse(&["--address", "东关村3号"]).is_ok());
        let id = "0190f3a2-7b1c-7d4e-8f00-123456789abc";
        assert!(parse(&["--address", "x", "--household", id]).is_err(), "both");
        assert!(parse(&["--address", "x", "--lat", "25.0"]).is_err(), "a partial position");
        match parse(&["--address", "x", "--lat", "-25.5", "--lon", "-102.7", "--accuracy", "8"]) {
            Ok(Command::Visit(v)) => {
                assert_eq!(v.gps.lat, Some(-25.5));
                assert_eq!(v.gps.lon, Some(-102.7));
            }
            other => panic!("unexpected parse: {other:?}"),
        }
    }

    #[test]
    fn rejected_lists_or_dismisses() {
        match Cli::try_parse_from(["gridsync", "rejected", "--json"]).map(|c| c.command) {
            Ok(Command::Rejected { json: true, command: None }) => {}
            other => panic!("unexpected parse: {other:?}"),
        }
        match Cli::try_parse_from(["gridsync", "rejected", "dismiss", "7"]).map(|c| c.command) {
            Ok(Command::Rejected { command: Some(RejectedCommand::Dismiss { id: 7 }), .. }) => {}
            other => panic!("unexpected parse: {other:?}"),
        }
    }
}
