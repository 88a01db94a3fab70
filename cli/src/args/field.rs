//! Field work: patrols, visits, daily reports and base information.

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use gridsync_proto::rules::{HOUSEHOLD_CATEGORIES, PERSON_CATEGORIES, VISIT_PURPOSES};
use std::path::PathBuf;

use gridsync_proto::{Date, RecordId};

/// `patrol ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum PatrolCommand {
    /// Start a patrol of your grid; prints its id.
    Start {
        /// When it started, Unix milliseconds [default: now].
        #[arg(long, value_name = "MS")]
        at: Option<u64>,
    },
    /// Record a checkpoint: the place, the position and when.
    Checkpoint {
        /// The patrol's id.
        id: RecordId,
        /// The place, e.g. 东关村三组路口.
        #[arg(long, value_name = "TEXT")]
        place: String,
        /// Latitude, degrees.
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        /// Longitude, degrees.
        #[arg(long, allow_negative_numbers = true)]
        lon: f64,
        /// Accuracy radius, metres.
        #[arg(long, value_name = "METRES")]
        accuracy: f64,
        /// The handset reported a mock (simulated) location.
        #[arg(long)]
        mock: bool,
        /// A remark (`-`: read it from standard input; at most 20,000 characters).
        #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
        note: Option<String>,
        /// Read the remark from FILE (UTF-8; `-`: standard input).
        #[arg(long, value_name = "FILE", conflicts_with = "note")]
        note_file: Option<PathBuf>,
        /// When, Unix milliseconds [default: now].
        #[arg(long, value_name = "MS")]
        at: Option<u64>,
    },
    /// Link a finding of the patrol to the record it produced (a dispute, a visit).
    Finding {
        /// The patrol's id.
        id: RecordId,
        /// The record the finding produced (it must be on this device).
        record: RecordId,
        /// A remark (`-`: read it from standard input; at most 20,000 characters).
        #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
        note: Option<String>,
        /// Read the remark from FILE (UTF-8; `-`: standard input).
        #[arg(long, value_name = "FILE", conflicts_with = "note")]
        note_file: Option<PathBuf>,
    },
    /// End a patrol.
    End {
        /// The patrol's id.
        id: RecordId,
        /// What the patrol found, in a few words (`-`: read it from standard
        /// input; at most 20,000 characters).
        #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
        summary: Option<String>,
        /// Read the summary from FILE (UTF-8; `-`: standard input).
        #[arg(long, value_name = "FILE", conflicts_with = "summary")]
        summary_file: Option<PathBuf>,
        /// When it ended, Unix milliseconds [default: now].
        #[arg(long, value_name = "MS")]
        at: Option<u64>,
    },
}

/// `visit ...`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("whom").required(true).args(["household", "address"]))]
pub(crate) struct VisitArgs {
    /// Who was visited: general, or a special population.
    #[arg(long, value_name = "CAT", value_parser = PossibleValuesParser::new(PERSON_CATEGORIES))]
    pub(crate) category: String,
    /// Why.
    #[arg(long, value_name = "P", value_parser = PossibleValuesParser::new(VISIT_PURPOSES))]
    pub(crate) purpose: String,
    /// The household's base-information record (`household new`).
    #[arg(long, value_name = "ID")]
    pub(crate) household: Option<RecordId>,
    /// Or the address visited.
    #[arg(long, value_name = "TEXT")]
    pub(crate) address: Option<String>,
    /// What came of it (`-`: read it from standard input; at most 20,000 characters).
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub(crate) result: Option<String>,
    /// Read the result from FILE (UTF-8; `-`: standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "result")]
    pub(crate) result_file: Option<PathBuf>,
    /// When to follow up, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub(crate) follow_up: Option<Date>,
    /// The grid [default: your own].
    #[arg(long, value_name = "CODE")]
    pub(crate) grid: Option<String>,
    /// When, Unix milliseconds [default: now].
    #[arg(long, value_name = "MS")]
    pub(crate) at: Option<u64>,
    /// Where the worker stood.
    #[command(flatten)]
    pub(crate) gps: GpsArgs,
}

/// An optional position: all of `--lat`, `--lon` and `--accuracy`, or none.
#[derive(Debug, Args)]
pub(crate) struct GpsArgs {
    /// Latitude, degrees.
    #[arg(long, allow_negative_numbers = true, requires_all = ["lon", "accuracy"])]
    pub(crate) lat: Option<f64>,
    /// Longitude, degrees.
    #[arg(long, allow_negative_numbers = true, requires_all = ["lat", "accuracy"])]
    pub(crate) lon: Option<f64>,
    /// Accuracy radius, metres.
    #[arg(long, value_name = "METRES", requires_all = ["lat", "lon"])]
    pub(crate) accuracy: Option<f64>,
    /// The handset reported a mock (simulated) location.
    #[arg(long, requires = "lat")]
    pub(crate) mock: bool,
}

/// `report ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Nothing happened today (平安): the one call for a quiet day.
    AllSafe {
        /// The day [default: today in China Standard Time, UTC+8].
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<Date>,
        /// A remark (`-`: read it from standard input; at most 20,000 characters).
        #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
        note: Option<String>,
        /// Read the remark from FILE (UTF-8; `-`: standard input).
        #[arg(long, value_name = "FILE", conflicts_with = "note")]
        note_file: Option<PathBuf>,
    },
    /// Something happened: the day's patrols, visits and disputes that say what.
    Items {
        /// A record of the day, on this device (repeatable).
        #[arg(long = "item", value_name = "ID", required = true, num_args = 1..)]
        items: Vec<RecordId>,
        /// A remark (`-`: read it from standard input; at most 20,000 characters).
        #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
        note: Option<String>,
        /// Read the remark from FILE (UTF-8; `-`: standard input).
        #[arg(long, value_name = "FILE", conflicts_with = "note")]
        note_file: Option<PathBuf>,
        /// The day [default: today in China Standard Time, UTC+8].
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<Date>,
    },
}

/// `household ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum HouseholdCommand {
    /// Record a household or place in your grid; prints its id.
    New {
        /// What it is.
        #[arg(long, value_name = "CAT", value_parser = PossibleValuesParser::new(HOUSEHOLD_CATEGORIES))]
        category: String,
        /// A further field: door_plate, building, address, unit_name,
        /// population, residents, phone, gps, note, grid (KEY=TEXT or
        /// KEY:=JSON; repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}
