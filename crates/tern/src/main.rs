//! The `tern` binary: the broker (`tern`, `tern serve`) and its companion tools (`tern pub`, `tern sub`,
//! `tern check-config`).

mod cli;
mod config;
mod serve;
mod store;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Command line of `tern`.
#[derive(Parser, Debug)]
#[command(name = "tern", version, about = "Tern: a multi-protocol MQTT broker")]
struct Cli {
    /// Configuration file (TOML). Without it Tern runs its embedded default configuration.
    #[arg(short, long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Subcommands; none means `serve`.
#[derive(Subcommand, Debug)]
enum Command {
    /// Run the broker (the default).
    Serve,
    /// Publish a message, like mosquitto_pub.
    Pub(cli::pubsub::PubArgs),
    /// Subscribe and print messages, like mosquitto_sub.
    Sub(cli::pubsub::SubArgs),
    /// Load-test a broker (Tern or any other): conn, pub, sub, throughput, fanout, fanin, latency, find-max.
    Bench(tern_bench::BenchArgs),
    /// Run the MQTT conformance suite against a broker (Tern or any other); see `tern conformance --help`.
    Conformance(tern_conformance::Args),
    /// Validate a configuration file and exit; errors point at the line.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Manage a password file (Mosquitto format; new entries argon2id).
    Passwd(cli::passwd::PasswdArgs),
    /// Print the embedded default configuration.
    DefaultConfig,
    /// Inspect the durable store, or move a damaged one aside so the broker can start.
    #[command(subcommand)]
    Store(store::StoreCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tern: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve::run(load_config(cli.config.as_deref())?),
        Command::Store(cmd) => {
            let config = load_config(cli.config.as_deref())?;
            let data_dir = config
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("tern-data"));
            store::run(cmd, &config, &data_dir)
        }
        Command::Passwd(args) => cli::passwd::run(args),
        Command::Pub(args) => runtime()?.block_on(cli::pubsub::run_pub(args)),
        Command::Sub(args) => runtime()?.block_on(cli::pubsub::run_sub(args)),
        Command::Bench(args) => tern_bench::run(args),
        Command::Conformance(args) => match tern_conformance::execute(args) {
            0 => Ok(()),
            code => std::process::exit(i32::from(code)),
        },
        Command::CheckConfig { file } => {
            config::Config::load(&file)?;
            println!("{}: OK", file.display());
            Ok(())
        }
        Command::DefaultConfig => {
            print!("{}", config::EMBEDDED_DEFAULT);
            Ok(())
        }
    }
}

/// The configuration `--config` names, or the embedded default.
fn load_config(path: Option<&std::path::Path>) -> Result<config::Config> {
    match path {
        Some(path) => config::Config::load(path),
        None => config::Config::parse(config::EMBEDDED_DEFAULT, "embedded default configuration"),
    }
}

/// A small runtime for the client subcommands.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
