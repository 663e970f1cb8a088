//! The command line of `tern bench`: scenarios, options and their validation. Everything here is plain
//! data so parsing can be tested without a network.

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use std::net::Ipv4Addr;
use std::time::Duration;
use tern_mqtt_codec::{ProtocolVersion, QoS};

/// What a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Open `--clients` connections at `--rate` per second (0: as fast as possible) and hold them.
    Conn,
    /// `--publishers` publishers only (no subscribers): publish and acknowledgement rate.
    Pub,
    /// `--subscribers` subscribers only: count and time what other processes publish.
    Sub,
    /// `--publishers` publishers into `--subscribers` subscribers on the wildcard filter.
    Throughput,
    /// One publisher into `--clients` subscribers of the same topic.
    Fanout,
    /// `--clients` publishers, each on its own topic, into one wildcard subscriber.
    Fanin,
    /// One publisher to one subscriber at a fixed `--rate` (default 1000/s): end-to-end percentiles.
    Latency,
    /// The throughput shape at rising rates: the highest rate sustained without loss or growing latency.
    FindMax,
    /// A normal client at `--rate` (default 100/s) measuring latency while `--clients` connections never
    /// send CONNECT, and others send malformed and oversize packets, publish over their rate, stop reading.
    Abuse,
}

/// MQTT protocol level on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Level {
    /// MQTT 3.1.1.
    #[value(name = "3", alias = "3.1.1", alias = "4")]
    V311,
    /// MQTT 5.0.
    #[value(name = "5", alias = "5.0")]
    V5,
}

impl Level {
    /// The codec's protocol version for this level.
    pub fn version(self) -> ProtocolVersion {
        match self {
            Level::V311 => ProtocolVersion::V3_1_1,
            Level::V5 => ProtocolVersion::V5,
        }
    }
}

/// Options of `tern bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Broker URL: mqtt://, mqtts://, ws://, wss://, quic:// (as tern-client opens them); every
    /// connection's unless `--pub-url` is given.
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    pub url: String,
    /// Publishers' URL when it differs from `--url`: any scheme of `--url`, or mqttsn://host[:port]
    /// (MQTT-SN 1.2 over UDP, port 1884 by default; QoS 0 or 1) into subscribers on `--url`.
    #[arg(long)]
    pub pub_url: Option<String>,
    /// MQTT protocol level: 3 (3.1.1) or 5.
    #[arg(short = 'V', long = "mqtt", value_enum, default_value = "5")]
    pub level: Level,
    /// Connections for `conn`, subscribers for `fanout`, publishers for `fanin`.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// Publishers for `pub`, `throughput` and `find-max`.
    #[arg(short = 'p', long, default_value_t = 4)]
    pub publishers: usize,
    /// Subscribers for `sub`, `throughput` and `find-max`.
    #[arg(short = 's', long, default_value_t = 4)]
    pub subscribers: usize,
    /// QoS of publishes and subscriptions (0, 1 or 2).
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Payload size in bytes; 24 or more carries a send timestamp for latency.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Total publish rate per second across publishers (connections per second for `conn`); 0: unthrottled.
    /// `latency` defaults to 1000, `find-max` uses it as the first rate tried.
    #[arg(short = 'r', long)]
    pub rate: Option<u64>,
    /// Seconds of publishing (or holding, for `conn`); every run stops by itself.
    #[arg(short = 'd', long, default_value_t = 10.0)]
    pub duration: f64,
    /// Messages per publisher; the run ends when all are sent (or at `--duration`, whichever is first).
    #[arg(short = 'n', long)]
    pub count: Option<u64>,
    /// Publish topic; `%i` is the client index, `%c` the client id, `%%` a percent sign.
    #[arg(short = 't', long, default_value = "bench/%i")]
    pub topic: String,
    /// Subscription filter; by default the topic with every level holding a `%` variable replaced by `+`.
    #[arg(short = 'f', long)]
    pub filter: Option<String>,
    /// Unacknowledged QoS 1/2 publishes per publisher.
    #[arg(short = 'w', long, default_value_t = 100)]
    pub window: u32,
    /// Session expiry in seconds every connection asks for; above 0 sessions are durable (MQTT 3.1.1: clean
    /// session 0), so a broker with persistence stores what they are sent.
    #[arg(long, default_value_t = 0)]
    pub session_expiry: u32,
    /// Local source addresses, round robin over connections (`127.0.0.1-127.0.0.20`, or a comma list),
    /// for more than ~28k connections to one port. mqtt:// only.
    #[arg(long)]
    pub source_addrs: Option<String>,
    /// Client id prefix; the client index is appended.
    #[arg(long, default_value = "bench")]
    pub client_prefix: String,
    /// `find-max`: highest p99 latency in milliseconds a rate may show and still count as sustained.
    #[arg(long, default_value_t = 50.0)]
    pub max_p99_ms: f64,
    /// CA certificate (PEM) to trust for mqtts://, wss:// and quic:// instead of the system's, e.g. Tern's
    /// development certificate `tern-data/tls/dev-cert.pem`.
    #[arg(long)]
    pub cafile: Option<std::path::PathBuf>,
    /// Accept any server certificate (development only).
    #[arg(long)]
    pub insecure: bool,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

impl BenchArgs {
    /// The TLS trust `--cafile` and `--insecure` ask for.
    pub fn tls(&self) -> tern_client::TlsOptions {
        tern_client::TlsOptions {
            ca_file: self.cafile.clone(),
            insecure: self.insecure,
            ..tern_client::TlsOptions::default()
        }
    }

    /// QoS as the codec's type.
    pub fn qos(&self) -> QoS {
        QoS::from_u8(self.qos).unwrap_or(QoS::AtMostOnce)
    }

    /// Run length as a `Duration`.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration)
    }

    /// Checks combinations clap cannot express.
    pub fn validate(&self) -> Result<()> {
        if !(self.duration > 0.0 && self.duration <= 86_400.0) {
            bail!("--duration must be between 0 and 86400 seconds");
        }
        if self.window == 0 || self.window > 65_535 {
            bail!("--window must be 1..=65535 (packet identifiers are 16 bits)");
        }
        if self.size > 256 * 1024 * 1024 {
            bail!("--size above 256 MiB cannot be sent in one MQTT packet");
        }
        let zero = match self.scenario {
            Scenario::Conn | Scenario::Fanout | Scenario::Fanin => self.clients == 0,
            Scenario::Pub => self.publishers == 0,
            Scenario::Sub => self.subscribers == 0,
            Scenario::Throughput | Scenario::FindMax => self.publishers == 0 || self.subscribers == 0,
            Scenario::Latency | Scenario::Abuse => false,
        };
        if zero {
            bail!("this scenario needs at least one client of each role it uses");
        }
        if self.scenario == Scenario::FindMax && self.rate == Some(0) {
            bail!("find-max searches a rate: give --rate as the first rate to try, not 0");
        }
        if let Some(a) = &self.source_addrs {
            parse_source_addrs(a)?;
        }
        if is_mqttsn(&self.url) {
            bail!(
                "--url mqttsn:// is not supported: tern bench publishes over MQTT-SN but does not subscribe \
                 over it; give --pub-url mqttsn://... for the publishers and --url mqtt://... for the rest"
            );
        }
        if self.pub_url.as_deref().is_some_and(is_mqttsn) {
            if matches!(self.scenario, Scenario::Conn | Scenario::Sub) {
                bail!("--pub-url mqttsn:// needs a scenario with publishers");
            }
            if self.qos == 2 {
                bail!("MQTT-SN publishers support QoS 0 and 1");
            }
        }
        Ok(())
    }

    /// The publishers' URL.
    pub fn publisher_url(&self) -> &str {
        self.pub_url.as_deref().unwrap_or(&self.url)
    }
}

/// True for an `mqttsn://` URL (MQTT-SN over UDP).
pub fn is_mqttsn(url: &str) -> bool {
    url.get(..9).is_some_and(|s| s.eq_ignore_ascii_case("mqttsn://"))
}

/// Parses `127.0.0.1-127.0.0.20` (inclusive range) or `127.0.0.1,127.0.0.2`, or a mix.
pub fn parse_source_addrs(spec: &str) -> Result<Vec<Ipv4Addr>> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: Ipv4Addr = a.trim().parse()?;
                let b: Ipv4Addr = b.trim().parse()?;
                let (lo, hi) = (u32::from(a), u32::from(b));
                if lo > hi || hi - lo >= 65_536 {
                    bail!("source address range {part} is reversed or larger than 65536 addresses");
                }
                out.extend((lo..=hi).map(Ipv4Addr::from));
            }
            None => out.push(part.parse()?),
        }
    }
    if out.is_empty() {
        bail!("--source-addrs names no address");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn parse(argv: &[&str]) -> Result<BenchArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn defaults_and_short_options() {
        let a = parse(&["throughput"]).expect("parses");
        assert_eq!(a.scenario, Scenario::Throughput);
        assert_eq!((a.publishers, a.subscribers, a.qos, a.size), (4, 4, 0, 64));
        assert_eq!(a.level.version(), ProtocolVersion::V5);
        assert!(a.validate().is_ok());
        let a = parse(&[
            "find-max", "-q", "1", "-V", "3", "-p", "2", "-r", "5000", "--json",
        ])
        .expect("parses");
        assert_eq!(a.scenario, Scenario::FindMax);
        assert_eq!(
            (a.qos(), a.level, a.publishers, a.rate),
            (QoS::AtLeastOnce, Level::V311, 2, Some(5000))
        );
        assert!(a.json);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(parse(&["throughput", "-q", "3"]).is_err());
        assert!(parse(&["nope"]).is_err());
        for argv in [
            &["throughput", "-d", "0"][..],
            &["throughput", "-w", "0"],
            &["fanout", "--clients", "0"],
            &["find-max", "-r", "0"],
            &["conn", "--source-addrs", "127.0.0.9-127.0.0.1"],
            &["throughput", "--url", "mqttsn://127.0.0.1"],
            &["sub", "--pub-url", "mqttsn://127.0.0.1"],
            &["throughput", "-q", "2", "--pub-url", "mqttsn://127.0.0.1"],
        ] {
            let a = parse(argv).expect("clap accepts it");
            assert!(a.validate().is_err(), "{argv:?}");
        }
    }

    #[test]
    fn mqttsn_publishers_into_mqtt_subscribers() {
        let a = parse(&["throughput", "--pub-url", "MQTTSN://127.0.0.1:1884", "-q", "1"]).expect("parses");
        assert!(a.validate().is_ok());
        assert!(is_mqttsn(a.publisher_url()));
        assert_eq!(a.url, "mqtt://127.0.0.1:1883");
    }

    #[test]
    fn source_address_ranges() {
        let v = parse_source_addrs("127.0.0.1-127.0.0.3, 10.0.0.1").expect("valid");
        let want: Vec<Ipv4Addr> = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "10.0.0.1"]
            .iter()
            .map(|s| s.parse().expect("ip"))
            .collect();
        assert_eq!(v, want);
        assert!(parse_source_addrs("").is_err());
        assert!(parse_source_addrs("127.0.0.x").is_err());
    }
}
