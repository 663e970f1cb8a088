//! The statement catalogue: `statements/mqtt-3.1.1.toml` and `statements/mqtt-5.0.toml`, compiled in. Each
//! entry is a normative statement (id, paraphrase, which side it binds, and for broker-side statements without
//! a test the reason none can exist). [`coverage`] joins it with the test registry, so README counts are computed.

use crate::config::Protocol;
use crate::registry::TestCase;
use serde::Deserialize;

/// Which side of a connection a statement binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Only the server: the broker must do it.
    Server,
    /// Only the client: a broker cannot break it, the suite does not test it.
    Client,
    /// Sender/receiver rules that bind the broker too.
    Both,
}

/// One normative statement.
#[derive(Debug, Clone, Deserialize)]
pub struct Statement {
    /// Its id, e.g. `MQTT-3.3.1-4`.
    pub id: String,
    /// Which side it binds.
    pub side: Side,
    /// A paraphrase.
    pub text: String,
    /// Why a broker-side statement has no test.
    pub not_covered: Option<String>,
}

impl Statement {
    /// True when the broker can break it.
    pub fn broker_side(&self) -> bool {
        self.side != Side::Client
    }
}

#[derive(Deserialize)]
struct File {
    statement: Vec<Statement>,
}

/// The statements of `protocol` (for MQTT-SN: the gateway behaviours, with this suite's `SN-` ids).
pub fn statements(protocol: Protocol) -> Vec<Statement> {
    let text = match protocol {
        Protocol::V311 => include_str!("../statements/mqtt-3.1.1.toml"),
        Protocol::V5 => include_str!("../statements/mqtt-5.0.toml"),
        Protocol::Sn => include_str!("../statements/mqtt-sn-1.2.toml"),
    };
    // The files are compiled in and checked by this crate's tests, so a parse error is a build defect.
    toml::from_str::<File>(text)
        .map(|f| f.statement)
        .unwrap_or_default()
}

/// The paraphrase of a statement, if catalogued.
pub fn text(protocol: Protocol, id: &str) -> Option<String> {
    statements(protocol)
        .into_iter()
        .find(|s| s.id == id)
        .map(|s| s.text)
}

/// Coverage of one protocol's catalogue by the registry.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// Statements in the catalogue.
    pub total: usize,
    /// Statements a broker can break.
    pub broker_side: usize,
    /// Broker-side statements with a test.
    pub covered: Vec<String>,
    /// Broker-side statements without a test, with the reason.
    pub not_covered: Vec<(String, String)>,
    /// Broker-side statements with neither test nor reason (a catalogue defect).
    pub unexplained: Vec<String>,
    /// Tests whose id is not a broker-side statement of the catalogue (a registry defect).
    pub unknown_tests: Vec<String>,
}

/// Joins the catalogue of `protocol` with the tests registered for it.
pub fn coverage(protocol: Protocol, tests: &[TestCase]) -> Coverage {
    let stmts = statements(protocol);
    let ids: Vec<&str> = tests
        .iter()
        .filter(|t| t.protocol == protocol)
        .map(|t| t.id)
        .collect();
    let mut c = Coverage {
        total: stmts.len(),
        ..Coverage::default()
    };
    for s in &stmts {
        if !s.broker_side() {
            continue;
        }
        c.broker_side += 1;
        if ids.contains(&s.id.as_str()) {
            c.covered.push(s.id.clone());
        } else if let Some(r) = &s.not_covered {
            c.not_covered.push((s.id.clone(), r.clone()));
        } else {
            c.unexplained.push(s.id.clone());
        }
    }
    for id in ids {
        if !stmts.iter().any(|s| s.id == id && s.broker_side()) {
            c.unknown_tests.push(id.to_owned());
        }
    }
    c
}

/// Coverage as Markdown, for README.md: counts per protocol and the list of statements not covered.
pub fn coverage_markdown(tests: &[TestCase]) -> String {
    let mut s = String::from(
        "| Protocol | Statements | Broker-side | Covered | Not covered |\n|---|---|---|---|---|\n",
    );
    let protos = [Protocol::V311, Protocol::V5, Protocol::Sn];
    let covs: Vec<Coverage> = protos.iter().map(|p| coverage(*p, tests)).collect();
    for (p, c) in protos.iter().zip(&covs) {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            proto_title(*p),
            c.total,
            c.broker_side,
            c.covered.len(),
            c.not_covered.len() + c.unexplained.len()
        ));
    }
    for (p, c) in protos.iter().zip(&covs) {
        s.push_str(&format!("\nNot covered, {}:\n\n", proto_title(*p)));
        for (id, why) in &c.not_covered {
            s.push_str(&format!("- `{id}`: {why}\n"));
        }
        for id in &c.unexplained {
            s.push_str(&format!("- `{id}`: no test yet\n"));
        }
    }
    s
}

fn proto_title(p: Protocol) -> &'static str {
    match p {
        Protocol::V311 => "MQTT 3.1.1",
        Protocol::V5 => "MQTT 5.0",
        Protocol::Sn => "MQTT-SN 1.2 (gateway)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_parse_and_ids_are_unique() {
        for p in [Protocol::V311, Protocol::V5, Protocol::Sn] {
            let s = statements(p);
            assert!(s.len() > 20, "{p}: {} statements", s.len());
            let mut ids: Vec<&str> = s.iter().map(|s| s.id.as_str()).collect();
            ids.sort_unstable();
            let n = ids.len();
            ids.dedup();
            assert_eq!(n, ids.len(), "{p}: duplicate ids");
        }
    }

    #[test]
    fn every_test_names_a_broker_side_statement_and_every_statement_is_accounted_for() {
        let tests = crate::registry::all();
        for p in [Protocol::V311, Protocol::V5, Protocol::Sn] {
            let c = coverage(p, &tests);
            assert!(
                c.unknown_tests.is_empty(),
                "{p}: tests without a statement: {:?}",
                c.unknown_tests
            );
            assert!(
                c.unexplained.is_empty(),
                "{p}: statements with neither test nor reason: {:?}",
                c.unexplained
            );
        }
    }
}
