//! `tern bench`: a load generator for MQTT brokers, Tern or any other.
//!
//! What it owns: the scenarios (`conn`, `pub`, `sub`, `throughput`, `fanout`, `fanin`, `latency`,
//! `find-max`, `abuse`), their options ([`BenchArgs`]), pacing, the progress line, and the summary with latency
//! percentiles (human or `--json`). Every run stops by itself at its duration or count.
//!
//! How it stays out of the way: one task per publishing or subscribing connection (held `conn`
//! connections have none), PUBLISH packets written by hand straight into a reused buffer with the payload
//! stamp patched in, incoming publishes read in place without building a packet, counters updated once per
//! batch. Streams come from `tern-client`'s transport `open`, so every scheme it speaks works here;
//! handshakes use `tern-mqtt-codec`. Publishers may instead be MQTT-SN 1.2 clients over UDP
//! (`--pub-url mqttsn://`, module `sn`), publishing into MQTT subscribers. The tool measures its own CPU and
//! warns when it was the limit.
//!
//! What it does not own: brokers (the side-by-side comparison is `bench/compare.sh`), reconnection.
//!
//! ```no_run
//! use clap::Parser;
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     bench: tern_bench::BenchArgs,
//! }
//! let cli = Cli::parse_from(["bench", "latency", "--url", "mqtt://127.0.0.1:1883", "-d", "5"]);
//! tern_bench::run(cli.bench)?;
//! # Ok::<(), anyhow::Error>(())
//! ```

mod abuse;
mod args;
mod conn;
mod load;
mod scenario;
mod sn;
mod stats;
mod topic;
mod wire;

pub use args::{BenchArgs, Level, Scenario, parse_source_addrs};
pub use scenario::run_scenario;
pub use stats::{AbuseStats, Latency, Summary};
pub use topic::TopicPattern;

/// Runs `args` on a runtime with one worker per usable core, prints the summary (stdout), and returns
/// an error when the run could not be carried out.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(stats::usable_cores())
        .enable_all()
        .build()?;
    let json = args.json;
    let summary = runtime.block_on(run_scenario(&args))?;
    if json {
        println!("{}", summary.json());
    } else {
        println!("{}", summary.human());
    }
    Ok(())
}
