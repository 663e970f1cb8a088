//! The command line: `tern-conformance [OPTIONS] URL`, also reachable as `tern conformance`.

use crate::config::{Config, Protocol};
use crate::registry;
use crate::report;
use crate::runner::{self, Selection};
use bytes::Bytes;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Runs the MQTT conformance suite against a broker.
///
/// Exit status: 0 when no statement failed (with `--expect`: when every verdict matches the expected results),
/// 1 otherwise, 2 for usage errors.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "tern-conformance",
    version,
    about = "MQTT 3.1.1 / 5.0 conformance suite for any broker"
)]
pub struct Args {
    /// Broker URL: mqtt://host:port, mqtts://, ws://host:port/path, wss://, quic://; or mqttsn://host:port for
    /// an MQTT-SN 1.2 gateway (with --mqtt-url for the MQTT side of its cross-checks).
    pub url: Option<String>,
    /// The broker's MQTT URL, for MQTT-SN cross-checks.
    #[arg(long)]
    pub mqtt_url: Option<String>,
    /// User name for every CONNECT.
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password for every CONNECT.
    #[arg(short = 'P', long)]
    pub password: Option<String>,
    /// PEM file of CAs that issue the broker's certificate (mqtts, wss, quic); default: the system bundle.
    #[arg(long, value_name = "FILE")]
    pub cafile: Option<std::path::PathBuf>,
    /// Accept any broker certificate (self-signed test brokers only).
    #[arg(long)]
    pub insecure: bool,
    /// PEM client certificate to present (brokers that require one), with --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<std::path::PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<std::path::PathBuf>,
    /// Protocols to test, comma-separated: 3.1.1, 5.0, sn. Default: 3.1.1,5.0 (sn for mqttsn:// URLs).
    #[arg(long, value_delimiter = ',')]
    pub protocol: Vec<String>,
    /// A topic filter the broker refuses in SUBSCRIBE (for the SUBACK failure statements; without one they
    /// are "not applicable").
    #[arg(long)]
    pub denied_filter: Option<String>,
    /// The highest QoS the broker accepts in PUBLISH (0, 1 or 2): statements needing more are "not applicable".
    /// MQTT 5.0 brokers announce it in CONNACK; this is for 3.1.1 brokers.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub max_qos: Option<u8>,
    /// The broker does not accept retained messages (statements needing them are "not applicable").
    #[arg(long)]
    pub no_retain: bool,
    /// Statement ids to skip (repeatable; `MQTT-3.1.2-*` prefixes and `5.0:` qualifiers allowed).
    #[arg(long)]
    pub skip: Vec<String>,
    /// Run only these statement ids (same patterns as --skip).
    #[arg(long)]
    pub only: Vec<String>,
    /// Tests run at once.
    #[arg(short = 'j', long, default_value_t = 8)]
    pub jobs: usize,
    /// Seconds to wait for any one packet or close.
    #[arg(long, default_value_t = 5.0)]
    pub step_timeout: f64,
    /// Seconds one test may take.
    #[arg(long, default_value_t = 20.0)]
    pub test_timeout: f64,
    /// Milliseconds of silence that show a message is not delivered.
    #[arg(long, default_value_t = 500)]
    pub quiet_ms: u64,
    /// Write the JSON report to this file ("-" for standard output, replacing the table).
    #[arg(long)]
    pub json: Option<String>,
    /// Write a JUnit XML report to this file.
    #[arg(long)]
    pub junit: Option<String>,
    /// Compare the verdicts with this expected-results file (a JSON report); differences fail the run, expected
    /// failures do not.
    #[arg(long)]
    pub expect: Option<String>,
    /// List the tests and exit.
    #[arg(long)]
    pub list: bool,
    /// Print the statement coverage (Markdown, as in README.md) and exit.
    #[arg(long)]
    pub coverage: bool,
}

/// Parses `args` (the first is the program name) and runs.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match <Args as clap::Parser>::try_parse_from(args) {
        Ok(a) => run(a),
        Err(e) => {
            let _ = e.print();
            ExitCode::from(if e.use_stderr() { 2 } else { 0 })
        }
    }
}

fn usage(msg: &str) -> u8 {
    eprintln!("tern-conformance: {msg}");
    2
}

/// Runs the suite as `args` ask and returns the exit status.
pub fn run(args: Args) -> ExitCode {
    ExitCode::from(execute(args))
}

/// Runs the suite as `args` ask and returns the exit status as a number: 0 success, 1 failures (or verdicts
/// that differ from `--expect`), 2 usage errors. For callers that embed the suite (`tern conformance`).
pub fn execute(args: Args) -> u8 {
    let all = registry::all();
    if args.coverage {
        print!("{}", crate::catalogue::coverage_markdown(&all));
        return 0;
    }
    if args.list {
        for t in &all {
            println!(
                "{:<7} {:<16} {}",
                t.protocol.name(),
                t.id,
                crate::catalogue::text(t.protocol, t.id).unwrap_or_default()
            );
        }
        return 0;
    }
    let Some(url) = args.url.clone() else {
        return usage("a broker URL is required (e.g. mqtt://127.0.0.1:1883)");
    };
    let is_sn = url.to_ascii_lowercase().starts_with("mqttsn://");
    let mut protocols = Vec::new();
    for p in &args.protocol {
        match Protocol::parse(p) {
            Some(p) => protocols.push(p),
            None => return usage(&format!("unknown protocol {p:?} (use 3.1.1, 5.0 or sn)")),
        }
    }
    if protocols.is_empty() {
        protocols = if is_sn {
            vec![Protocol::Sn]
        } else {
            vec![Protocol::V311, Protocol::V5]
        };
    }
    if is_sn != (protocols == [Protocol::Sn]) {
        return usage(
            "MQTT-SN tests run against an mqttsn://host:port URL (with --mqtt-url for the MQTT side), \
             and only those; MQTT 3.1.1 / 5.0 tests against an MQTT URL",
        );
    }
    let mut cfg = Config::new(url.clone());
    cfg.mqtt_url = args.mqtt_url.clone();
    if let Some(q) = args.max_qos.and_then(tern_client::QoS::from_u8) {
        cfg.max_qos = q;
    }
    cfg.retain_available = !args.no_retain;
    cfg.username = args.username.clone();
    cfg.password = args.password.clone().map(Bytes::from);
    cfg.denied_filter = args.denied_filter.clone();
    cfg.tls = tern_client::TlsOptions {
        ca_file: args.cafile.clone(),
        insecure: args.insecure,
        client_cert: args.cert.clone(),
        client_key: args.key.clone(),
    };
    cfg.jobs = args.jobs.max(1);
    cfg.step_timeout = secs(args.step_timeout);
    cfg.test_timeout = secs(args.test_timeout);
    cfg.quiet = Duration::from_millis(args.quiet_ms);
    let sel = Selection {
        protocols,
        skip: args.skip.clone(),
        only: args.only.clone(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return usage(&format!("cannot start the runtime: {e}")),
    };
    let outcomes = rt.block_on(runner::run(Arc::new(cfg), all, &sel));

    let json = report::json(&url, &outcomes);
    match args.json.as_deref() {
        Some("-") => println!("{json}"),
        other => {
            print!("{}", report::table(&url, &outcomes));
            if let Some(path) = other
                && let Err(e) = std::fs::write(path, &json)
            {
                return usage(&format!("cannot write {path}: {e}"));
            }
        }
    }
    if let Some(path) = &args.junit
        && let Err(e) = std::fs::write(path, report::junit(&outcomes))
    {
        return usage(&format!("cannot write {path}: {e}"));
    }
    let t = report::totals(&outcomes);
    if let Some(path) = &args.expect {
        let expected = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => return usage(&format!("cannot read {path}: {e}")),
        };
        return match report::compare(&expected, &outcomes) {
            Ok(d) if d.is_empty() => {
                eprintln!(
                    "verdicts match {path} ({} statements, {} expected failures)",
                    outcomes.len(),
                    t.fail
                );
                0
            }
            Ok(d) => {
                eprintln!("{} verdict(s) differ from {path}:", d.len());
                for line in d {
                    eprintln!("  {line}");
                }
                1
            }
            Err(e) => usage(&e),
        };
    }
    if t.fail > 0 { 1 } else { 0 }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.001)).unwrap_or(Duration::from_secs(5))
}
