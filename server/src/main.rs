//! `gridsync-server`: the township sync endpoint.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gridsync_proto::{ActorId, Role};
use gridsync_server::audit::Verdict;
use gridsync_server::config::{self, FileSettings, LogFormat, Overrides};
use gridsync_server::operator;

/// gridsync township sync server.
#[derive(Debug, Parser)]
#[command(name = "gridsync-server", version, about)]
struct Cli {
    /// Data directory (created on first start).
    #[arg(long, global = true, env = "GRIDSYNC_DATA")]
    data: Option<PathBuf>,
    /// Optional TOML settings file; flags and environment win over it.
    #[arg(long, global = true, env = "GRIDSYNC_CONFIG")]
    config: Option<PathBuf>,
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
        /// HTTP worker threads [default: one per core].
        #[arg(long, env = "GRIDSYNC_WORKERS")]
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
    },
    /// TLS certificates for serving HTTPS.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Users: workers, staff, departments, auditors.
    #[command(subcommand)]
    User(UserCommand),
    /// Issue a one-time enrollment code for a user's device, printed and as a QR code.
    Enroll {
        /// The user the device will act for.
        #[arg(long)]
        user: String,
        /// How long the code stays valid: e.g. 30m, 24h, 7d.
        #[arg(long, default_value = "24h")]
        ttl: String,
        /// The server address the handsets use, put into the QR code.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server_url: String,
        /// Where to write the QR code (SVG) [default: enroll-USER.svg].
        #[arg(long, value_name = "FILE")]
        qr: Option<PathBuf>,
    },
    /// Enrolled devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator (the first one, or another).
    Create {
        /// The administrator's user name.
        #[arg(long)]
        user: String,
        /// Read the password from standard input instead of generating one.
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
        /// The user's place code in the hierarchy, e.g. 5301.02.003.
        #[arg(long)]
        scope: String,
        /// Read an admin-API password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate a user and revoke all their devices.
    Deactivate {
        /// The user name.
        name: String,
    },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// List devices.
    List,
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
    /// Check the hash chain; names the first broken entry.
    Verify,
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let file = match &cli.config {
        Some(path) => FileSettings::load(path)?,
        None => FileSettings::default(),
    };
    match cli.command {
        Command::Serve { listen, workers, log_format, tls_cert, tls_key } => {
            let mut settings =
                config::resolve(Overrides { data: cli.data, listen, workers, log_format }, file);
            settings.override_tls(tls_cert, tls_key);
            init_logging(settings.json_logs);
            serve(settings)
        }
        command => operate(
            command,
            cli.data.or(file.data).unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR)),
        ),
    }
}

/// The commands that work on the data directory rather than serve it.
fn operate(command: Command, data: PathBuf) -> anyhow::Result<()> {
    match command {
        Command::Serve { .. } => unreachable!("handled by main"),
        Command::Tls(TlsCommand::SelfSigned { hosts, days, force }) => {
            let files = gridsync_server::tls::write_self_signed(&data, &hosts, days, force)?;
            println!("township CA:        {}", files.ca.display());
            println!("server certificate: {}", files.cert.display());
            println!("server key:         {}", files.key.display());
            println!("CA SHA-256 fingerprint: {}", files.ca_sha256);
            println!("Install the CA on each handset and compare its fingerprint with the one above.");
            Ok(())
        }
        Command::Admin(AdminCommand::Create { user, password_stdin }) => {
            let password = password_stdin.then(operator::password_from_stdin).transpose()?;
            match operator::create_admin(&data, &user, password)? {
                Some(generated) => {
                    println!("administrator {user} created; one-time password (shown once):");
                    println!("{generated}");
                }
                None => println!("administrator {user} created"),
            }
            Ok(())
        }
        Command::User(UserCommand::Add { name, role, scope, password_stdin }) => {
            let password = password_stdin.then(operator::password_from_stdin).transpose()?;
            let user = operator::add_user(&data, &name, role, &scope, password)?;
            println!("user {} added ({}, scope {})", user.name, user.role, display_scope(&user.scope));
            Ok(())
        }
        Command::User(UserCommand::Deactivate { name }) => {
            let revoked = operator::deactivate_user(&data, &name)?;
            println!("user {name} deactivated; {revoked} device(s) revoked");
            Ok(())
        }
        Command::User(UserCommand::List) => {
            for u in operator::list_users(&data)? {
                let state = if u.active { "active" } else { "deactivated" };
                println!("{}\t{}\t{}\t{state}", u.name, u.role, display_scope(&u.scope));
            }
            Ok(())
        }
        Command::Enroll { user, ttl, server_url, qr } => {
            let issued = operator::issue_code(&data, &user, operator::parse_ttl(&ttl)?, &server_url)?;
            let qr = qr.unwrap_or_else(|| PathBuf::from(format!("enroll-{user}.svg")));
            std::fs::write(&qr, &issued.qr_svg).with_context(|| format!("cannot write {}", qr.display()))?;
            println!("{}", issued.code);
            eprintln!("one-time code for {user}, valid for {ttl}; QR code written to {}", qr.display());
            Ok(())
        }
        Command::Device(DeviceCommand::List) => {
            for d in operator::list_devices(&data)? {
                let state = match (d.revoked_ms, d.wipe) {
                    (Some(_), true) => "revoked+wipe",
                    (Some(_), false) => "revoked",
                    (None, _) => "active",
                };
                let user = d.user.as_deref().unwrap_or("-");
                println!("{}\t{user}\t{state}\t{} changes", d.id, d.changes);
            }
            Ok(())
        }
        Command::Device(DeviceCommand::Revoke { id, wipe }) => {
            operator::revoke_device(&data, id, wipe)?;
            let order = if wipe { " with a wipe order" } else { "" };
            println!("device {id} revoked{order}; it is refused from its next request");
            Ok(())
        }
        Command::Audit(AuditCommand::Verify) => match operator::verify_audit(&data)? {
            Verdict::Intact { rows, head } => {
                println!("audit log intact: {rows} entries, head {head}");
                Ok(())
            }
            Verdict::Broken { seq, reason } => {
                eprintln!("audit log BROKEN at entry {seq}: {reason}");
                std::process::exit(1);
            }
        },
    }
}

fn display_scope(scope: &str) -> &str {
    if scope.is_empty() { "(all)" } else { scope }
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
    actix_web::rt::System::new().block_on(async {
        let (server, addrs, writer) = gridsync_server::app::build(&settings, true)?;
        let listen: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        tracing::info!(
            listen = %listen.join(","),
            https = settings.tls_cert.is_some(),
            data = %settings.data_dir.display(),
            version = env!("CARGO_PKG_VERSION"),
            "gridsync-server ready"
        );
        let result = server.await.context("server failed");
        // Every store handle is gone with the workers: the writer drains and ends.
        writer.join();
        tracing::info!("gridsync-server stopped");
        result
    })
}
