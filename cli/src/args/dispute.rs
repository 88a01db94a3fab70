//! Disputes and refused writes.

use std::path::PathBuf;

use clap::Subcommand;
use clap::builder::PossibleValuesParser;
use gridsync_proto::rules::{DISPUTE_SOURCES, MEDIATION_OUTCOMES};
use gridsync_proto::{Action, Date, Dot, RecordId};

/// `dispute ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum DisputeCommand {
    /// Register a dispute at your place, which owns it first; prints its id.
    New {
        /// What sort of dispute, e.g. 邻里纠纷.
        #[arg(long, value_name = "TEXT")]
        category: String,
        /// Where it came from.
        #[arg(long, value_name = "SRC", value_parser = PossibleValuesParser::new(DISPUTE_SOURCES))]
        source: String,
        /// What it is about (`-`: read it from standard input; at most 20,000 characters).
        #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
        summary: Option<String>,
        /// Read the summary from FILE (UTF-8; `-`: standard input).
        #[arg(long, value_name = "FILE", conflicts_with = "summary")]
        summary_file: Option<PathBuf>,
        /// Risk level, 1 (一般) to 4 (特别重大).
        #[arg(long, value_name = "N")]
        risk: Option<i64>,
        /// Where it happened [default: your own place].
        #[arg(long, value_name = "CODE")]
        place: Option<String>,
        /// A party's name (repeatable).
        #[arg(long = "party", value_name = "NAME")]
        parties: Vec<String>,
        /// The address.
        #[arg(long, value_name = "TEXT")]
        address: Option<String>,
        /// When it should be settled by.
        #[arg(long, value_name = "YYYY-MM-DD")]
        due: Option<Date>,
        /// The patrol or visit that found it.
        #[arg(long, value_name = "ID")]
        source_record: Option<RecordId>,
    },
    /// Take a lifecycle step; prints the step's id.
    Step {
        /// The dispute's id.
        id: RecordId,
        /// accept, mediate, resolve, follow_up, close, escalate, transfer,
        /// accept_transfer, return, request_closure, confirm_closure, assist,
        /// remind or acknowledge.
        action: Action,
        /// Transfer, assist: the department's unit code.
        #[arg(long, value_name = "CODE")]
        unit: Option<String>,
        /// The letter's number (文号).
        #[arg(long, value_name = "TEXT")]
        letter_number: Option<String>,
        /// The department's receipt when it signs for a transfer (回执).
        #[arg(long, value_name = "TEXT")]
        receipt: Option<String>,
        /// Reason, outcome or remark (resolve and request_closure need one;
        /// `-`: read it from standard input; at most 20,000 characters).
        #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
        note: Option<String>,
        /// Read the note from FILE (UTF-8; `-`: standard input).
        #[arg(long, value_name = "FILE", conflicts_with = "note")]
        note_file: Option<PathBuf>,
        /// Acknowledge: an overridden step's id (repeatable) [default: all of them].
        #[arg(long = "ack", value_name = "STEP")]
        acknowledges: Vec<Dot>,
    },
    /// Record a mediation session (调解).
    Mediation {
        /// The dispute's id.
        id: RecordId,
        /// How it ended.
        #[arg(long, value_name = "O", value_parser = PossibleValuesParser::new(MEDIATION_OUTCOMES))]
        outcome: String,
        /// Where.
        #[arg(long, value_name = "TEXT")]
        place: Option<String>,
        /// Who took part.
        #[arg(long, value_name = "TEXT")]
        participants: Option<String>,
        /// What was said and agreed (`-`: read it from standard input; at
        /// most 20,000 characters).
        #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
        note: Option<String>,
        /// Read the note from FILE (UTF-8; `-`: standard input).
        #[arg(long, value_name = "FILE", conflicts_with = "note")]
        note_file: Option<PathBuf>,
        /// When, Unix milliseconds [default: now].
        #[arg(long, value_name = "MS")]
        at: Option<u64>,
    },
    /// Show a dispute's lifecycle: stage, owner, departments and every step.
    Show {
        /// The dispute's id.
        id: RecordId,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `rejected ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum RejectedCommand {
    /// Forget a refused write once you have seen it (and redone it properly).
    Dismiss {
        /// The refused write's id, from `gridsync rejected`.
        id: i64,
    },
}
