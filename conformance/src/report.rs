//! Reports of a run: the human table with totals, JSON, JUnit XML, and the comparison with an expected-results
//! file (a JSON report committed earlier) so that a change in any verdict is noticed.

use crate::runner::{Outcome, Verdict};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Counts of each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Not applicable.
    pub not_applicable: usize,
    /// Skipped.
    pub skipped: usize,
}

/// Counts the verdicts of `outcomes`.
pub fn totals(outcomes: &[Outcome]) -> Totals {
    let mut t = Totals::default();
    for o in outcomes {
        match o.verdict {
            Verdict::Pass => t.pass += 1,
            Verdict::Fail(_) => t.fail += 1,
            Verdict::NotApplicable(_) => t.not_applicable += 1,
            Verdict::Skipped(_) => t.skipped += 1,
        }
    }
    t
}

/// The human table: one line per statement, then the totals.
pub fn table(target: &str, outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Conformance of {target}\n");
    let _ = writeln!(
        s,
        "{:<7} {:<16} {:<8} {:>6}  reason",
        "proto", "statement", "verdict", "ms"
    );
    for o in outcomes {
        let _ = writeln!(
            s,
            "{:<7} {:<16} {:<8} {:>6}  {}",
            o.protocol.name(),
            o.id,
            o.verdict.word(),
            o.elapsed.as_millis(),
            o.verdict.reason()
        );
    }
    let t = totals(outcomes);
    let _ = writeln!(
        s,
        "\ntotal {}: {} passed, {} failed, {} not applicable, {} skipped",
        outcomes.len(),
        t.pass,
        t.fail,
        t.not_applicable,
        t.skipped
    );
    s
}

/// The JSON report: target, totals and one object per statement.
pub fn json(target: &str, outcomes: &[Outcome]) -> String {
    let t = totals(outcomes);
    let results: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            json!({
                "protocol": o.protocol.name(),
                "id": o.id,
                "verdict": o.verdict.word(),
                "reason": o.verdict.reason(),
                "ms": o.elapsed.as_millis() as u64,
            })
        })
        .collect();
    let v = json!({
        "suite": concat!("tern-conformance ", env!("CARGO_PKG_VERSION")),
        "target": target,
        "totals": {"pass": t.pass, "fail": t.fail, "not_applicable": t.not_applicable, "skipped": t.skipped},
        "results": results,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The JUnit XML report: one test suite per protocol, one test case per statement.
pub fn junit(outcomes: &[Outcome]) -> String {
    let mut by_proto: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        by_proto.entry(o.protocol.name()).or_default().push(o);
    }
    let t = totals(outcomes);
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"tern-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
        outcomes.len(),
        t.fail,
        t.skipped + t.not_applicable
    );
    for (proto, os) in by_proto {
        let f = os
            .iter()
            .filter(|o| matches!(o.verdict, Verdict::Fail(_)))
            .count();
        let sk = os
            .iter()
            .filter(|o| matches!(o.verdict, Verdict::Skipped(_) | Verdict::NotApplicable(_)))
            .count();
        let _ = writeln!(
            s,
            "  <testsuite name=\"mqtt-{proto}\" tests=\"{}\" failures=\"{f}\" skipped=\"{sk}\">",
            os.len()
        );
        for o in os {
            let _ = write!(
                s,
                "    <testcase classname=\"mqtt-{proto}\" name=\"{}\" time=\"{:.3}\"",
                o.id,
                o.elapsed.as_secs_f64()
            );
            match &o.verdict {
                Verdict::Pass => s.push_str("/>\n"),
                Verdict::Fail(r) => {
                    let _ = writeln!(
                        s,
                        ">\n      <failure message=\"{}\"/>\n    </testcase>",
                        xml_escape(r)
                    );
                }
                Verdict::NotApplicable(r) | Verdict::Skipped(r) => {
                    let _ = writeln!(
                        s,
                        ">\n      <skipped message=\"{}: {}\"/>\n    </testcase>",
                        o.verdict.word(),
                        xml_escape(r)
                    );
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

/// Compares a run with an expected-results JSON report: one line per statement whose verdict differs (a
/// statement missing from either side counts as a difference). Reasons are not compared, only verdicts.
pub fn compare(expected_json: &str, outcomes: &[Outcome]) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_str(expected_json).map_err(|e| format!("expected-results file: {e}"))?;
    let results = v
        .get("results")
        .and_then(Value::as_array)
        .ok_or("expected-results file: no \"results\" array")?;
    let mut expected: BTreeMap<(String, String), String> = BTreeMap::new();
    for r in results {
        let get = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        expected.insert((get("protocol"), get("id")), get("verdict"));
    }
    let mut diffs = Vec::new();
    for o in outcomes {
        let key = (o.protocol.name().to_owned(), o.id.to_owned());
        match expected.remove(&key) {
            Some(v) if v == o.verdict.word() => {}
            Some(v) => diffs.push(format!(
                "{} {}: expected {v}, got {} {}",
                key.0,
                key.1,
                o.verdict.word(),
                o.verdict.reason()
            )),
            None => diffs.push(format!(
                "{} {}: not in the expected results, got {}",
                key.0,
                key.1,
                o.verdict.word()
            )),
        }
    }
    for ((p, id), v) in expected {
        diffs.push(format!("{p} {id}: expected {v}, but the test did not run"));
    }
    Ok(diffs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Protocol;
    use std::time::Duration;

    fn o(id: &'static str, verdict: Verdict) -> Outcome {
        Outcome {
            protocol: Protocol::V5,
            id,
            verdict,
            elapsed: Duration::from_millis(3),
        }
    }

    #[test]
    fn json_round_trips_through_compare() {
        let run = vec![
            o("MQTT-1", Verdict::Pass),
            o("MQTT-2", Verdict::Fail("x <y>".into())),
        ];
        let j = json("mqtt://h", &run);
        assert_eq!(compare(&j, &run).expect("valid"), Vec::<String>::new());
        let changed = vec![
            o("MQTT-1", Verdict::Fail("now".into())),
            o("MQTT-3", Verdict::Pass),
        ];
        let d = compare(&j, &changed).expect("valid");
        assert_eq!(d.len(), 3, "{d:?}");
    }

    #[test]
    fn junit_escapes_and_counts() {
        let run = vec![
            o("MQTT-1", Verdict::Pass),
            o("MQTT-2", Verdict::Fail("a<b".into())),
        ];
        let x = junit(&run);
        assert!(x.contains("failures=\"1\"") && x.contains("a&lt;b"), "{x}");
    }
}
