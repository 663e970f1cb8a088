//! `tern bench` against an in-process Tern on 127.0.0.1:0: low-rate runs must deliver every message.
//! No timing assertions: only counts, which do not depend on the machine's speed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use clap::Parser;
use std::net::SocketAddr;
use tern_bench::{BenchArgs, run_scenario};
use tern_broker::{Broker, CoreConfig, DriverConfig};
use tern_transport_mqttsn::{SnFrontend, SnListenerConfig};
use tern_transport_tcp::{TcpFrontend, TcpListenerConfig};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

async fn start() -> SocketAddr {
    let broker = Broker::start(CoreConfig::default(), DriverConfig::default());
    let frontend = TcpFrontend::bind(TcpListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..TcpListenerConfig::default()
    })
    .unwrap();
    let addr = frontend.local_addr().unwrap();
    tokio::spawn(frontend.run(broker));
    addr
}

fn args(addr: SocketAddr, rest: &[&str]) -> BenchArgs {
    let url = format!("mqtt://{addr}");
    let argv = ["bench"]
        .into_iter()
        .chain(rest.iter().copied())
        .chain(["--url", url.as_str(), "--json"]);
    Cli::parse_from(argv).args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_at_a_low_rate_loses_nothing() {
    let addr = start().await;
    for (level, qos) in [("3", "0"), ("5", "1"), ("5", "2")] {
        let a = args(
            addr,
            &[
                "throughput",
                "-p",
                "2",
                "-s",
                "3",
                "-r",
                "400",
                "-d",
                "1",
                "-V",
                level,
                "-q",
                qos,
            ],
        );
        let s = run_scenario(&a).await.expect("run completes");
        assert!(s.sent > 0, "published something");
        assert_eq!(s.errors, 0, "{}", s.human());
        assert_eq!(s.expected, s.sent * 3);
        assert_eq!(
            s.received,
            s.expected,
            "zero loss at mqtt {level} qos {qos}: {}",
            s.human()
        );
        assert_eq!(s.latency.count(), s.received, "every payload carried a stamp");
        if qos != "0" {
            assert_eq!(s.acked, s.sent, "every QoS {qos} publish acknowledged");
        }
        assert!(s.json().contains("\"lost\":0"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_bounded_fanout_fanin_and_conn() {
    let addr = start().await;
    let s = run_scenario(&args(
        addr,
        &["fanout", "--clients", "5", "-n", "50", "-r", "1000", "-d", "5"],
    ))
    .await
    .expect("fanout");
    assert_eq!((s.sent, s.received), (50, 250), "{}", s.human());
    let s = run_scenario(&args(
        addr,
        &[
            "fanin",
            "--clients",
            "5",
            "-n",
            "20",
            "-r",
            "1000",
            "-d",
            "5",
            "-t",
            "in/%c",
        ],
    ))
    .await
    .expect("fanin");
    assert_eq!((s.sent, s.received), (100, 100), "{}", s.human());
    let s = run_scenario(&args(addr, &["conn", "--clients", "20", "-d", "0.2"]))
        .await
        .expect("conn");
    assert_eq!((s.connected, s.errors), (20, 0), "{}", s.human());
}

#[tokio::test]
async fn unsupported_transports_fail_clearly() {
    let mut a = args("127.0.0.1:1".parse().unwrap(), &["latency", "-d", "1"]);
    a.url = "mqttsn://127.0.0.1:1884".into();
    let e = run_scenario(&a)
        .await
        .expect_err("mqttsn subscribers are refused");
    assert!(e.to_string().contains("--pub-url"), "{e}");
}

/// MQTT-SN publishers (UDP, through the in-process gateway) into MQTT subscribers: every message arrives,
/// stamped, and QoS 1 ones are acknowledged by PUBACK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqttsn_publishers_reach_mqtt_subscribers() {
    let broker = Broker::start(CoreConfig::default(), DriverConfig::default());
    let tcp = TcpFrontend::bind(TcpListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..TcpListenerConfig::default()
    })
    .unwrap();
    let addr = tcp.local_addr().unwrap();
    tokio::spawn(tcp.run(broker.clone()));
    let sn = SnFrontend::bind(SnListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..SnListenerConfig::default()
    })
    .unwrap();
    let sn_url = format!("mqttsn://{}", sn.local_addr().unwrap());
    tokio::spawn(sn.run(broker));
    for qos in ["0", "1"] {
        let a = args(
            addr,
            &[
                "throughput",
                "-p",
                "2",
                "-s",
                "2",
                "-r",
                "400",
                "-d",
                "1",
                "-q",
                qos,
                "-t",
                "sn/%i",
                "--pub-url",
                &sn_url,
            ],
        );
        let s = run_scenario(&a).await.expect("run completes");
        assert!(s.sent > 0, "published something");
        assert_eq!(s.errors, 0, "{}", s.human());
        assert_eq!(s.received, s.sent * 2, "zero loss at qos {qos}: {}", s.human());
        assert_eq!(s.latency.count(), s.received, "every payload carried a stamp");
        if qos == "1" {
            assert_eq!(s.acked, s.sent, "every QoS 1 publish acknowledged by PUBACK");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_run_meets_every_limit_and_the_normal_client_loses_nothing() {
    let config = CoreConfig {
        connect_timeout: std::time::Duration::from_secs(1),
        // Above the over-rate publisher's 4 KiB messages, far below the oversize ones' 64 MiB.
        max_packet_size: 16 * 1024,
        publish_rate: Some(200),
        ..CoreConfig::default()
    };
    let driver = DriverConfig {
        write_timeout: std::time::Duration::from_secs(1),
        ..DriverConfig::default()
    };
    let broker = Broker::start(config, driver);
    let frontend = TcpFrontend::bind(TcpListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..TcpListenerConfig::default()
    })
    .unwrap();
    let addr = frontend.local_addr().unwrap();
    tokio::spawn(frontend.run(broker));
    let a = args(
        addr,
        &["abuse", "--clients", "50", "-r", "50", "-d", "3", "-q", "1"],
    );
    let s = run_scenario(&a).await.expect("run completes");
    let abuse = s.abuse.clone().expect("abuse figures");
    // The normal client: everything it published arrived.
    assert!(s.sent > 0);
    assert_eq!(
        (s.received, s.acked, s.errors),
        (s.sent, s.sent, 0),
        "{}",
        s.human()
    );
    // Silent connections are closed at the 1 s CONNECT deadline within the 3 s run.
    assert!(abuse.silent_closed >= 50, "{}", s.human());
    assert_eq!(abuse.silent_refused, 0, "no connection_rate set: {}", s.human());
    // Every malformed and oversize connection was closed by the broker.
    assert!(
        abuse.malformed_sent > 0 && abuse.oversize_sent > 0,
        "{}",
        s.human()
    );
    assert_eq!(abuse.malformed_closed, abuse.malformed_sent, "{}", s.human());
    assert_eq!(abuse.oversize_closed, abuse.oversize_sent, "{}", s.human());
    // The over-rate publisher is refused with 0x97.
    assert!(abuse.flood_quota_exceeded > 0, "{}", s.human());
    assert!(s.json().contains("\"abuse\":{"), "{}", s.json());
}
