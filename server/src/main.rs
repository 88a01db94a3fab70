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
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let file = match &cli.config {
        Some(path) => FileSettings::load(path)?,
        None => FileSettings::default(),
    };
    match cli.command {
        Command::Serve { listen, workers, log_format } => {
            let settings = config::resolve(Overrides { data: cli.data, listen, workers, log_format }, file);
            init_logging(settings.json_logs);
            serve(settings)
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
