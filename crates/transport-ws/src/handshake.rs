//! The HTTP side of the WebSocket upgrade: path, subprotocol, Origin and forwarded-address checks, as a pure
//! function of the request so each rule is tested without a socket.

use std::net::{IpAddr, SocketAddr};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

/// The HTTP-level rules of one WebSocket listener.
#[derive(Debug, Clone)]
pub struct UpgradeRules {
    /// The only path upgraded (`/mqtt` by default); anything else gets 404.
    pub path: String,
    /// Subprotocols accepted, in no particular order (`mqtt`, `mqttv3.1`); the client's first acceptable
    /// offer is selected.
    pub subprotocols: Vec<String>,
    /// Refuse a request that offers no subprotocol at all. Off by default: browsers' MQTT libraries always
    /// offer `mqtt`, but some device SDKs and tools offer none, and nothing is ambiguous without one.
    pub require_subprotocol: bool,
    /// Origins allowed to connect (exact match, e.g. `https://app.example.com`); empty allows any. A request
    /// without `Origin` (not from a browser) is always allowed: the header only protects browsers' users.
    pub allowed_origins: Vec<String>,
    /// Take the client address from `X-Forwarded-For` (its last entry, the one the proxy in front of us
    /// added). Only behind a reverse proxy that sets it: any client can send the header.
    pub trust_proxy_headers: bool,
}

impl Default for UpgradeRules {
    fn default() -> Self {
        UpgradeRules {
            path: "/mqtt".into(),
            subprotocols: vec!["mqtt".into(), "mqttv3.1".into()],
            require_subprotocol: false,
            allowed_origins: Vec::new(),
            trust_proxy_headers: false,
        }
    }
}

/// What an accepted upgrade learned from the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upgraded {
    /// The subprotocol selected, if the client offered one.
    pub subprotocol: Option<String>,
    /// The client address from `X-Forwarded-For`, when trusted and present.
    pub forwarded_for: Option<SocketAddr>,
}

impl UpgradeRules {
    /// Checks an upgrade request; on success returns the response to send (with the selected subprotocol)
    /// and what was learned, else the HTTP error to send instead.
    // The error type is the one tungstenite's upgrade callback must return.
    #[allow(clippy::result_large_err)]
    pub fn check(&self, req: &Request, mut resp: Response) -> Result<(Response, Upgraded), ErrorResponse> {
        if req.uri().path() != self.path {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                format!("MQTT over WebSocket is served at {}", self.path),
            ));
        }
        if !self.allowed_origins.is_empty()
            && let Some(origin) = req.headers().get("origin")
        {
            let ok = origin
                .to_str()
                .is_ok_and(|o| self.allowed_origins.iter().any(|a| a.eq_ignore_ascii_case(o)));
            if !ok {
                return Err(refuse(StatusCode::FORBIDDEN, "origin not allowed".into()));
            }
        }
        let offered: Vec<&str> = req
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let mut upgraded = Upgraded::default();
        if offered.is_empty() {
            if self.require_subprotocol {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    format!("offer a WebSocket subprotocol: {}", self.subprotocols.join(", ")),
                ));
            }
        } else {
            let chosen = offered
                .iter()
                .find(|o| self.subprotocols.iter().any(|s| s.eq_ignore_ascii_case(o)))
                .ok_or_else(|| {
                    refuse(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "no supported WebSocket subprotocol offered (supported: {})",
                            self.subprotocols.join(", ")
                        ),
                    )
                })?;
            let value = HeaderValue::from_str(chosen)
                .map_err(|_| refuse(StatusCode::BAD_REQUEST, "invalid subprotocol".into()))?;
            resp.headers_mut().insert("sec-websocket-protocol", value);
            upgraded.subprotocol = Some((*chosen).to_owned());
        }
        if self.trust_proxy_headers {
            upgraded.forwarded_for = req
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| parse_forwarded(a.trim()))
                .next_back();
        }
        Ok((resp, upgraded))
    }
}

/// An `X-Forwarded-For` entry: a bare IP (port 0: the header carries none), or `ip:port` / `[v6]:port`.
fn parse_forwarded(s: &str) -> Option<SocketAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 0));
    }
    s.parse::<SocketAddr>().ok()
}

fn refuse(status: StatusCode, why: String) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(why));
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn req(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    fn check(rules: &UpgradeRules, r: &Request) -> Result<Upgraded, StatusCode> {
        rules
            .check(r, Response::new(()))
            .map(|(resp, up)| {
                assert_eq!(
                    resp.headers()
                        .get("sec-websocket-protocol")
                        .map(|v| v.to_str().unwrap().to_owned()),
                    up.subprotocol
                );
                up
            })
            .map_err(|e| e.status())
    }

    #[test]
    fn path_and_subprotocols() {
        let rules = UpgradeRules::default();
        assert_eq!(
            check(&rules, &req("/other", &[("sec-websocket-protocol", "mqtt")])),
            Err(StatusCode::NOT_FOUND)
        );
        let up = check(
            &rules,
            &req("/mqtt", &[("sec-websocket-protocol", "wamp, mqttv3.1, mqtt")]),
        )
        .unwrap();
        assert_eq!(up.subprotocol.as_deref(), Some("mqttv3.1"));
        assert_eq!(
            check(&rules, &req("/mqtt", &[("sec-websocket-protocol", "wamp")])),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(check(&rules, &req("/mqtt", &[])).unwrap().subprotocol, None);
        let strict = UpgradeRules {
            require_subprotocol: true,
            ..UpgradeRules::default()
        };
        assert_eq!(check(&strict, &req("/mqtt", &[])), Err(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn origins_and_forwarded_addresses() {
        let rules = UpgradeRules {
            allowed_origins: vec!["https://app.example".into()],
            ..UpgradeRules::default()
        };
        assert!(check(&rules, &req("/mqtt", &[("origin", "https://app.example")])).is_ok());
        assert!(check(&rules, &req("/mqtt", &[])).is_ok());
        assert_eq!(
            check(&rules, &req("/mqtt", &[("origin", "https://evil.example")])),
            Err(StatusCode::FORBIDDEN)
        );

        let xff = [("x-forwarded-for", "198.51.100.1, 203.0.113.7")];
        assert_eq!(
            check(&UpgradeRules::default(), &req("/mqtt", &xff))
                .unwrap()
                .forwarded_for,
            None
        );
        let trusting = UpgradeRules {
            trust_proxy_headers: true,
            ..UpgradeRules::default()
        };
        assert_eq!(
            check(&trusting, &req("/mqtt", &xff)).unwrap().forwarded_for,
            Some("203.0.113.7:0".parse().unwrap())
        );
        assert_eq!(
            check(
                &trusting,
                &req("/mqtt", &[("x-forwarded-for", "[2001:db8::1]:443")])
            )
            .unwrap()
            .forwarded_for,
            Some("[2001:db8::1]:443".parse().unwrap())
        );
    }
}
