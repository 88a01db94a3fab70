//! `gridsync-server`: the township sync endpoint.

use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use gridsync_proto::{ActorId, Date, Level, Place, Role, Unit};
use gridsync_server::backup;
use gridsync_server::config::{self, FileSettings, LogFormat, Overrides};
use gridsync_server::demo::{self, DemoOptions};
use gridsync_server::export::{self, Book, Format};
use gridsync_server::operator::{self, Operator, Zone};
use gridsync_server::{Database, Settings};
use gridsync_server_core::audit::{Anchor, AnchorCheck, Verdict};
use gridsync_server_core::ledger::{Month, Quarter};
use gridsync_server_core::service::Caller;
use gridsync_server_core::service::epoch::show;
use gridsync_server_core::service::places::ImportSummary;
use gridsync_server_core::service::reports::Filing;

/// Prints a line to standard output. When the reader has gone away
/// (`gridsync-server user list | head -1`) the command ends quietly with
/// success, instead of panicking as `println!` does.
macro_rules! out {
    ($($arg:tt)*) => {
        write_line(format_args!($($arg)*))
    };
}

fn write_line(line: std::fmt::Arguments<'_>) {
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_fmt(line).and_then(|()| stdout.write_all(b"\n")) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("gridsync-server: error: cannot write the output: {e}");
        std::process::exit(1);
    }
}

/// gridsync township sync server.
#[derive(Debug, Parser)]
#[command(name = "gridsync-server", version, about)]
struct Cli {
    /// Data directory (created on first start): the embedded database, and
    /// the TLS files of `tls self-signed`.
    #[arg(long, global = true, env = "GRIDSYNC_DATA", value_name = "DIR", help = data_help())]
    data: Option<PathBuf>,
    /// PostgreSQL database instead of the embedded one, shared by every
    /// server process: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (or
    /// postgresql://...). [default: the embedded SQLite database in the data
    /// directory]
    #[arg(long, global = true, env = "GRIDSYNC_DATABASE", hide_env_values = true, value_name = "URL")]
    database: Option<String>,
    /// Optional TOML settings file; flags and environment win over it.
    #[arg(long, global = true, env = "GRIDSYNC_CONFIG")]
    config: Option<PathBuf>,
    /// Show times in UTC instead of the deployment's time zone (the setting
    /// utc_offset_minutes, China time by default). JSON output is not
    /// affected: its times are Unix milliseconds.
    #[arg(long, global = true)]
    utc: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sync endpoint until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "GRIDSYNC_LISTEN")]
        listen: Option<SocketAddr>,
        /// HTTP worker threads, 1 or more [default: one per core].
        #[arg(long, env = "GRIDSYNC_WORKERS", value_name = "N", value_parser = parse_workers)]
        workers: Option<usize>,
        /// Log format.
        #[arg(long, env = "GRIDSYNC_LOG_FORMAT", value_enum)]
        log_format: Option<LogFormat>,
        /// PEM certificate chain for HTTPS (with --tls-key).
        #[arg(long, env = "GRIDSYNC_TLS_CERT", value_name = "FILE")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for HTTPS (with --tls-cert).
        #[arg(long, env = "GRIDSYNC_TLS_KEY", value_name = "FILE")]
        tls_key: Option<PathBuf>,
        #[command(flatten)]
        attachments: config::AttachmentFlags,
    },
    /// TLS certificates for serving HTTPS.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Places: city, county, township, village, grid.
    #[command(subcommand)]
    Place(PlaceCommand),
    /// Units (departments) that receive transferred disputes.
    #[command(subcommand)]
    Unit(UnitCommand),
    /// Users: workers, staff, departments, auditors.
    #[command(subcommand)]
    User(UserCommand),
    /// Issue a one-time enrollment code for a user's device: prints the code;
    /// with --qr, also its QR code (SVG) for the handset to scan.
    Enroll {
        /// The user the device will act for.
        #[arg(long)]
        user: String,
        /// How long the code stays valid: e.g. 30m, 24h, 7d.
        #[arg(long, default_value = "24h")]
        ttl: String,
        /// The server address the handsets use, put into the QR code: an
        /// absolute http:// or https:// URL of at most 512 bytes.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server_url: String,
        /// Write the QR code (SVG: the server URL and the code) to FILE
        /// (mode 0600; an existing file is overwritten), or to standard output with
        /// `--qr -` (the code then goes to standard error). Without --qr no
        /// file is written.
        #[arg(long, value_name = "FILE")]
        qr: Option<PathBuf>,
    },
    /// Enrolled devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Reports on the merged records.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Export the merged ledgers (一表一帐) to XLSX, CSV or JSON.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Copy an embedded deployment (its data directory) into an empty
    /// PostgreSQL database, keeping log positions, pull cursors, device keys
    /// and the audit chain, so handsets carry on without downloading anything
    /// again. Stop the server on DIR first; afterwards serve with
    /// --database.
    MigrateData {
        /// The data directory of the embedded deployment.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The PostgreSQL database to fill: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Copy the embedded database, online and consistent while `serve`
    /// runs, to FILE (mode 0600), with its manifest FILE.manifest.json (the
    /// audit chain's head, the server epoch, the log's last position), and
    /// the attachments of the fs store into FILE.blobs/. On PostgreSQL use
    /// pg_dump (docs/OPERATIONS.md); S3 attachments stay in their bucket.
    Backup {
        /// The file to write (replaced if it exists).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Print the manifest as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put a backup in place of the embedded database (stop the server
    /// first): checked against its manifest, given a new server epoch so
    /// that devices re-send what it lacks; the replaced database is kept
    /// aside; the attachments of FILE.blobs/ are copied back. On PostgreSQL
    /// use pg_restore, then `epoch renew`.
    Restore {
        /// The backup file (its manifest FILE.manifest.json beside it).
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Print what was done as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The server epoch that tells devices of a restore.
    #[command(subcommand)]
    Epoch(EpochCommand),
    /// Fill an empty database with a demo township and a month of its work,
    /// to try the product.
    Demo {
        /// Days of work, ending yesterday.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Villages in the township.
        #[arg(long, default_value_t = 6)]
        villages: usize,
        /// Grids per village.
        #[arg(long, default_value_t = 3)]
        grids: usize,
        /// Seed of the generator: the same seed makes the same township.
        #[arg(long, default_value_t = 20_261_201)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// A place's month: the statistics table (清单化管理统计表) and the
    /// classified dispute register (排查调处分类台帐), as of the log's
    /// current position.
    Month {
        /// The place: a village, township, county or city code.
        #[arg(long)]
        place: String,
        /// The month, YYYY-MM.
        #[arg(long)]
        month: Month,
        /// xlsx, csv (one file per sheet) or json.
        #[arg(long, default_value = "xlsx")]
        format: Format,
        /// Where to write: a file for xlsx and json, a directory for csv.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A county's or a city's townships and departments ranked for a
    /// quarter (季通报排名) by disputes found and by resolution rate.
    Ranking {
        /// The county or city code.
        #[arg(long)]
        place: String,
        /// The quarter, YYYY-Qn (e.g. 2026-Q4).
        #[arg(long)]
        quarter: Quarter,
        /// xlsx, csv (one file per sheet) or json.
        #[arg(long, default_value = "xlsx")]
        format: Format,
        /// Where to write: a file for xlsx and json, a directory for csv.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lock a place's month once it has ended: its ledgers and those of
    /// every place below it are kept as they are now, and every later
    /// export of them gives the same bytes. Later changes show as
    /// corrections (`export corrections`). A lock is never lifted.
    Lock {
        /// The place: a county (or a township, village…) code.
        #[arg(long)]
        place: String,
        /// The month, YYYY-MM.
        #[arg(long)]
        month: Month,
        /// Print the lock as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The locks taken, one per lock (not per place it covers).
    Locks {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// What changed since a month was locked: the table's counts and the
    /// register's rows that differ, and the records that arrived or
    /// changed after the lock, with why. Prints a summary, or writes the
    /// corrections as a workbook with --out.
    Corrections {
        /// The place.
        #[arg(long)]
        place: String,
        /// The locked month, YYYY-MM.
        #[arg(long)]
        month: Month,
        /// With --out: xlsx, csv (one file per sheet) or json.
        #[arg(long, default_value = "xlsx")]
        format: Format,
        /// Write the corrections there (a file for xlsx and json, a directory for csv).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Print the corrections as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The change feed for a mirror: the records within a place updated
    /// after a log position, as JSON lines ({"position", "record"}), then a
    /// line {"next", "more"}: resume with --after NEXT.
    Feed {
        /// The place whose records are mirrored.
        #[arg(long)]
        place: String,
        /// The position the mirror has (0: from the start).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Most records per page (1 to 1000).
        #[arg(long, default_value_t = 500)]
        limit: u32,
        /// Every page up to the log's end, not one.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Which grid workers filed their daily report for a day: on time, late or not at all.
    Daily {
        /// The place: every grid worker at or below it counts.
        #[arg(long)]
        place: String,
        /// The day, YYYY-MM-DD [default: yesterday].
        #[arg(long)]
        date: Option<Date>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator (the first one, or another).
    Create {
        /// The administrator's user name.
        #[arg(long)]
        user: String,
        /// Read the password from standard input instead of generating one.
        /// Either way it is one-time: changed at first login.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user.
    Add {
        /// The user name.
        name: String,
        /// administrator, county_admin, township_admin, department, auditor or worker.
        #[arg(long)]
        role: Role,
        /// The user's place code (a place added before; '' for the whole
        /// deployment). May be left out for a department user with --unit.
        #[arg(long, required_unless_present = "unit")]
        scope: Option<String>,
        /// The unit of a department user; their scope is the unit's place.
        #[arg(long)]
        unit: Option<String>,
        /// Read an admin-API password from standard input (one-time:
        /// changed at first login).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Assign a user to another place (or a department user to another unit).
    Move {
        /// The user name.
        name: String,
        /// The new place code. May be left out for a department user with --unit.
        #[arg(long, required_unless_present = "unit")]
        scope: Option<String>,
        /// The new unit of a department user.
        #[arg(long)]
        unit: Option<String>,
    },
    /// Deactivate a user and revoke all their devices.
    Deactivate {
        /// The user name.
        name: String,
    },
    /// Set a user's admin-API and console password, one-time (they choose
    /// their own at their next login), and end their sessions. Typed at a
    /// prompt that does not echo it, unless --password-stdin or --generate.
    Password {
        /// The user name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long, conflicts_with = "generate")]
        password_stdin: bool,
        /// Generate a password and print it once.
        #[arg(long)]
        generate: bool,
    },
    /// List users: name, role, scope, state and unit, under a header line.
    List {
        /// Print a JSON array of {name, role, scope, unit, active} instead.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PlaceCommand {
    /// Add a place under an existing parent of a higher level.
    Add {
        /// Its stable code, e.g. 530102001-03.
        code: String,
        /// Its name, e.g. 第三网格.
        #[arg(long)]
        name: String,
        /// city, county, township, village or grid (or 市, 县, 区, 乡, 镇, 街道, 村, 社区, 网格).
        #[arg(long, value_parser = Level::from_str)]
        level: Level,
        /// The place above it [default: the top of the deployment].
        #[arg(long)]
        parent: Option<String>,
    },
    /// Move a place (with everything below it) under another parent.
    Move {
        /// The place's code.
        code: String,
        /// The new parent's code ('' for the top of the deployment).
        #[arg(long)]
        parent: String,
    },
    /// List places: code, name, level and parent (the import CSV's order), under a header line.
    List {
        /// Print a JSON array of {code, name, level, parent} instead.
        #[arg(long)]
        json: bool,
    },
    /// Add or update places from a CSV file with the header code,name,level,parent.
    Import {
        /// The CSV file (UTF-8).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum UnitCommand {
    /// Add a unit (department) at an existing place.
    Add {
        /// Its stable code.
        code: String,
        /// Its name, e.g. 城关派出所.
        #[arg(long)]
        name: String,
        /// What sort of department, e.g. police, justice, housing.
        #[arg(long)]
        kind: String,
        /// The place it works at.
        #[arg(long)]
        place: String,
    },
    /// Move a unit to another place; its users follow it.
    Move {
        /// The unit's code.
        code: String,
        /// The place it now works at.
        #[arg(long)]
        place: String,
    },
    /// List units: code, name, kind and place (the import CSV's order), under a header line.
    List {
        /// Print a JSON array of {code, name, kind, place} instead.
        #[arg(long)]
        json: bool,
    },
    /// Add or update units from a CSV file with the header code,name,kind,place.
    Import {
        /// The CSV file (UTF-8).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// List devices: id, user, state, changes pushed and last sync, under a header line.
    List {
        /// Print a JSON array of {id, user, state, enrolled_ms, revoked_ms, wipe, last_push_ms,
        /// last_sync_ms, changes} instead.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device; with --wipe it erases its store at its next request.
    Revoke {
        /// The device id.
        id: ActorId,
        /// Order the device to erase its local data.
        #[arg(long)]
        wipe: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain; names the first broken entry and prints the
    /// head (ROWS:HASH) to keep elsewhere. With an expected head, a chain
    /// shorter than it or different from it fails.
    Verify {
        /// A head printed before (ROWS:HASH): the chain must still hold it.
        #[arg(long, value_name = "ROWS:HASH", conflicts_with = "manifest")]
        expect_head: Option<Anchor>,
        /// A backup's manifest: the chain must hold its audit head.
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum EpochCommand {
    /// Print the server epoch.
    Show,
    /// Give the server a new epoch, after restoring its database by other
    /// means than `restore` (pg_restore): every device re-sends what it
    /// sent and pulls from the start at its next sync.
    Renew,
}

#[derive(Debug, Subcommand)]
enum TlsCommand {
    /// Make a township CA and a server certificate signed by it, in DATA/tls/.
    SelfSigned {
        /// Host name or IP address the handsets use (repeat for several).
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// Validity in days.
        #[arg(long, default_value_t = 730)]
        days: u32,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
}

/// `--data`'s help: what it holds and where it is when left out.
fn data_help() -> String {
    let here = std::env::current_dir()
        .map(|dir| {
            format!(", here {}", dir.join(config::DEFAULT_DATA_DIR.trim_start_matches("./")).display())
        })
        .unwrap_or_default();
    format!(
        "Data directory (created on first start): the embedded database, and the TLS files of \
         `tls self-signed` [default: {} in the current directory{here}]",
        config::DEFAULT_DATA_DIR
    )
}

/// `--workers`: a number of threads, 1 or more.
fn parse_workers(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("give 1 or more worker threads, or leave --workers out for one per core".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("give a number of worker threads, 1 or more".into()),
    }
}

/// Refuses a data directory that is a file (or anything but a directory),
/// before anything tries to create or open it.
fn check_data_dir(data: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(data) {
        Ok(meta) if !meta.is_dir() => bail!(
            "--data {} is a file, not a directory: give --data (or GRIDSYNC_DATA, `data` in the \
             settings file) a directory, which is created on first start, or move the file away",
            data.display()
        ),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The whole chain of causes, without a backtrace.
            eprintln!("gridsync-server: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let file = match &cli.config {
        Some(path) => FileSettings::load(path)?,
        None => FileSettings::default(),
    };
    let utc = cli.utc;
    match cli.command {
        Command::Serve { listen, workers, log_format, tls_cert, tls_key, attachments } => {
            if workers.is_none() && file.workers == Some(0) {
                bail!(
                    "workers = 0 in the settings file: give 1 or more worker threads, or leave \
                     `workers` out for one per core"
                );
            }
            let metrics_token = std::env::var(config::METRICS_TOKEN_ENV).ok();
            let overrides = Overrides {
                data: cli.data,
                database: cli.database,
                listen,
                workers,
                log_format,
                metrics_token,
                attachments,
                s3_credentials: config::S3Credentials::from_env(),
            };
            let mut settings = config::resolve(overrides, file);
            if settings.database()?.is_embedded() {
                check_data_dir(&settings.data_dir)?;
            }
            settings.override_tls(tls_cert, tls_key);
            init_logging(settings.json_logs);
            serve(settings)
        }
        command => {
            let overrides = Overrides { data: cli.data, database: cli.database, ..Overrides::default() };
            let settings = config::resolve(overrides, file);
            if matches!(command, Command::Tls(_)) || settings.database()?.is_embedded() {
                check_data_dir(&settings.data_dir)?;
            }
            operate(command, &settings, Zone::new(settings.utc_offset_minutes, utc))
        }
    }
}

/// The commands that work on the database (or the data directory) rather
/// than serve it.
fn operate(command: Command, settings: &Settings, zone: Zone) -> anyhow::Result<()> {
    let data = settings.data_dir.clone();
    let open = || Operator::open(&settings.database()?, settings.service());
    match command {
        Command::Serve { .. } => unreachable!("handled by main"),
        Command::Report(ReportCommand::Daily { place, date, json }) => {
            report_daily(&open()?, &place, date, settings.utc_offset_minutes, zone, json)
        }
        Command::Export(ExportCommand::Month { place, month, format, out, json }) => {
            let op = open()?;
            let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let progress = Progress::start("records read", read.clone());
            let ledgers = op.run(op.service().month_ledgers_counted(&Caller::Operator, &place, month, read));
            progress.finish();
            let ledgers = ledgers?;
            let files = export::write_files(ledgers.book(), format, &out)?;
            let locked = ledgers.table.locked.is_some();
            exported(&files, ledgers.table.as_of.log_position, ledgers.rows.len(), locked, json)?;
            if let (Some(lock), false) = (&ledgers.table.locked, json) {
                let _ = writeln!(
                    io::stderr(),
                    "{month} is locked (by {} under {}): these are the locked figures; see `export corrections --place {place} --month {month}` for what changed since",
                    lock.locked_by,
                    lock.root
                );
            }
            Ok(())
        }
        Command::Export(ExportCommand::Lock { place, month, json }) => {
            let op = open()?;
            let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let progress = Progress::start("records read", read.clone());
            let lock = op.run(op.service().lock_month_counted(&Caller::Operator, &place, month, read));
            progress.finish();
            let lock = lock?;
            let head = &lock.head;
            if json {
                out!("{}", serde_json::json!({ "lock": head, "places_locked": lock.places_locked }));
            } else if lock.places_locked == 0 {
                out!(
                    "{} {} was locked already (by {} under {}, as of log position {})",
                    head.place,
                    head.month,
                    head.locked_by,
                    head.root,
                    head.as_of_position
                );
            } else {
                out!(
                    "locked {} {} and the places below it ({} places), as of log position {}",
                    head.place,
                    head.month,
                    lock.places_locked,
                    head.as_of_position
                );
            }
            Ok(())
        }
        Command::Export(ExportCommand::Locks { json }) => {
            let op = open()?;
            let locks = op.run(op.service().month_locks(&Caller::Operator))?;
            if json {
                out!("{}", serde_json::to_string_pretty(&locks)?);
                return Ok(());
            }
            for l in &locks {
                let at = zone.show(u64::try_from(l.locked_ms).unwrap_or_default());
                out!("{}\t{}\tas of {}\tby {}\tat {at}", l.month, l.place, l.as_of_position, l.locked_by);
            }
            out!("{} locks", locks.len());
            Ok(())
        }
        Command::Export(ExportCommand::Corrections { place, month, format, out, json }) => {
            let op = open()?;
            let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let progress = Progress::start("records read", read.clone());
            let corrections =
                op.run(op.service().month_corrections_counted(&Caller::Operator, &place, month, read));
            progress.finish();
            let corrections = corrections?;
            if let Some(out) = out {
                let files = export::write_files(corrections.book(), format, &out)?;
                let rows = corrections.figures.len() + corrections.disputes.len() + corrections.late.len();
                return exported(&files, corrections.now.log_position, rows, false, json);
            }
            if json {
                out!("{}", serde_json::to_string_pretty(&corrections)?);
                return Ok(());
            }
            print_corrections(&corrections);
            Ok(())
        }
        Command::Export(ExportCommand::Ranking { place, quarter, format, out, json }) => {
            let op = open()?;
            let rankings = op.run(op.service().quarter_rankings(&Caller::Operator, &place, quarter))?;
            let book = Book {
                title: format!("{}{}矛盾纠纷排查化解排名", rankings.place_name, quarter.label()),
                as_of_ms: rankings.as_of.time_ms,
                sheets: rankings.sheets(),
            };
            let files = export::write_files(book, format, &out)?;
            let entries =
                rankings.townships_by_found.entries.len() + rankings.departments_by_found.entries.len();
            exported(&files, rankings.as_of.log_position, entries, false, json)
        }
        Command::Export(ExportCommand::Feed { place, mut after, limit, all }) => {
            let op = open()?;
            loop {
                let page = op.run(op.service().feed(&Caller::Operator, &place, after, limit))?;
                for record in &page.records {
                    out!("{}", serde_json::to_string(record)?);
                }
                after = page.next;
                if !(all && page.more) {
                    out!("{}", serde_json::json!({ "next": page.next, "more": page.more }));
                    return Ok(());
                }
            }
        }
        Command::MigrateData { from, to, json } => migrate_data(&from, &to, json),
        Command::Demo { days, villages, grids, seed } => {
            let database = settings.database()?;
            let made = demo::fill_database(&database, &DemoOptions { days, villages, grids, seed })?;
            out!(
                "demo township {} made: {} places, {} departments, {} users with devices",
                made.township,
                made.places,
                made.units,
                made.users
            );
            out!(
                "{days} days of work: {} records, {} changes, {} disputes ({} closed)",
                made.records,
                made.changes,
                made.disputes.0,
                made.disputes.1
            );
            out!("administrator {} (one-time password): {}", made.admin.0, made.admin.1);
            out!("township centre {} (one-time password): {}", made.centre.0, made.centre.1);
            let location = match &database {
                Database::Embedded { data_dir } => format!("--data {}", data_dir.display()),
                Database::Postgres { .. } => format!("--database {}", database.describe()),
            };
            out!("try: gridsync-server {location} report daily --place {}", made.township);
            Ok(())
        }
        Command::Place(command) => place(command, &open()?),
        Command::Unit(command) => unit(command, &open()?),
        Command::Tls(TlsCommand::SelfSigned { hosts, days, force }) => {
            let files = gridsync_server::tls::write_self_signed(&data, &hosts, days, force)?;
            out!("township CA:        {}", files.ca.display());
            out!("server certificate: {}", files.cert.display());
            out!("server key:         {}", files.key.display());
            out!("CA SHA-256 fingerprint: {}", files.ca_sha256);
            out!("Install the CA on each handset and compare its fingerprint with the one above.");
            Ok(())
        }
        Command::Admin(AdminCommand::Create { user, password_stdin }) => {
            let password = password_stdin.then(operator::password_from_stdin).transpose()?;
            match open()?.create_admin(&user, password)? {
                Some(generated) => {
                    out!("administrator {user} created; one-time password (shown once):");
                    out!("{generated}");
                }
                None => out!("administrator {user} created"),
            }
            Ok(())
        }
        Command::User(UserCommand::Add { name, role, scope, unit, password_stdin }) => {
            let password = password_stdin.then(operator::password_from_stdin).transpose()?;
            let user = open()?.add_user(&name, role, scope.as_deref(), unit.as_deref(), password)?;
            out!(
                "user {} added ({}, scope {}{})",
                user.name,
                user.role,
                display_scope(&user.scope),
                unit_of(&user.unit)
            );
            Ok(())
        }
        Command::User(UserCommand::Move { name, scope, unit }) => {
            let user = open()?.move_user(&name, scope.as_deref().unwrap_or_default(), unit.as_deref())?;
            out!(
                "user {} assigned to scope {}{}",
                user.name,
                display_scope(&user.scope),
                unit_of(&user.unit)
            );
            Ok(())
        }
        Command::User(UserCommand::Deactivate { name }) => {
            let revoked = open()?.deactivate_user(&name)?;
            out!("user {name} deactivated; {revoked} device(s) revoked");
            Ok(())
        }
        Command::User(UserCommand::Password { name, password_stdin, generate }) => {
            let set =
                open()?.set_password(&name, operator::NewPassword::from_flags(password_stdin, generate))?;
            match set.generated {
                Some(password) => {
                    out!(
                        "one-time password of {name} set (shown once); {} session(s) ended:",
                        set.sessions_ended
                    );
                    out!("{password}");
                }
                None => out!("one-time password of {name} set; {} session(s) ended", set.sessions_ended),
            }
            Ok(())
        }
        Command::User(UserCommand::List { json }) => {
            let users = open()?.list_users()?;
            if json {
                let rows: Vec<_> = users.iter().map(operator::user_json).collect();
                out!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = users
                .iter()
                .map(|u| {
                    let state = if u.active { "active" } else { "deactivated" };
                    let unit = u.unit.as_deref().unwrap_or("-");
                    vec![
                        u.name.clone(),
                        u.role.to_string(),
                        display_scope(&u.scope).to_owned(),
                        state.into(),
                        unit.into(),
                    ]
                })
                .collect();
            print_table(&["NAME", "ROLE", "SCOPE", "STATE", "UNIT"], &rows);
            Ok(())
        }
        Command::Enroll { user, ttl, server_url, qr } => enroll(&open()?, &user, &ttl, &server_url, qr, zone),
        Command::Device(DeviceCommand::List { json }) => {
            let devices = open()?.list_devices_synced()?;
            if json {
                let rows: Vec<_> = devices.iter().map(operator::device_json).collect();
                out!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = devices
                .iter()
                .map(|listed| {
                    let d = &listed.device;
                    let user = d.user.as_deref().unwrap_or("-");
                    vec![
                        d.id.to_string(),
                        user.into(),
                        operator::device_state(d).into(),
                        d.changes.to_string(),
                        zone.show_or(listed.last_sync_ms, "never"),
                    ]
                })
                .collect();
            print_table(&["ID", "USER", "STATE", "CHANGES", "LAST SYNC"], &rows);
            Ok(())
        }
        Command::Device(DeviceCommand::Revoke { id, wipe }) => {
            open()?.revoke_device(id, wipe)?;
            let order = if wipe { " with a wipe order" } else { "" };
            out!("device {id} revoked{order}; it is refused from its next request");
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { expect_head, manifest }) => {
            let anchor = match manifest {
                Some(path) => Some(backup::read_manifest(&path)?.anchor()),
                None => expect_head,
            };
            let (verdict, check) = operator::verify_audit_anchored(&settings.database()?, anchor.clone())?;
            match verdict {
                Verdict::Intact { rows, head } => {
                    out!("audit log intact: {rows} entries, head {rows}:{head}")
                }
                Verdict::Broken { seq, reason } => {
                    eprintln!("audit log BROKEN at entry {seq}: {reason}");
                    std::process::exit(1);
                }
            }
            match (anchor, check) {
                (Some(anchor), Some(AnchorCheck::Holds)) => out!("it holds the expected head {anchor}"),
                (Some(anchor), Some(AnchorCheck::Truncated { rows, anchored })) => {
                    eprintln!(
                        "audit log TRUNCATED: {rows} entries, but the expected head {anchor} had {anchored}: \
                         {} entries are missing from its end",
                        anchored - rows
                    );
                    std::process::exit(1);
                }
                (Some(anchor), Some(AnchorCheck::Diverges { at })) => {
                    eprintln!("audit log ALTERED: entry {at} is not the expected head {anchor}");
                    std::process::exit(1);
                }
                _ => {}
            }
            Ok(())
        }
        Command::Backup { to, json } => {
            let made = backup::backup(&settings.database()?, &to)?;
            if json {
                out!("{}", serde_json::to_string_pretty(&made.manifest)?);
            } else {
                let m = &made.manifest;
                out!("wrote {} ({} bytes) in {:.1} s", to.display(), m.bytes, made.took.as_secs_f64());
                out!("manifest {}", made.manifest_path.display());
                out!("epoch {}, log position {}, audit head {}", m.server_epoch, m.log_position, m.anchor());
                if let Some(blobs) = &m.blobs {
                    out!("attachments: {} files ({} bytes) in {}", blobs.files, blobs.bytes, blobs.dir);
                }
            }
            if made.damaged_blobs > 0 {
                let _ = writeln!(
                    io::stderr(),
                    "{} attachment files in the data directory are damaged (their bytes are not their hash) \
                     and were left out; the server log names them",
                    made.damaged_blobs
                );
            }
            if settings.attachments.store == gridsync_server::blobs::StoreKind::S3 {
                let _ = writeln!(
                    io::stderr(),
                    "attachments are in the S3 bucket {}, not in this backup: keep the bucket's versioning on \
                     (docs/OPERATIONS.md, Attachments)",
                    settings.attachments.s3.bucket
                );
            }
            Ok(())
        }
        Command::Restore { from, json } => {
            let restored = backup::restore(&settings.database()?, &from)?;
            let kept = restored.kept.as_ref().map(|p| p.display().to_string());
            let epoch = show(restored.epoch);
            if json {
                let m = &restored.manifest;
                out!(
                    "{}",
                    serde_json::json!({ "restored": from, "log_position": m.log_position, "audit": m.audit, "backup_epoch": m.server_epoch, "epoch": epoch, "kept": kept, "blobs_written": restored.blobs_written })
                );
            } else {
                out!(
                    "restored {} (log position {}, audit head {})",
                    from.display(),
                    restored.manifest.log_position,
                    restored.manifest.anchor()
                );
                out!("new server epoch {epoch}: devices re-send what they sent since, at their next sync");
                if restored.manifest.blobs.is_some() {
                    out!("attachments: {} files copied back", restored.blobs_written);
                }
                match kept {
                    Some(kept) => out!("the replaced database is kept as {kept}"),
                    None => out!("there was no database to replace"),
                }
            }
            Ok(())
        }
        Command::Epoch(EpochCommand::Show) => {
            let op = open()?;
            out!("{}", show(op.run(op.service().server_epoch())?));
            Ok(())
        }
        Command::Epoch(EpochCommand::Renew) => {
            let renewal = backup::renew_epoch(&settings.database()?)?;
            out!("server epoch {} replaced by {}", show(renewal.before), show(renewal.epoch));
            Ok(())
        }
    }
}

/// `migrate-data`: copies the embedded database of `from` into the
/// PostgreSQL database `to` and prints what was copied.
fn migrate_data(from: &Path, to: &str, json: bool) -> anyhow::Result<()> {
    if !gridsync_server_postgres::is_postgres_url(to) {
        // Not repeated: it may hold a password.
        bail!(
            "--to takes a PostgreSQL URL, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE \
             (or postgresql://...)"
        );
    }
    let report = gridsync_server::migrate::migrate_data(from, to)?;
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!("{report}");
    }
    Ok(())
}

/// `enroll`: prints the one-time code (standard output) and what it is
/// for (standard error); with `--qr FILE` writes its QR code there (mode
/// 0600: it holds the live code), with `--qr -` to standard output (the code
/// then goes to standard error). Never names a file after the user.
fn enroll(
    op: &Operator,
    user: &str,
    ttl: &str,
    server_url: &str,
    qr: Option<PathBuf>,
    zone: Zone,
) -> anyhow::Result<()> {
    let issued = op.issue_code(user, operator::parse_ttl(ttl)?, server_url)?;
    let until = zone.show(issued.expires_ms);
    let to_stdout = qr.as_deref() == Some(Path::new("-"));
    if to_stdout {
        eprintln!("{}", issued.code);
        out!("{}", issued.qr_svg.trim_end());
    } else {
        out!("{}", issued.code);
    }
    let about = format!("one-time code for {user} at {server_url}, valid until {until}");
    match qr {
        None => {
            eprintln!("{about}; give --qr FILE to also write it as a QR code (SVG) for the handset to scan")
        }
        Some(_) if to_stdout => eprintln!("{about}; QR code (SVG) written to standard output"),
        Some(path) => {
            write_private(&path, issued.qr_svg.as_bytes()).with_context(|| {
                format!(
                    "the code above was issued, but its QR code could not be written to {}",
                    path.display()
                )
            })?;
            eprintln!("{about}; QR code (SVG) written to {}", path.display());
        }
    }
    Ok(())
}

/// Writes `bytes` to `path`, replacing its content, readable by its owner
/// only (an existing file too, before anything is written to it).
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)
}

/// `report daily`: one line per grid worker, then the counts.
/// A count shown on stderr while a long command runs, when stderr is a
/// terminal (never in a pipe or a log): `N records read`, redrawn in place
/// five times a second, from the second second on.
struct Progress {
    stop: Option<std::sync::mpsc::Sender<()>>,
    drawer: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(what: &'static str, count: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Progress {
        if !io::stderr().is_terminal() {
            return Progress { stop: None, drawer: None };
        }
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let drawer = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let tick = std::time::Duration::from_millis(200);
            let mut drawn = false;
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                if started.elapsed().as_secs() >= 1 {
                    let n = count.load(std::sync::atomic::Ordering::Relaxed);
                    let _ = write!(io::stderr(), "\r{n} {what} ({:.0} s)", started.elapsed().as_secs_f64());
                    drawn = true;
                }
            }
            if drawn {
                let _ = writeln!(io::stderr());
            }
        });
        Progress { stop: Some(stop), drawer: Some(drawer) }
    }

    fn finish(mut self) {
        drop(self.stop.take());
        if let Some(drawer) = self.drawer.take() {
            let _ = drawer.join();
        }
    }
}

/// A summary of a locked month's corrections.
fn print_corrections(c: &gridsync_server_core::ledger::Corrections) {
    out!(
        "{} {}: locked as of log position {}, now at {}",
        c.place,
        c.month,
        c.locked_as_of.log_position,
        c.now.log_position
    );
    for f in &c.figures {
        out!("figure\t{}\t{}\t{}\t{} → {}", f.line_name, f.category, f.header, f.locked, f.now);
    }
    for d in &c.disputes {
        let fields: Vec<&str> = d.fields.iter().map(|f| f.header.as_str()).collect();
        out!("dispute\t{}\t{:?}\t{}\t{:?}", d.id, d.change, fields.join(","), d.reason);
    }
    for r in &c.late {
        out!("late\t{}\t{}\t{}\t{} changes\t{:?}", r.id, r.kind, r.line_name, r.changes, r.reason);
    }
    out!(
        "{} figures, {} disputes and {} records differ from the lock",
        c.figures.len(),
        c.disputes.len(),
        c.late.len()
    );
}

/// Says what an export wrote, and whether it is a locked month's.
fn exported(files: &[PathBuf], as_of: u64, rows: usize, locked: bool, json: bool) -> anyhow::Result<()> {
    if json {
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let summary = serde_json::json!({ "files": files, "as_of_log_position": as_of, "rows": rows, "locked": locked });
        out!("{summary}");
        return Ok(());
    }
    for file in files {
        out!("wrote {}", file.display());
    }
    out!("{rows} rows, as of log position {as_of}");
    Ok(())
}

fn report_daily(
    op: &Operator,
    place: &str,
    date: Option<Date>,
    utc_offset_minutes: i32,
    zone: Zone,
    json: bool,
) -> anyhow::Result<()> {
    let date = match date {
        Some(date) => date,
        None => Date::of_millis(gridsync_server_core::clock::now_ms() as i64, utc_offset_minutes)
            .and_then(Date::previous)
            .context("the clock gives no date")?,
    };
    let report = op.daily_report(place, date)?;
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for w in &report.workers {
        let filing = match w.filing {
            Filing::OnTime => "on time",
            Filing::Late => "late",
            Filing::Missing => "missing",
        };
        let filed = zone.show_or(w.filed_ms, "-");
        out!("{}\t{}\t{filing}\t{}\t{filed}", w.place, w.worker, w.status.as_deref().unwrap_or("-"));
    }
    out!(
        "{date} {place}: {} on time, {} late, {} missing (of {}); due by {}",
        report.on_time,
        report.late,
        report.missing,
        report.workers.len(),
        zone.show(report.deadline_ms)
    );
    Ok(())
}

fn display_scope(scope: &str) -> &str {
    if scope.is_empty() { "(all)" } else { scope }
}

fn unit_of(unit: &Option<String>) -> String {
    unit.as_ref().map(|u| format!(", unit {u}")).unwrap_or_default()
}

/// Prints a list's header and rows, aligned (see [`operator::aligned`]).
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    for line in operator::aligned(header, rows) {
        out!("{line}");
    }
}

fn print_summary(file: &std::path::Path, s: ImportSummary) {
    out!("imported {}: {} added, {} updated, {} unchanged", file.display(), s.added, s.updated, s.unchanged);
}

/// `place ...`.
fn place(command: PlaceCommand, op: &Operator) -> anyhow::Result<()> {
    match command {
        PlaceCommand::Add { code, name, level, parent } => {
            let place = Place { code, name, level, parent: parent.filter(|p| !p.is_empty()) };
            op.add_place(&place)?;
            let under = place.parent.as_deref().unwrap_or("the top of the deployment");
            out!("place {} added ({}, under {under})", place.code, place.level);
        }
        PlaceCommand::Move { code, parent } => {
            let moved = op.move_place(&code, Some(parent.as_str()).filter(|p| !p.is_empty()))?;
            let under = moved.parent.as_deref().unwrap_or("the top of the deployment");
            out!("place {} now under {under}", moved.code);
        }
        PlaceCommand::List { json } => {
            let places = op.list_places()?;
            if json {
                out!("{}", serde_json::to_string_pretty(&places)?);
            } else {
                let rows: Vec<Vec<String>> = places
                    .into_iter()
                    .map(|p| {
                        let parent = p.parent.unwrap_or_else(|| "-".into());
                        vec![p.code, p.name, p.level.to_string(), parent]
                    })
                    .collect();
                print_table(&["CODE", "NAME", "LEVEL", "PARENT"], &rows);
            }
        }
        PlaceCommand::Import { file } => {
            let text = operator::read_csv(&file)?;
            print_summary(&file, op.import_places(&text)?);
        }
    }
    Ok(())
}

/// `unit ...`.
fn unit(command: UnitCommand, op: &Operator) -> anyhow::Result<()> {
    match command {
        UnitCommand::Add { code, name, kind, place } => {
            let unit = Unit { code, name, kind, place };
            op.add_unit(&unit)?;
            out!("unit {} added ({}, at {})", unit.code, unit.kind, unit.place);
        }
        UnitCommand::Move { code, place } => {
            let unit = op.move_unit(&code, &place)?;
            out!("unit {} now at {}", unit.code, unit.place);
        }
        UnitCommand::List { json } => {
            let units = op.list_units()?;
            if json {
                out!("{}", serde_json::to_string_pretty(&units)?);
            } else {
                let rows: Vec<Vec<String>> =
                    units.into_iter().map(|u| vec![u.code, u.name, u.kind, u.place]).collect();
                print_table(&["CODE", "NAME", "KIND", "PLACE"], &rows);
            }
        }
        UnitCommand::Import { file } => {
            let text = operator::read_csv(&file)?;
            print_summary(&file, op.import_units(&text)?);
        }
    }
    Ok(())
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve(settings: gridsync_server::Settings) -> anyhow::Result<()> {
    let ran = actix_web::rt::System::new().block_on(async {
        let database = settings.database()?;
        let (server, addrs, backend) = gridsync_server::app::build(&settings, true)?;
        let listen: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        tracing::info!(
            listen = %listen.join(","),
            https = settings.tls_cert.is_some(),
            storage = backend.storage.backend(),
            database = %database.describe(),
            version = env!("CARGO_PKG_VERSION"),
            "gridsync-server ready"
        );
        let result = server.await.context("server failed");
        anyhow::Ok((result, backend))
    });
    let (result, backend) = ran?;
    // Every other store handle is gone with the workers: the writer drains
    // and ends (joined outside the actix system: joining blocks).
    backend.join();
    tracing::info!("gridsync-server stopped");
    result
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    const URL: &str = "postgres://grid:pw@db.lan:5432/gridsync";

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn database_is_a_global_flag() {
        let before = ["gridsync-server", "--database", URL, "place", "list"];
        let after = ["gridsync-server", "place", "list", "--database", URL];
        for args in [before, after] {
            let cli = Cli::try_parse_from(args).expect("parses");
            assert_eq!(cli.database.as_deref(), Some(URL));
            assert!(matches!(cli.command, Command::Place(PlaceCommand::List { json: false })));
        }
        let serve = Cli::try_parse_from(["gridsync-server", "serve", "--database", URL]).expect("parses");
        assert_eq!(serve.database.as_deref(), Some(URL));
    }

    #[test]
    fn migrate_data_takes_a_directory_and_a_url() {
        let args = ["gridsync-server", "migrate-data", "--from", "/srv/g", "--to", URL, "--json"];
        let cli = Cli::try_parse_from(args).expect("parses");
        match cli.command {
            Command::MigrateData { from, to, json } => {
                assert_eq!((from, to.as_str(), json), (PathBuf::from("/srv/g"), URL, true));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["gridsync-server", "migrate-data", "--from", "/srv/g"]).is_err());
        let refused =
            migrate_data(Path::new("/srv/g"), "mysql://root:pw@db/g", false).expect_err("not postgres");
        assert!(refused.to_string().contains("--to") && !refused.to_string().contains("pw@"), "{refused}");
    }
}
