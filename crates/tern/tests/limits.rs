//! Issue #9's proof that every abuse limit holds on every frontend: each test below is one mechanism, run
//! over the table of frontends (tcp, tls, ws, wss, quic, and MQTT-SN where the mechanism applies) at both
//! protocol levels, against a broker in process wired as `tern serve` wires it (see `support`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use bytes::Bytes;
use std::time::Duration;
use support::{
    BANNED_ID, CERT_USER, Frontend, PASSWORD, Setup, SnClient, USER, WAIT, connect, files, loopback, options,
    raw, start, tls,
};
use tern_auth::Anonymous;
use tern_broker::CoreConfig;
use tern_client::{Client, ConnectProperties, ErrorKind, Packet, ProtocolVersion, QoS, ReasonCode, filter};
use tern_mqttsn_codec::ReturnCode;

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V5, ProtocolVersion::V3_1_1];

/// The reason code a refused CONNECT carries (3.1.1 return codes read as their 5.0 counterparts).
async fn refusal(opts: tern_client::ConnectOptions) -> ReasonCode {
    match connect(opts).await {
        Ok((_, ack)) => panic!("connection admitted: {ack:?}"),
        Err(e) => e
            .reason_code()
            .unwrap_or_else(|| panic!("a CONNACK refusal expected, got {e}")),
    }
}

/// The 3.1.1 CONNACK counterpart of a 5.0 refusal, as the client reads it back.
fn expected(v: ProtocolVersion, v5: ReasonCode) -> ReasonCode {
    if v.is_v5() {
        v5
    } else {
        ReasonCode::from_v3_connack(v5.to_v3_connack()).unwrap()
    }
}

fn id(f: Frontend, v: ProtocolVersion, what: &str) -> String {
    format!("{what}-{f:?}-{v:?}")
        .to_lowercase()
        .replace(['.', '_'], "")
}

/// Polls `cond` every 10 ms until true or [`WAIT`] passes.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn next_topic(client: &mut Client) -> String {
    let msg = tokio::time::timeout(WAIT, client.recv())
        .await
        .expect("a message in time")
        .expect("connection open");
    msg.topic.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_clients_are_refused_on_a_listener_without_allow_anonymous() {
    let server = start(Setup {
        anonymous: Anonymous::Deny,
        ..Setup::default()
    })
    .await;
    let ip = loopback();
    for f in Frontend::ALL {
        for v in VERSIONS {
            // `allow_anonymous = false` refuses anonymous clients even from loopback.
            let code = refusal(options(&server, f, ip, v, &id(f, v, "anon"))).await;
            assert_eq!(code, expected(v, ReasonCode::NotAuthorized), "{f:?} {v:?}");
            // The same client with credentials is admitted.
            let opts =
                options(&server, f, ip, v, &id(f, v, "user")).credentials(USER, Some(Bytes::from(PASSWORD)));
            connect(opts).await.unwrap_or_else(|e| panic!("{f:?} {v:?}: {e}"));
        }
    }
    assert_eq!(server.policy.stats().anonymous_refused, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_anonymous_is_decided_per_listener_on_every_transport() {
    let server = start(Setup {
        anonymous: Anonymous::Deny,
        open_twins: true,
        ..Setup::default()
    })
    .await;
    let ip = loopback();
    for f in Frontend::ALL {
        let v = ProtocolVersion::V5;
        // Two listeners of one transport on one broker: only the one with allow_anonymous admits.
        let open = options(&server, f, ip, v, &id(f, v, "open")).set_url(support::url(
            f,
            ip,
            server.port_of(f, true),
        ));
        connect(open)
            .await
            .unwrap_or_else(|e| panic!("{f:?} open listener: {e}"));
        let closed = options(&server, f, ip, v, &id(f, v, "closed"));
        assert_eq!(refusal(closed).await, ReasonCode::NotAuthorized, "{f:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_with_bad_user_name_or_password() {
    let server = start(Setup::default()).await;
    for f in Frontend::ALL {
        for v in VERSIONS {
            let opts = options(&server, f, loopback(), v, &id(f, v, "pw"))
                .credentials(USER, Some(Bytes::from("wrong")));
            let code = refusal(opts).await;
            assert_eq!(
                code,
                expected(v, ReasonCode::BadUserNameOrPassword),
                "{f:?} {v:?}"
            );
        }
    }
    assert_eq!(server.policy.stats().bad_credentials, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_denied_publish_gets_0x87_on_5_0_and_is_dropped_on_3_1_1() {
    let server = start(Setup::default()).await;
    let opts = options(&server, Frontend::Tcp, loopback(), ProtocolVersion::V5, "watcher");
    let (mut watcher, _) = connect(opts).await.unwrap();
    watcher
        .subscribe([
            filter("secret/#", QoS::AtLeastOnce),
            filter("open/#", QoS::AtLeastOnce),
        ])
        .await
        .unwrap();
    for f in Frontend::ALL {
        for v in VERSIONS {
            let (publisher, _) = connect(options(&server, f, loopback(), v, &id(f, v, "pub")))
                .await
                .unwrap();
            let denied = publisher
                .publish("secret/plans", "x", QoS::AtLeastOnce, false)
                .await
                .unwrap();
            if v.is_v5() {
                // MQTT 5.0 §3.4.2.1: PUBACK carries 0x87 Not authorized.
                assert_eq!(denied.reason_code, ReasonCode::NotAuthorized, "{f:?}");
            }
            // The connection lives on, and the next allowed message is the first the watcher sees: the
            // denied one was dropped, not delivered.
            let marker = format!("open/{}", id(f, v, "marker"));
            let ok = publisher
                .publish(marker.as_str(), "y", QoS::AtLeastOnce, false)
                .await
                .unwrap();
            assert!(ok.is_success(), "{f:?} {v:?}: {ok:?}");
            assert_eq!(next_topic(&mut watcher).await, marker, "{f:?} {v:?}");
        }
    }
    assert_eq!(server.policy.stats().publish_denied, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_denied_subscribe_gets_0x87_on_5_0_and_0x80_on_3_1_1() {
    let server = start(Setup::default()).await;
    for f in Frontend::ALL {
        for v in VERSIONS {
            let (client, _) = connect(options(&server, f, loopback(), v, &id(f, v, "sub")))
                .await
                .unwrap();
            let ack = client
                .subscribe([
                    filter("forbidden/x", QoS::AtLeastOnce),
                    filter("open/x", QoS::AtLeastOnce),
                ])
                .await
                .unwrap();
            let denied = if v.is_v5() {
                ReasonCode::NotAuthorized
            } else {
                ReasonCode::UnspecifiedError
            };
            assert_eq!(
                ack.reason_codes,
                vec![denied, ReasonCode::GrantedQoS1],
                "{f:?} {v:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_client_is_refused_with_0x8a() {
    let server = start(Setup::default()).await;
    for f in Frontend::ALL {
        for v in VERSIONS {
            let code = refusal(options(&server, f, loopback(), v, BANNED_ID)).await;
            assert_eq!(code, expected(v, ReasonCode::Banned), "{f:?} {v:?}");
        }
        if f.is_tls() {
            // A certificate whose identity is a banned user name.
            let opts = options(
                &server,
                f,
                loopback(),
                ProtocolVersion::V5,
                &id(f, ProtocolVersion::V5, "c"),
            )
            .tls(tls(Some(&files().banned_device)));
            assert_eq!(refusal(opts).await, ReasonCode::Banned, "{f:?}");
        }
    }
    let sensor = SnClient::new(&server, loopback()).await;
    assert_eq!(sensor.connect(BANNED_ID).await, ReturnCode::NotSupported);
    assert_eq!(server.policy.stats().banned, 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_identity_is_the_user_name_on_tls_wss_and_quic() {
    let server = start(Setup {
        anonymous: Anonymous::Deny,
        ..Setup::default()
    })
    .await;
    // The listener refuses anonymous clients, so the certificate alone is what admits the client.
    let host = loopback();
    for f in Frontend::ALL.into_iter().filter(|f| f.is_tls()) {
        let v = ProtocolVersion::V5;
        let opts = options(&server, f, host, v, &id(f, v, "cert")).tls(tls(Some(&files().device)));
        let (client, _) = connect(opts).await.unwrap_or_else(|e| panic!("{f:?}: {e}"));
        // The ACL opens certs/<user> to that user only: the certificate's CN is the user name.
        let own = format!("certs/{CERT_USER}");
        let out = client
            .publish(own.as_str(), "x", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        assert!(out.is_success(), "{f:?}: {out:?}");
        let out = client
            .publish("certs/other", "x", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        assert_eq!(out.reason_code, ReasonCode::NotAuthorized, "{f:?}");
        // Without the certificate the client is anonymous and refused; another user may not use the topic.
        let code = refusal(options(&server, f, loopback(), v, &id(f, v, "nocert"))).await;
        assert_eq!(code, ReasonCode::NotAuthorized, "{f:?}");
        let other = options(&server, f, loopback(), v, &id(f, v, "other"))
            .credentials(USER, Some(Bytes::from(PASSWORD)));
        let (other, _) = connect(other).await.unwrap_or_else(|e| panic!("{f:?}: {e}"));
        let out = other
            .publish(own.as_str(), "x", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        assert_eq!(out.reason_code, ReasonCode::NotAuthorized, "{f:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_per_ip_refuses_with_0x9f() {
    let server = start(Setup {
        core: CoreConfig {
            max_connections_per_ip: 2,
            ..CoreConfig::default()
        },
        ..Setup::default()
    })
    .await;
    for f in Frontend::ALL {
        let mut held = Vec::new();
        for n in 0..2 {
            let v = ProtocolVersion::V5;
            let (c, _) = connect(options(
                &server,
                f,
                loopback(),
                v,
                &format!("{}-{n}", id(f, v, "ip")),
            ))
            .await
            .unwrap_or_else(|e| panic!("{f:?}: {e}"));
            held.push(c);
        }
        for v in VERSIONS {
            let code = refusal(options(&server, f, loopback(), v, &id(f, v, "ip-over"))).await;
            assert_eq!(
                code,
                expected(v, ReasonCode::ConnectionRateExceeded),
                "{f:?} {v:?}"
            );
        }
        for c in held {
            c.disconnect(ReasonCode::NormalDisconnection).await.unwrap();
        }
        eventually("the address's connections released", || {
            server.broker.core().stats().connections == 0
        })
        .await;
    }
    assert_eq!(server.broker.core().stats().per_ip_refused, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_over_the_rate_get_0x97_on_5_0_and_are_dropped_on_3_1_1() {
    let server = start(Setup {
        core: CoreConfig {
            publish_rate: Some(1),
            publish_burst: Some(1),
            ..CoreConfig::default()
        },
        ..Setup::default()
    })
    .await;
    for f in Frontend::ALL {
        for v in VERSIONS {
            let (client, _) = connect(options(&server, f, loopback(), v, &id(f, v, "rate")))
                .await
                .unwrap();
            let before = server.broker.core().stats().publish_rate_limited;
            // Burst 1 at 1/s: of 20 back-to-back publishes (far less than a second) some are over the rate.
            let mut quota = 0;
            for _ in 0..20 {
                let qos = if v.is_v5() {
                    QoS::AtLeastOnce
                } else {
                    QoS::AtMostOnce
                };
                let out = client.publish("rate/x", "x", qos, false).await.unwrap();
                if out.reason_code == ReasonCode::QuotaExceeded {
                    quota += 1;
                }
            }
            if v.is_v5() {
                assert!(quota > 0, "{f:?}: no PUBACK 0x97");
            }
            // QoS 0 returns once written: the broker counts what it dropped as it reads them.
            eventually(&format!("{f:?} {v:?}: publishes counted as rate limited"), || {
                server.broker.core().stats().publish_rate_limited > before
            })
            .await;
            // The publisher stays connected: over the rate is not a protocol error.
            client
                .publish("rate/y", "x", QoS::AtMostOnce, false)
                .await
                .unwrap();
            assert!(!client.is_closed(), "{f:?} {v:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_packet_is_refused_with_0x95_before_it_is_read() {
    let server = start(Setup {
        core: CoreConfig {
            max_packet_size: 1024,
            ..CoreConfig::default()
        },
        ..Setup::default()
    })
    .await;
    for f in Frontend::ALL {
        for v in VERSIONS {
            let mut conn = raw(&server, f).await.unwrap();
            let connect = tern_mqtt_codec::Connect {
                protocol: v,
                clean_start: true,
                keep_alive: 60,
                client_id: id(f, v, "big").into(),
                will: None,
                username: None,
                password: None,
                properties: ConnectProperties::default(),
            };
            conn.send(&Packet::Connect(Box::new(connect)), v).await.unwrap();
            match conn.recv_packet(WAIT).await.unwrap() {
                Some(Packet::ConnAck(ack)) => assert!(ack.reason_code.is_success(), "{ack:?}"),
                other => panic!("{f:?} {v:?}: CONNACK expected, got {other:?}"),
            }
            // A PUBLISH announcing 256 MiB: the header alone must end the connection, no payload sent.
            conn.send_bytes(&[0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, b'a'])
                .await
                .unwrap();
            let closed = conn.expect_closed(WAIT).await;
            match (v.is_v5(), closed) {
                // MQTT 5.0 §4.13: the server says why with DISCONNECT 0x95 Packet too large.
                (true, Ok(Some(d))) => assert_eq!(d.reason_code, ReasonCode::PacketTooLarge, "{f:?}"),
                (false, Ok(None)) => {}
                (_, other) => panic!("{f:?} {v:?}: {other:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_no_connect_is_closed_at_the_deadline() {
    let server = start(Setup {
        core: CoreConfig {
            connect_timeout: Duration::from_secs(1),
            ..CoreConfig::default()
        },
        handshake_timeout: Duration::from_secs(1),
        ..Setup::default()
    })
    .await;
    for f in Frontend::ALL {
        // Silent, and half a CONNECT (slowloris): both are closed, neither waits for WAIT.
        for bytes in [&b""[..], &[0x10, 0x20, 0x00, 0x04, b'M', b'Q'][..]] {
            let mut conn = raw(&server, f).await.unwrap();
            if !bytes.is_empty() {
                conn.send_bytes(bytes).await.unwrap();
            }
            match conn.expect_closed(WAIT).await {
                Err(e) if e.kind() == ErrorKind::Timeout => panic!("{f:?}: still open after {WAIT:?}"),
                // Closed cleanly, reset, or (QUIC: a stream never used reaches the broker only as the
                // listener's no-stream deadline) closed with an error: all end the connection.
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handshakes_are_counted_in_the_brokers_totals() {
    let server = start(Setup::default()).await;
    // Plain bytes to the TLS, WSS and WebSocket listeners: not a TLS ClientHello, not an HTTP upgrade.
    for f in [Frontend::Tls, Frontend::Wss, Frontend::Ws] {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", server.port(f)))
            .await
            .unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut s, b"\x10\x00garbage, not a handshake\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        // The listener closes it (after an HTTP 400 on WebSocket).
        let _ = tokio::time::timeout(WAIT, async {
            while tokio::io::AsyncReadExt::read(&mut s, &mut buf).await.unwrap_or(0) > 0 {}
        })
        .await;
    }
    eventually("three failed handshakes in the totals", || {
        server.broker.core().stats().handshake_failures >= 3
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_listener_connection_rate_are_refused_before_mqtt() {
    let server = start(Setup {
        connection_rate: Some(1),
        ..Setup::default()
    })
    .await;
    for f in Frontend::ALL {
        let v = ProtocolVersion::V5;
        let (first, _) = connect(options(&server, f, loopback(), v, &id(f, v, "first")))
            .await
            .unwrap_or_else(|e| panic!("{f:?}: {e}"));
        // Burst 1 refilling at 1/s: of 20 back-to-back attempts on loopback some are over the rate.
        let mut refused = 0;
        for n in 0..20 {
            let opts = options(&server, f, loopback(), v, &format!("{}-{n}", id(f, v, "more")));
            match connect(opts).await {
                Ok(_) => {}
                Err(e) => {
                    assert!(
                        e.reason_code().is_none(),
                        "{f:?}: refused by MQTT, not at accept: {e}"
                    );
                    refused += 1;
                }
            }
        }
        assert!(refused > 0, "{f:?}: nothing refused");
        assert_eq!(server.refused_rate(f), refused, "{f:?}");
        // The connection admitted before keeps working.
        let out = first
            .publish("rate/ok", "x", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        assert!(out.is_success(), "{f:?}");
    }
    // MQTT-SN: CONNACK "rejected: congestion".
    let mut congested = 0;
    for n in 0..20 {
        let sensor = SnClient::new(&server, loopback()).await;
        match sensor.connect(&format!("sensor-{n}")).await {
            ReturnCode::Accepted => {}
            ReturnCode::Congestion => congested += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(congested > 0, "no MQTT-SN CONNECT refused");
    // Every listener's refusals add up in the broker's totals (`$SYS/broker/limits/connection rate refused`).
    let listeners: u64 = Frontend::ALL.into_iter().map(|f| server.refused_rate(f)).sum();
    assert_eq!(
        server.broker.core().stats().connection_rate_refused,
        listeners + congested
    );
}
