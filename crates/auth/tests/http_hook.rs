//! The HTTP auth hook end to end: a real HTTP service (axum) and the real broker, both on loopback, and
//! `tern-client` connecting, publishing and subscribing. Allow, deny, failures that fail closed (timeout,
//! 5xx, unreachable), CONNECT not blocking other clients while a decision is pending, and the decision cache.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tern_auth::{AuthConfig, HttpConfig, TernPolicy};
use tern_broker::Broker;
use tern_client::{Client, ConnectOptions, ProtocolVersion, QoS, ReasonCode, filter};
use tokio::sync::Notify;

mod support;

const WAIT: Duration = Duration::from_secs(10);

/// The service: records every request; decides by user name and topic.
#[derive(Default)]
struct Service {
    seen: Mutex<Vec<Value>>,
    /// Released by the test: the `hold` user's decision waits for it.
    release: Notify,
}

impl Service {
    fn count(&self, action: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|v| v["action"] == action).count()
    }
}

async fn decide(State(svc): State<Arc<Service>>, Json(req): Json<Value>) -> Response {
    svc.seen.lock().unwrap().push(req.clone());
    let allow = |yes: bool| Json(json!({"result": if yes { "allow" } else { "deny" }})).into_response();
    match req["action"].as_str().unwrap_or("") {
        "connect" => match req["username"].as_str() {
            Some("alice") => allow(req["password"] == "secret"),
            Some("slow") => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                allow(true)
            }
            Some("hold") => {
                svc.release.notified().await;
                allow(true)
            }
            Some("broken") => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            Some("forbidden") => StatusCode::FORBIDDEN.into_response(),
            Some("garbage") => "not json".into_response(),
            _ => allow(false),
        },
        "publish" | "subscribe" => allow(req["topic"].as_str().unwrap_or("").starts_with("allowed/")),
        _ => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn service() -> (Arc<Service>, SocketAddr) {
    let svc = Arc::new(Service::default());
    let app = axum::Router::new()
        .route("/mqtt/auth", post(decide))
        .with_state(svc.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (svc, addr)
}

struct Setup {
    _broker: Broker,
    url: String,
    policy: Arc<TernPolicy>,
}

async fn broker(service_url: String, timeout_ms: u64) -> Setup {
    let config = AuthConfig {
        http: Some(HttpConfig {
            url: service_url,
            timeout_ms: Some(timeout_ms),
            authorize: true,
            cache_ttl: Some(3600),
            cache_max_entries: None,
        }),
        ..AuthConfig::default()
    };
    let policy = support::policy(&config, "tcp:test");
    let (broker, url) = support::serve(policy.clone()).await;
    Setup {
        _broker: broker,
        url,
        policy,
    }
}

fn opts(url: &str, id: &str, user: &str, password: &str) -> ConnectOptions {
    ConnectOptions::new(url)
        .protocol(ProtocolVersion::V5)
        .client_id(id)
        .credentials(user, Some(password.to_string().into()))
        .timeout(WAIT)
}

async fn refusal(o: ConnectOptions) -> Option<ReasonCode> {
    Client::connect(o).await.err().and_then(|e| e.reason_code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_and_deny_with_the_documented_request() {
    let (svc, addr) = service().await;
    let s = broker(format!("http://{addr}/mqtt/auth"), 2000).await;
    let (_c, ack) = Client::connect(opts(&s.url, "dev-1", "alice", "secret"))
        .await
        .unwrap();
    assert_eq!(ack.reason_code, ReasonCode::Success);
    {
        let seen = svc.seen.lock().unwrap();
        let req = &seen[0];
        assert_eq!(req["action"], "connect");
        assert_eq!(req["client_id"], "dev-1");
        assert_eq!(req["username"], "alice");
        assert_eq!(req["password"], "secret");
        assert_eq!(req["protocol"], "mqtt5");
        assert_eq!(req["transport"], "tcp");
        assert_eq!(req["listener"], "tcp:test");
        assert!(req["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    }
    assert_eq!(
        refusal(opts(&s.url, "dev-2", "alice", "wrong")).await,
        Some(ReasonCode::BadUserNameOrPassword)
    );
    assert_eq!(
        refusal(opts(&s.url, "dev-3", "forbidden", "x")).await,
        Some(ReasonCode::BadUserNameOrPassword),
        "403 denies"
    );
    let anonymous = ConnectOptions::new(&s.url)
        .protocol(ProtocolVersion::V5)
        .timeout(WAIT);
    assert_eq!(refusal(anonymous).await, Some(ReasonCode::NotAuthorized));
    assert_eq!(s.policy.http_stats().unwrap().failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_failures_fail_closed() {
    let (_svc, addr) = service().await;
    let s = broker(format!("http://{addr}/mqtt/auth"), 300).await;
    for user in ["slow", "broken", "garbage"] {
        assert_eq!(
            refusal(opts(&s.url, user, user, "x")).await,
            Some(ReasonCode::ServerUnavailable),
            "{user}"
        );
    }
    assert_eq!(s.policy.http_stats().unwrap().failures, 3);

    // Nothing listening at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let s = broker(format!("http://{dead}/mqtt/auth"), 300).await;
    assert_eq!(
        refusal(opts(&s.url, "a", "alice", "secret")).await,
        Some(ReasonCode::ServerUnavailable)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_decision_does_not_hold_up_other_clients() {
    let (svc, addr) = service().await;
    let s = broker(format!("http://{addr}/mqtt/auth"), 10_000).await;
    let held = tokio::spawn(Client::connect(opts(&s.url, "held", "hold", "x")));
    // Wait (bounded) until the service has the held request, then connect others meanwhile.
    for _ in 0..500 {
        if svc.count("connect") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(svc.count("connect"), 1);
    for i in 0..5 {
        let id = format!("other-{i}");
        Client::connect(opts(&s.url, &id, "alice", "secret"))
            .await
            .unwrap();
    }
    assert!(
        !held.is_finished(),
        "the held client is still waiting for its decision"
    );
    svc.release.notify_one();
    let (_c, ack) = held.await.unwrap().unwrap();
    assert_eq!(ack.reason_code, ReasonCode::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_subscribe_decisions_are_cached() {
    let (svc, addr) = service().await;
    let s = broker(format!("http://{addr}/mqtt/auth"), 2000).await;
    let (mut c, _) = Client::connect(opts(&s.url, "dev-1", "alice", "secret"))
        .await
        .unwrap();
    let ack = c
        .subscribe([filter("allowed/t", QoS::AtLeastOnce)])
        .await
        .unwrap();
    assert_eq!(ack.reason_codes, [ReasonCode::GrantedQoS1]);
    let ack = c.subscribe([filter("denied/t", QoS::AtLeastOnce)]).await.unwrap();
    assert_eq!(ack.reason_codes, [ReasonCode::NotAuthorized]);
    for _ in 0..20 {
        let out = c
            .publish("allowed/t", "x", QoS::AtLeastOnce, false)
            .await
            .unwrap();
        assert_eq!(out.reason_code, ReasonCode::Success);
        let out = c.publish("denied/t", "x", QoS::AtLeastOnce, false).await.unwrap();
        assert_eq!(out.reason_code, ReasonCode::NotAuthorized);
    }
    for _ in 0..20 {
        let got = tokio::time::timeout(WAIT, c.recv()).await.unwrap().unwrap();
        assert_eq!(&*got.topic, "allowed/t");
    }
    // One question per (client, action, topic); the other 38 publishes were answered by the cache.
    assert_eq!(svc.count("publish"), 2);
    assert_eq!(svc.count("subscribe"), 2);
    assert_eq!(s.policy.http_stats().unwrap().cache_hits, 38);
    assert_eq!(s.policy.stats().publish_denied, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_line_says_the_service_decides() {
    let s = broker("http://127.0.0.1:9/auth".into(), 300).await;
    let d = s.policy.describe();
    assert!(
        d.contains("HTTP service http://127.0.0.1:9/auth decides every MQTT CONNECT, publish and subscribe"),
        "{d}"
    );
    assert!(!d.contains("anonymous from"), "{d}");
}
