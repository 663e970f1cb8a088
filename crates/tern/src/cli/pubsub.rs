//! `tern pub` and `tern sub`: publish and subscribe from the command line, flag-compatible with
//! mosquitto_pub / mosquitto_sub where the flags overlap. Every failure (connection refused, CONNACK or
//! SUBACK refusal, a rejected publish) ends with a message and a non-zero exit code.

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::{ArgAction, Args, ValueEnum};
use std::fmt::Write as _;
use std::time::Duration;
use tern_client::{
    ByteStr, Client, ConnectOptions, Disconnect, ErrorKind, ProtocolVersion, Publish, PublishProperties, QoS,
    ReasonCode, ServerUrl, SubscribeFilter, SubscribeProperties, SubscriptionOptions, Will, WillProperties,
};

/// Protocol level on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// MQTT 3.1.
    #[value(name = "31")]
    V31,
    /// MQTT 3.1.1.
    #[value(name = "311")]
    V311,
    /// MQTT 5.0.
    #[value(name = "5")]
    V5,
}

impl From<Protocol> for ProtocolVersion {
    fn from(p: Protocol) -> ProtocolVersion {
        match p {
            Protocol::V31 => ProtocolVersion::V3_1,
            Protocol::V311 => ProtocolVersion::V3_1_1,
            Protocol::V5 => ProtocolVersion::V5,
        }
    }
}

/// Connection flags shared by `pub` and `sub`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Broker host.
    #[arg(short = 'h', long, default_value = "localhost")]
    pub host: String,
    /// Broker port.
    #[arg(short = 'p', long, default_value_t = 1883)]
    pub port: u16,
    /// Broker URL instead of host and port: mqtt://broker:1883, mqtts://broker:8883, ws://broker:8083/mqtt,
    /// wss://broker:8084/mqtt, quic://broker:14567 (MQTT over QUIC; --cafile/--insecure apply).
    #[arg(short = 'u', long, conflicts_with_all = ["host", "port"])]
    pub url: Option<String>,
    /// MQTT protocol version.
    #[arg(short = 'V', long, value_enum, default_value = "5")]
    pub protocol: Protocol,
    /// Client identifier (default: generated; required with --no-clean).
    #[arg(short = 'i', long)]
    pub id: Option<String>,
    /// User name.
    #[arg(long)]
    pub username: Option<String>,
    /// Password (needs --username on MQTT 3.1.1).
    #[arg(long)]
    pub password: Option<String>,
    /// Log in with SCRAM-SHA-256 (MQTT 5 enhanced authentication) using --username and --password: the
    /// password is not sent, and the server must prove it holds the user's SCRAM credential.
    #[arg(long, requires_all = ["username", "password"])]
    pub scram: bool,
    /// Keep a persistent session: clean start off (mosquitto's -c; `-c` itself is `tern --config`).
    #[arg(long = "no-clean", alias = "disable-clean-session")]
    pub no_clean: bool,
    /// Session expiry interval in seconds (MQTT 5).
    #[arg(long)]
    pub session_expiry: Option<u32>,
    /// Keep alive in seconds (0 disables).
    #[arg(short = 'k', long, default_value_t = 60)]
    pub keepalive: u16,
    /// Seconds to wait for the broker on connect and on each acknowledgement.
    #[arg(long, default_value_t = 10)]
    pub connect_timeout: u64,
    /// Will topic: published by the broker if this client disappears.
    #[arg(long)]
    pub will_topic: Option<String>,
    /// Will payload.
    #[arg(long, requires = "will_topic")]
    pub will_payload: Option<String>,
    /// Will QoS.
    #[arg(long, requires = "will_topic", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub will_qos: u8,
    /// Retain the will.
    #[arg(long, requires = "will_topic")]
    pub will_retain: bool,
    /// User property key=value (MQTT 5; repeatable): sent on PUBLISH for `pub`, on SUBSCRIBE for `sub`.
    #[arg(long = "user-property", value_name = "KEY=VALUE", value_parser = parse_user_property)]
    pub user_property: Vec<(String, String)>,
    /// mqtts/wss: PEM file of the CA(s) to trust instead of the system bundle, e.g. a broker's self-signed
    /// certificate (tern's is tern-data/tls/dev-cert.pem).
    #[arg(long, value_name = "FILE")]
    pub cafile: Option<std::path::PathBuf>,
    /// mqtts/wss: accept any server certificate (development only: no protection against impostors).
    #[arg(long)]
    pub insecure: bool,
    /// mqtts/wss: PEM client certificate to present (brokers requiring one); with --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<std::path::PathBuf>,
    /// mqtts/wss: PEM private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<std::path::PathBuf>,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `tern pub`: publish one message, a file, or each line of stdin.
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
#[command(group(clap::ArgGroup::new("payload").required(true).args(["message", "file", "stdin_line"])))]
pub struct PubArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// Topic to publish on.
    #[arg(short = 't', long)]
    pub topic: String,
    /// Message payload.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Send the contents of a file as the payload.
    #[arg(short = 'f', long)]
    pub file: Option<std::path::PathBuf>,
    /// Send each line read from stdin as a separate message.
    #[arg(long)]
    pub stdin_line: bool,
    /// Quality of service.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Retain the message.
    #[arg(short = 'r', long)]
    pub retain: bool,
}

/// `tern sub`: subscribe and print messages.
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
pub struct SubArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// Topic filter (repeatable).
    #[arg(short = 't', long, required = true)]
    pub topic: Vec<String>,
    /// Maximum QoS of the subscriptions.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Exit after receiving this many messages.
    #[arg(short = 'C', long)]
    pub count: Option<u64>,
    /// Exit after this many seconds (an error if --count was given and not reached).
    #[arg(short = 'W', long)]
    pub timeout: Option<u64>,
    /// Print "topic payload" instead of the payload alone.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Print one JSON object per message (topic, payload or payload_hex, qos, retain, properties).
    #[arg(long, conflicts_with = "verbose")]
    pub json: bool,
}

fn parse_user_property(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

fn qos(v: u8) -> QoS {
    QoS::from_u8(v).unwrap_or_default()
}

impl ConnectArgs {
    fn url(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| ServerUrl::tcp(self.host.clone(), self.port).to_string())
    }

    fn user_properties(&self) -> Vec<(ByteStr, ByteStr)> {
        self.user_property
            .iter()
            .map(|(k, v)| (ByteStr::from(k.as_str()), ByteStr::from(v.as_str())))
            .collect()
    }

    fn options(&self, role: &str) -> Result<ConnectOptions> {
        let version = ProtocolVersion::from(self.protocol);
        if !version.is_v5() {
            if !self.user_property.is_empty() {
                bail!("--user-property needs MQTT 5 (-V 5)");
            }
            if self.session_expiry.is_some() {
                bail!("--session-expiry needs MQTT 5 (-V 5)");
            }
        }
        let id = match (&self.id, self.no_clean) {
            (Some(id), _) => id.clone(),
            (None, true) => bail!("--no-clean (persistent session) needs a client id (-i)"),
            (None, false) => format!("tern-{role}-{}", std::process::id()),
        };
        let timeout = Duration::from_secs(self.connect_timeout.max(1));
        let mut opts = ConnectOptions::new(self.url())
            .protocol(version)
            .client_id(id)
            .clean_start(!self.no_clean)
            .keep_alive(Duration::from_secs(u64::from(self.keepalive)))
            .timeout(timeout)
            .tls(tern_client::TlsOptions {
                ca_file: self.cafile.clone(),
                insecure: self.insecure,
                client_cert: self.cert.clone(),
                client_key: self.key.clone(),
            });
        if let Some(secs) = self.session_expiry {
            opts = opts.session_expiry(secs);
        }
        if self.scram {
            let (Some(user), Some(password)) = (&self.username, &self.password) else {
                bail!("--scram needs --username and --password");
            };
            opts = opts.scram(user.as_str(), Bytes::from(password.clone()));
        } else if let Some(user) = &self.username {
            opts = opts.credentials(user.as_str(), self.password.clone().map(Bytes::from));
        } else if self.password.is_some() {
            bail!("--password needs --username");
        }
        if let Some(topic) = &self.will_topic {
            opts = opts.will(Will {
                topic: topic.as_str().into(),
                payload: self.will_payload.clone().map(Bytes::from).unwrap_or_default(),
                qos: qos(self.will_qos),
                retain: self.will_retain,
                properties: WillProperties::default(),
            });
        }
        Ok(opts)
    }

    async fn connect(&self, role: &str) -> Result<Client> {
        let opts = self.options(role)?;
        let url = opts.url().to_owned();
        let (client, _connack) = Client::connect(opts).await.map_err(|e| {
            // I/O errors already name the URL.
            if e.kind() == ErrorKind::Io {
                anyhow!(e)
            } else {
                anyhow!(e).context(format!("cannot connect to {url}"))
            }
        })?;
        Ok(client)
    }
}

/// Runs `tern pub`.
pub async fn run_pub(args: PubArgs) -> Result<()> {
    // Read the payload before connecting, so a missing file fails without touching the broker.
    let fixed_payload = match (&args.message, &args.file) {
        (Some(m), _) => Some(Bytes::from(m.clone())),
        (None, Some(path)) => Some(Bytes::from(
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        )),
        (None, None) => None,
    };
    let client = args.conn.connect("pub").await?;
    let properties = PublishProperties {
        user_properties: args.conn.user_properties(),
        ..Default::default()
    };
    let make = |payload: Bytes| Publish {
        dup: false,
        qos: qos(args.qos),
        retain: args.retain,
        topic: args.topic.as_str().into(),
        packet_id: None,
        properties: properties.clone(),
        payload,
    };

    let result = match fixed_payload {
        Some(payload) => publish_checked(&client, make(payload)).await,
        None => {
            let mut lines = stdin_lines();
            let mut pending = std::collections::VecDeque::new();
            let mut result = Ok(());
            while let Some(line) = lines.recv().await {
                let line = match line {
                    Ok(line) => line,
                    Err(e) => {
                        result = Err(anyhow!(e).context("cannot read stdin"));
                        break;
                    }
                };
                match client.publish_nowait(make(Bytes::from(line))).await {
                    Ok(p) => pending.push_back(p),
                    Err(e) => {
                        result = Err(anyhow!(e).context("publish failed"));
                        break;
                    }
                }
                // Keep the pipeline bounded: settle the oldest once many are outstanding.
                if pending.len() >= 256
                    && let Some(p) = pending.pop_front()
                    && let Err(e) = check_outcome(p.wait().await)
                {
                    result = Err(e);
                    break;
                }
            }
            while let Some(p) = pending.pop_front() {
                let r = check_outcome(p.wait().await);
                if result.is_ok() {
                    result = r;
                }
            }
            result
        }
    };
    let closed = client.disconnect(ReasonCode::NormalDisconnection).await;
    result?;
    closed.map_err(|e| anyhow!(e).context("disconnect failed"))
}

async fn publish_checked(client: &Client, publish: Publish) -> Result<()> {
    let pending = client
        .publish_nowait(publish)
        .await
        .map_err(|e| anyhow!(e).context("publish failed"))?;
    check_outcome(pending.wait().await)
}

fn check_outcome(outcome: Result<tern_client::PublishOutcome, tern_client::ClientError>) -> Result<()> {
    let outcome = outcome.map_err(|e| anyhow!(e).context("publish failed"))?;
    if !outcome.is_success() {
        let why = outcome
            .properties
            .reason_string
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        bail!("publish refused by the broker: {}{why}", outcome.reason_code);
    }
    Ok(())
}

/// Lines of stdin, read on a plain thread (the runtime may be single-threaded and has no async stdin).
fn stdin_lines() -> tokio::sync::mpsc::Receiver<std::io::Result<String>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Runs `tern sub`.
pub async fn run_sub(args: SubArgs) -> Result<()> {
    let mut client = args.conn.connect("sub").await?;
    let options = SubscriptionOptions {
        qos: qos(args.qos),
        ..Default::default()
    };
    let filters: Vec<_> = args
        .topic
        .iter()
        .map(|t| SubscribeFilter {
            filter: t.as_str().into(),
            options,
        })
        .collect();
    let properties = SubscribeProperties {
        user_properties: args.conn.user_properties(),
        ..Default::default()
    };
    let suback = client
        .subscribe_with(filters, properties)
        .await
        .map_err(|e| anyhow!(e).context("subscribe failed"))?;
    for (topic, code) in args.topic.iter().zip(&suback.reason_codes) {
        if !code.is_success() {
            bail!("subscription to {topic:?} refused by the broker: {code}");
        }
    }

    let deadline = args
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let until_deadline = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until_deadline);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    let mut received: u64 = 0;
    let mut out = std::io::stdout().lock();
    let end = loop {
        if args.count.is_some_and(|c| received >= c) {
            break Ok(());
        }
        tokio::select! {
            msg = client.recv() => match msg {
                Some(msg) => {
                    print_message(&mut out, &msg, &args).context("cannot write to stdout")?;
                    received += 1;
                }
                None => {
                    let why = client.close_reason().map(|e| e.to_string()).unwrap_or_else(|| "closed".into());
                    return Err(anyhow!("connection lost: {why}"));
                }
            },
            () = &mut until_deadline => break match args.count {
                Some(c) => Err(anyhow!("timed out after {}s with {received} of {c} messages", args.timeout.unwrap_or(0))),
                None => Ok(()),
            },
            _ = &mut ctrl_c => break Ok(()),
        }
    };
    drop(out);
    let closed = client
        .disconnect_with(Disconnect::new(ReasonCode::NormalDisconnection))
        .await;
    end?;
    closed.map_err(|e| anyhow!(e).context("disconnect failed"))
}

fn print_message(out: &mut impl std::io::Write, msg: &Publish, args: &SubArgs) -> std::io::Result<()> {
    if args.json {
        let mut line = json_message(msg);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    } else {
        if args.verbose {
            out.write_all(msg.topic.as_bytes())?;
            out.write_all(b" ")?;
        }
        out.write_all(&msg.payload)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// One message as a JSON object; payloads that are not UTF-8 (and correlation data) become hex strings.
fn json_message(msg: &Publish) -> String {
    let mut s = String::from("{\"topic\":");
    json_str(&mut s, &msg.topic);
    match std::str::from_utf8(&msg.payload) {
        Ok(text) => {
            s.push_str(",\"payload\":");
            json_str(&mut s, text);
        }
        Err(_) => {
            s.push_str(",\"payload_hex\":");
            json_str(&mut s, &hex(&msg.payload));
        }
    }
    let _ = write!(s, ",\"qos\":{},\"retain\":{}", msg.qos as u8, msg.retain);
    let p = &msg.properties;
    let mut props = Vec::<String>::new();
    if let Some(v) = p.payload_format_indicator {
        props.push(format!("\"payload_format_indicator\":{v}"));
    }
    if let Some(v) = p.message_expiry_interval {
        props.push(format!("\"message_expiry_interval\":{v}"));
    }
    for (key, value) in [
        ("content_type", &p.content_type),
        ("response_topic", &p.response_topic),
    ] {
        if let Some(v) = value {
            let mut e = format!("\"{key}\":");
            json_str(&mut e, v);
            props.push(e);
        }
    }
    if let Some(v) = &p.correlation_data {
        let mut e = String::from("\"correlation_data_hex\":");
        json_str(&mut e, &hex(v));
        props.push(e);
    }
    if !p.subscription_identifiers.is_empty() {
        let ids: Vec<String> = p.subscription_identifiers.iter().map(|i| i.to_string()).collect();
        props.push(format!("\"subscription_identifiers\":[{}]", ids.join(",")));
    }
    if !p.user_properties.is_empty() {
        // Pairs, not an object: names may repeat and order matters.
        let mut e = String::from("\"user_properties\":[");
        for (i, (k, v)) in p.user_properties.iter().enumerate() {
            if i > 0 {
                e.push(',');
            }
            e.push('[');
            json_str(&mut e, k);
            e.push(',');
            json_str(&mut e, v);
            e.push(']');
        }
        e.push(']');
        props.push(e);
    }
    let _ = write!(s, ",\"properties\":{{{}}}}}", props.join(","));
    s
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    enum Cmd {
        Pub(PubArgs),
        Sub(SubArgs),
    }

    #[test]
    fn pub_flags_parse_like_mosquitto() {
        let Cmd::Pub(a) = Cmd::try_parse_from([
            "x", "pub", "-h", "b", "-p", "1884", "-t", "a/b", "-m", "hi", "-q", "1", "-r",
        ])
        .expect("parse") else {
            panic!("not pub");
        };
        assert_eq!(
            (a.conn.url(), a.qos, a.retain),
            ("mqtt://b:1884".to_owned(), 1, true)
        );
        assert_eq!(a.conn.protocol, Protocol::V5);
        assert!(
            Cmd::try_parse_from(["x", "pub", "-t", "a"]).is_err(),
            "a payload source is required"
        );
        assert!(
            Cmd::try_parse_from(["x", "pub", "-t", "a", "-m", "x", "-f", "y"]).is_err(),
            "only one source"
        );
        assert!(Cmd::try_parse_from(["x", "pub", "-t", "a", "-m", "x", "-q", "3"]).is_err());
    }

    #[test]
    fn sub_flags_parse() {
        let Cmd::Sub(a) = Cmd::try_parse_from([
            "x",
            "sub",
            "-u",
            "mqtt://h:1",
            "-t",
            "a",
            "-t",
            "b/#",
            "-C",
            "2",
            "-W",
            "5",
            "-v",
            "-V",
            "311",
            "--user-property",
            "k=v",
        ])
        .expect("parse") else {
            panic!("not sub");
        };
        assert_eq!(a.topic, vec!["a", "b/#"]);
        assert_eq!((a.count, a.timeout, a.verbose), (Some(2), Some(5), true));
        assert_eq!(a.conn.url(), "mqtt://h:1");
        let err = a.conn.options("sub").expect_err("user properties need 5.0");
        assert!(err.to_string().contains("MQTT 5"), "{err}");
    }

    #[test]
    fn json_escapes_and_hexes() {
        let msg = Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "a/\"b\"".into(),
            packet_id: None,
            properties: PublishProperties {
                user_properties: vec![("k".into(), "v\n".into())],
                ..Default::default()
            },
            payload: Bytes::from_static(&[0xff, 0x00]),
        };
        assert_eq!(
            json_message(&msg),
            r#"{"topic":"a/\"b\"","payload_hex":"ff00","qos":1,"retain":true,"properties":{"user_properties":[["k","v\n"]]}}"#
        );
    }
}
