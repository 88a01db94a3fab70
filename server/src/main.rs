//! `gridsync-server`: the township sync endpoint.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gridsync_server::config::{self, FileSettings, LogFormat, Overrides};

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
        Command::Tls(TlsCommand::SelfSigned { hosts, days, force }) => {
            let data = cli.data.or(file.data).unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR));
            let files = gridsync_server::tls::write_self_signed(&data, &hosts, days, force)?;
            println!("township CA:        {}", files.ca.display());
            println!("server certificate: {}", files.cert.display());
            println!("server key:         {}", files.key.display());
            println!("CA SHA-256 fingerprint: {}", files.ca_sha256);
            println!("Install the CA on each handset and compare its fingerprint with the one above.");
            Ok(())
        }
    }
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
