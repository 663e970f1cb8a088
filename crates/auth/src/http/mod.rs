//! The HTTP authentication/authorization hook (`[auth.http]`), for operators whose users live in their own
//! service. Every decision is one JSON POST to `url`; the answer is read from the status and body:
//!
//! - `200` with `{"result": "allow"}` allows, `200` with `{"result": "deny"}` denies, and so do `401`/`403`;
//! - anything else (another status, another body, no answer within `timeout_ms`, a refused connection)
//!   is a failure of the service and fails closed: CONNECT gets 0x88 Server unavailable (3.1.1: 3), a
//!   publish or subscription is denied. Failures are logged and counted.
//!
//! CONNECT decisions never block: the policy answers the core "pending" and the request runs on its own
//! tokio task, which completes the core's [`PendingAuth`] (the connection reads nothing meanwhile).
//! Publish/subscribe decisions (with `authorize = true`) are cached per (client id, action, topic) for
//! `cache_ttl` seconds; a miss makes the call on the connection's task inside `block_in_place`, so the
//! runtime moves that worker's other tasks elsewhere meanwhile.

mod cache;

pub use cache::{Action, DecisionCache};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `[auth.http]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Where decisions are asked (`http://host:port/path`; plain HTTP: keep the service on loopback or a
    /// private network).
    pub url: String,
    /// How long one decision may take before it fails closed (milliseconds, default 2000).
    pub timeout_ms: Option<u64>,
    /// Ask the service about every publish and subscription too (default false: only CONNECT).
    #[serde(default)]
    pub authorize: bool,
    /// Seconds a publish/subscribe decision is reused (default 60; 0 asks every time).
    pub cache_ttl: Option<u64>,
    /// Most cached decisions (default 100000).
    pub cache_max_entries: Option<usize>,
}

/// The largest answer read from the service.
const MAX_BODY: usize = 64 * 1024;

/// Counters of the hook.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    failures: AtomicU64,
    cache_hits: AtomicU64,
}

/// A snapshot of the hook's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpStats {
    /// Requests made to the service.
    pub requests: u64,
    /// Requests that failed (timeout, unreachable, unexpected status or body): each failed closed.
    pub failures: u64,
    /// Publish/subscribe decisions answered from the cache.
    pub cache_hits: u64,
}

/// Why the service gave no decision.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request could not be made or the connection failed.
    #[error("request failed: {0}")]
    Request(String),
    /// A status other than 200, 401 or 403.
    #[error("unexpected status {0}")]
    Status(StatusCode),
    /// A 200 whose body is not `{"result": "allow"|"deny"}`.
    #[error("unexpected answer: {0}")]
    Body(String),
    /// No tokio runtime that can wait for the answer here.
    #[error("no multi-thread tokio runtime to wait for the answer on")]
    NoRuntime,
}

/// The service's answer body.
#[derive(Deserialize)]
struct Answer {
    result: String,
}

/// The hook: an HTTP/1 client with a connection pool, and the decision cache.
pub struct HttpHook {
    uri: Uri,
    url: String,
    timeout: Duration,
    authorize: bool,
    client: Client<HttpConnector, Full<Bytes>>,
    cache: DecisionCache,
    counters: Counters,
}

impl std::fmt::Debug for HttpHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpHook")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("authorize", &self.authorize)
            .finish_non_exhaustive()
    }
}

impl HttpConfig {
    /// The URL, checked: plain `http://` with a host (what `tern check-config` and start-up refuse otherwise).
    pub fn validate(&self) -> Result<Uri, String> {
        let uri: Uri = self
            .url
            .parse()
            .map_err(|e| format!("[auth.http] url {:?}: {e}", self.url))?;
        match uri.scheme_str() {
            Some("http") if uri.authority().is_some() => Ok(uri),
            Some("https") => Err(format!(
                "[auth.http] url {:?}: https is not supported; run the service on loopback or a private \
                 network, or behind a local TLS-terminating proxy",
                self.url
            )),
            _ => Err(format!(
                "[auth.http] url {:?}: expected http://host:port/path",
                self.url
            )),
        }
    }
}

impl HttpHook {
    /// Checks the configuration; a bad URL is a start-up error.
    pub fn new(config: &HttpConfig) -> Result<HttpHook, String> {
        let uri = config.validate()?;
        let timeout = Duration::from_millis(config.timeout_ms.unwrap_or(2000).max(1));
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        Ok(HttpHook {
            uri,
            url: config.url.clone(),
            timeout,
            authorize: config.authorize,
            client: Client::builder(TokioExecutor::new()).build(connector),
            cache: DecisionCache::new(
                Duration::from_secs(config.cache_ttl.unwrap_or(60)),
                config.cache_max_entries.unwrap_or(100_000),
            ),
            counters: Counters::default(),
        })
    }

    /// Whether publish/subscribe decisions are asked too.
    pub fn authorizes(&self) -> bool {
        self.authorize
    }

    /// The URL, for the start-up summary.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The counters.
    pub fn stats(&self) -> HttpStats {
        HttpStats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            failures: self.counters.failures.load(Ordering::Relaxed),
            cache_hits: self.counters.cache_hits.load(Ordering::Relaxed),
        }
    }

    /// Posts `body` and reads the decision: `Ok(true)` allow, `Ok(false)` deny.
    pub async fn ask(&self, body: &serde_json::Value) -> Result<bool, HttpError> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let result = tokio::time::timeout(self.timeout, self.ask_inner(body))
            .await
            .unwrap_or(Err(HttpError::Timeout(self.timeout)));
        if let Err(e) = &result {
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(url = %self.url, error = %e, "auth service gave no decision: failing closed");
        }
        result
    }

    async fn ask_inner(&self, body: &serde_json::Value) -> Result<bool, HttpError> {
        let req = Request::post(self.uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| HttpError::Request(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| HttpError::Request(error_chain(&e)))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Ok(false);
        }
        if status != StatusCode::OK {
            return Err(HttpError::Status(status));
        }
        let bytes = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| HttpError::Body(e.to_string()))?
            .to_bytes();
        let answer: Answer = serde_json::from_slice(&bytes).map_err(|e| HttpError::Body(e.to_string()))?;
        match answer.result.as_str() {
            "allow" => Ok(true),
            "deny" => Ok(false),
            other => Err(HttpError::Body(format!(
                "result {other:?} is neither allow nor deny"
            ))),
        }
    }

    /// Asks from synchronous code (the policy's publish/subscribe checks), blocking this task but not the
    /// runtime's other tasks (`block_in_place`). Needs a multi-thread tokio runtime.
    pub fn ask_blocking(&self, body: &serde_json::Value) -> Result<bool, HttpError> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current() {
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| h.block_on(self.ask(body)))
            }
            _ => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(url = %self.url, "auth service not asked (no multi-thread runtime): failing closed");
                Err(HttpError::NoRuntime)
            }
        }
    }

    /// A publish/subscribe decision: the cache, else the service (failures deny and are not cached).
    pub fn authorize(&self, client_id: &str, username: Option<&str>, action: Action, topic: &str) -> bool {
        let now = Instant::now();
        if let Some(allow) = self.cache.get(client_id, action, topic, now) {
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return allow;
        }
        let body = json!({
            "action": action.as_str(),
            "client_id": client_id,
            "username": username,
            "topic": topic,
        });
        match self.ask_blocking(&body) {
            Ok(allow) => {
                self.cache.insert(client_id, action, topic, allow, Instant::now());
                if !allow {
                    tracing::info!(
                        client_id,
                        user = username.unwrap_or(""),
                        action = action.as_str(),
                        topic,
                        "auth service denied"
                    );
                }
                allow
            }
            Err(_) => false,
        }
    }
}

/// An error with its sources, for the log ("connection refused" hides behind hyper's generic message).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> HttpConfig {
        HttpConfig {
            url: url.into(),
            timeout_ms: None,
            authorize: false,
            cache_ttl: None,
            cache_max_entries: None,
        }
    }

    #[test]
    fn only_plain_http_urls_with_a_host() {
        assert!(config("http://127.0.0.1:8080/auth").validate().is_ok());
        let e = config("https://auth.example/x").validate().unwrap_err();
        assert!(e.contains("https is not supported"), "{e}");
        assert!(config("127.0.0.1:8080/auth").validate().is_err());
        assert!(config("/auth").validate().is_err());
        assert!(config("http://").validate().is_err());
    }
}
