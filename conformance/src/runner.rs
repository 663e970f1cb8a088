//! Runs the selected tests with bounded concurrency; each test under its own timeout, then its cleanup.

use crate::config::{Config, Protocol};
use crate::ctx::Ctx;
use crate::registry::{Stop, TestCase};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The verdict on one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The broker met the statement.
    Pass,
    /// The broker broke it; the reason in one line.
    Fail(String),
    /// The statement does not apply to this broker; why.
    NotApplicable(String),
    /// The test was not run (`--skip`); why.
    Skipped(String),
}

impl Verdict {
    /// `pass`, `fail`, `n/a` or `skipped`: the word used in every report.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "fail",
            Verdict::NotApplicable(_) => "n/a",
            Verdict::Skipped(_) => "skipped",
        }
    }

    /// The reason, empty for a pass.
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Pass => "",
            Verdict::Fail(r) | Verdict::NotApplicable(r) | Verdict::Skipped(r) => r,
        }
    }
}

/// The outcome of one test.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Protocol of the statement.
    pub protocol: Protocol,
    /// Statement id.
    pub id: &'static str,
    /// What happened.
    pub verdict: Verdict,
    /// How long the test ran (cleanup excluded).
    pub elapsed: Duration,
}

/// Which tests to run and which to skip.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Protocols to test.
    pub protocols: Vec<Protocol>,
    /// Ids (or id prefixes ending in `*`) to skip, optionally qualified `5.0:MQTT-...`.
    pub skip: Vec<String>,
    /// If non-empty, only ids matching one of these run.
    pub only: Vec<String>,
}

fn matches(pattern: &str, case: &TestCase) -> bool {
    let (proto, pat) = match pattern.split_once(':') {
        Some((p, rest)) => (Protocol::parse(p), rest),
        None => (None, pattern),
    };
    if proto.is_some_and(|p| p != case.protocol) {
        return false;
    }
    match pat.strip_suffix('*') {
        Some(prefix) => case.id.starts_with(prefix),
        None => case.id.eq_ignore_ascii_case(pat),
    }
}

/// Runs every selected test of `cases` and returns their outcomes in the order of `cases`.
pub async fn run(cfg: Arc<Config>, cases: Vec<TestCase>, sel: &Selection) -> Vec<Outcome> {
    let sem = Arc::new(Semaphore::new(cfg.jobs.max(1)));
    let mut handles = Vec::new();
    for (index, case) in cases.into_iter().enumerate() {
        if !sel.protocols.contains(&case.protocol) {
            continue;
        }
        if !sel.only.is_empty() && !sel.only.iter().any(|p| matches(p, &case)) {
            continue;
        }
        if let Some(p) = sel.skip.iter().find(|p| matches(p, &case)) {
            handles.push(tokio::spawn(std::future::ready(Outcome {
                protocol: case.protocol,
                id: case.id,
                verdict: Verdict::Skipped(format!("--skip {p}")),
                elapsed: Duration::ZERO,
            })));
            continue;
        }
        let cfg = cfg.clone();
        let sem = sem.clone();
        handles.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            run_one(cfg, case, index).await
        }));
    }
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok(o) => out.push(o),
            Err(e) => out.push(Outcome {
                protocol: Protocol::V5,
                id: "internal",
                verdict: Verdict::Fail(format!("test task panicked: {e}")),
                elapsed: Duration::ZERO,
            }),
        }
    }
    out
}

async fn run_one(cfg: Arc<Config>, case: TestCase, index: usize) -> Outcome {
    let ctx = Arc::new(Ctx::new(cfg.clone(), case.protocol, index));
    let start = Instant::now();
    // The test runs in its own task so a panic is a failure of that test, not of the run.
    let task = tokio::spawn((case.run)(ctx.clone()));
    let abort = task.abort_handle();
    let verdict = match tokio::time::timeout(cfg.test_timeout, task).await {
        Ok(Ok(Ok(()))) => Verdict::Pass,
        Ok(Ok(Err(Stop::Fail(r)))) => Verdict::Fail(r),
        Ok(Ok(Err(Stop::NotApplicable(r)))) => Verdict::NotApplicable(r),
        Ok(Err(e)) => Verdict::Fail(format!("the test panicked: {e}")),
        Err(_) => {
            abort.abort();
            Verdict::Fail(format!("the test did not finish within {:?}", cfg.test_timeout))
        }
    };
    let elapsed = start.elapsed();
    let _ = tokio::time::timeout(cfg.test_timeout, ctx.cleanup()).await;
    Outcome {
        protocol: case.protocol,
        id: case.id,
        verdict,
        elapsed,
    }
}
