//! Running a scenario: connect the roles it needs, release the publishers together, drain, and sum up.
//! `conn` holds connections without a task each; `find-max` repeats the throughput shape at other rates.

use crate::args::{BenchArgs, Scenario};
use crate::conn::{Conn, Target};
use crate::load::{PubPlan, SubResult, publish, subscribe};
use crate::sn::{SnConn, SnTarget};
use crate::stats::{ConnectStats, Counters, Latency, Summary, process_cpu, usable_cores};
use crate::topic::TopicPattern;
use crate::wire::PublishWriter;
use anyhow::{Context, Result, anyhow, bail};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Connects in flight at once while setting up a run.
const CONNECT_CONCURRENCY: usize = 256;
/// After the last publish, how long deliveries may stall before the run counts the rest as lost.
const QUIET: Duration = Duration::from_millis(500);
/// Upper bound on the drain after publishing.
const DRAIN_MAX: Duration = Duration::from_secs(5);

/// Where publishers connect: like the subscribers (an MQTT URL) or to an MQTT-SN gateway.
#[derive(Debug, Clone)]
pub enum PubTarget {
    /// MQTT publishers (possibly the subscribers' target).
    Mqtt(Arc<Target>),
    /// MQTT-SN publishers over UDP.
    Sn(Arc<SnTarget>),
}

/// A connected publisher of either kind.
enum PubConn {
    Mqtt(Conn),
    Sn(SnConn),
}

/// Who publishes and who subscribes in a traffic run.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Publisher count.
    pub publishers: usize,
    /// Subscriber count.
    pub subscribers: usize,
    /// Total publish rate (0: unthrottled).
    pub rate: u64,
}

impl Shape {
    /// The shape of `args`' scenario (`conn` has none).
    pub fn of(args: &BenchArgs) -> Shape {
        let rate = args.rate.unwrap_or(if args.scenario == Scenario::Latency {
            1000
        } else {
            0
        });
        let (publishers, subscribers) = match args.scenario {
            Scenario::Conn => (0, 0),
            Scenario::Pub => (args.publishers, 0),
            Scenario::Sub => (0, args.subscribers),
            Scenario::Throughput | Scenario::FindMax => (args.publishers, args.subscribers),
            Scenario::Fanout => (1, args.clients),
            Scenario::Fanin => (args.clients, 1),
            Scenario::Latency | Scenario::Abuse => (1, 1),
        };
        Shape {
            publishers,
            subscribers,
            rate,
        }
    }
}

fn scenario_name(s: Scenario) -> &'static str {
    match s {
        Scenario::Conn => "conn",
        Scenario::Pub => "pub",
        Scenario::Sub => "sub",
        Scenario::Throughput => "throughput",
        Scenario::Fanout => "fanout",
        Scenario::Fanin => "fanin",
        Scenario::Latency => "latency",
        Scenario::FindMax => "find-max",
        Scenario::Abuse => "abuse",
    }
}

fn base_summary(args: &BenchArgs, shape: &Shape) -> Summary {
    Summary {
        scenario: scenario_name(args.scenario).to_owned(),
        url: match &args.pub_url {
            Some(p) => format!("{} (publishers {p})", args.url),
            None => args.url.clone(),
        },
        level: args.level.version().level(),
        qos: args.qos,
        size: args.size,
        publishers: shape.publishers,
        subscribers: shape.subscribers,
        target_rate: shape.rate,
        tool_cores: usable_cores(),
        ..Summary::default()
    }
}

/// Prints a progress line to stderr each second, when stderr is a terminal; stops with `stop`.
fn progress(counters: Arc<Counters>, mut stop: watch::Receiver<bool>, quiet: bool) {
    if quiet || !std::io::stderr().is_terminal() {
        return;
    }
    tokio::spawn(async move {
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let (mut ps, mut pr) = (0, 0);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            let (s, r, a) = (
                Counters::get(&counters.sent),
                Counters::get(&counters.received),
                Counters::get(&counters.acked),
            );
            eprintln!(
                "{:>4}s  pub {:>9}/s  recv {:>9}/s  connected {:>6}  in-flight {:>6}  errors {}",
                start.elapsed().as_secs(),
                s - ps,
                r - pr,
                Counters::get(&counters.connected),
                s.saturating_sub(a),
                Counters::get(&counters.errors)
            );
            (ps, pr) = (s, r);
        }
    });
}

/// Opens `n` connections (client ids from `id`), at most [`CONNECT_CONCURRENCY`] at once and at most
/// `rate` per second (0: no limit). Returns the connections that succeeded, in index order, and the first
/// error with how many failed.
async fn connect_some(
    target: &Arc<Target>,
    n: usize,
    offset: usize,
    rate: u64,
    id: impl Fn(usize) -> String,
    counters: &Arc<Counters>,
    latency: Option<&mut Latency>,
) -> Result<(Vec<Conn>, Option<anyhow::Error>)> {
    let sem = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut set = JoinSet::new();
    let start = Instant::now();
    for i in 0..n {
        if rate > 0 {
            tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate as f64)).await;
        }
        let permit = sem.clone().acquire_owned().await?;
        let (target, counters, cid) = (target.clone(), counters.clone(), id(i));
        set.spawn(async move {
            let t0 = Instant::now();
            let r = target.connect(offset + i, &cid).await;
            drop(permit);
            match &r {
                Ok(_) => Counters::add(&counters.connected, 1),
                Err(_) => Counters::add(&counters.errors, 1),
            }
            r.map(|c| (i, c, t0.elapsed()))
        });
    }
    let mut conns: Vec<Option<Conn>> = (0..n).map(|_| None).collect();
    let mut first_err = None;
    let mut lat = latency;
    while let Some(joined) = set.join_next().await {
        match joined.map_err(anyhow::Error::from).and_then(|r| r) {
            Ok((i, c, took)) => {
                if let Some(l) = lat.as_deref_mut() {
                    l.record_ns(took.as_nanos() as u64);
                }
                if let Some(slot) = conns.get_mut(i) {
                    *slot = Some(c);
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let ok: Vec<Conn> = conns.into_iter().flatten().collect();
    let failed = n - ok.len();
    Ok((
        ok,
        first_err.map(|e| e.context(format!("{failed} of {n} connections failed"))),
    ))
}

/// Like [`connect_some`], but any failure fails the whole set (traffic runs need every role).
async fn connect_all(
    target: &Arc<Target>,
    n: usize,
    offset: usize,
    id: impl Fn(usize) -> String,
    counters: &Arc<Counters>,
) -> Result<Vec<Conn>> {
    match connect_some(target, n, offset, 0, id, counters, None).await? {
        (conns, None) => Ok(conns),
        (_, Some(e)) => Err(e),
    }
}

/// `conn`: open `--clients` connections at `--rate`/s, hold them for `--duration`, close them.
pub async fn run_conn(args: &BenchArgs, target: Arc<Target>) -> Result<Summary> {
    let counters = Arc::new(Counters::default());
    let shape = Shape::of(args);
    let mut summary = base_summary(args, &shape);
    summary.publishers = args.clients;
    let (stop_tx, stop_rx) = watch::channel(false);
    progress(counters.clone(), stop_rx, args.json);
    let (cpu0, t0) = (process_cpu(), Instant::now());
    let mut lat = Latency::new();
    let prefix = args.client_prefix.clone();
    let (conns, failed) = connect_some(
        &target,
        args.clients,
        0,
        args.rate.unwrap_or(0),
        |i| format!("{prefix}-{i}"),
        &counters,
        Some(&mut lat),
    )
    .await?;
    let secs = t0.elapsed().as_secs_f64();
    // A broker that refuses or stalls some connections is a result, not a failed run: they count as errors.
    if let Some(e) = failed {
        eprintln!("conn: {e:#}");
    }
    // Holding needs no task per connection: the streams just stay open.
    tokio::time::sleep(args.duration()).await;
    let closing: Vec<_> = conns.into_iter().map(|c| tokio::spawn(c.close())).collect();
    for c in closing {
        let _ = c.await;
    }
    let _ = stop_tx.send(true);
    summary.connected = Counters::get(&counters.connected);
    summary.errors = Counters::get(&counters.errors);
    summary.connect = Some(ConnectStats { secs, latency: lat });
    summary.tool_cpu = cpu_share(cpu0, t0);
    Ok(summary)
}

fn cpu_share(cpu0: Option<Duration>, t0: Instant) -> f64 {
    match (cpu0, process_cpu()) {
        (Some(a), Some(b)) => (b.saturating_sub(a)).as_secs_f64() / t0.elapsed().as_secs_f64().max(1e-9),
        _ => 0.0,
    }
}

/// A traffic run (every scenario but `conn`) of `shape`.
pub async fn run_traffic(
    args: &BenchArgs,
    target: Arc<Target>,
    pub_target: &PubTarget,
    shape: &Shape,
) -> Result<Summary> {
    let counters = Arc::new(Counters::default());
    let mut summary = base_summary(args, shape);
    let pattern = TopicPattern::parse(&args.topic)?;
    let filter = args.filter.clone().unwrap_or_else(|| pattern.wildcard_filter());
    let (stop_tx, stop_rx) = watch::channel(false);
    progress(counters.clone(), stop_rx.clone(), args.json);
    let cpu0 = process_cpu();
    let t_setup = Instant::now();

    // Subscribers first, so nothing published is missed.
    let prefix = args.client_prefix.clone();
    let subs = connect_all(
        &target,
        shape.subscribers,
        0,
        |i| format!("{prefix}-s{i}"),
        &counters,
    )
    .await?;
    let mut sub_tasks = JoinSet::new();
    for mut c in subs {
        c.subscribe(&filter, args.qos())
            .await
            .with_context(|| format!("subscribing to {filter}"))?;
        sub_tasks.spawn(subscribe(c, stop_rx.clone(), counters.clone()));
    }
    let pubs: Vec<PubConn> = match pub_target {
        PubTarget::Mqtt(t) => connect_all(
            t,
            shape.publishers,
            shape.subscribers,
            |i| format!("{prefix}-{i}"),
            &counters,
        )
        .await?
        .into_iter()
        .map(PubConn::Mqtt)
        .collect(),
        PubTarget::Sn(t) => {
            let mut v = Vec::with_capacity(shape.publishers);
            for i in 0..shape.publishers {
                let cid = format!("{prefix}-{i}");
                let c = t
                    .connect(&cid, &pattern.expand(i, &cid))
                    .await
                    .with_context(|| format!("MQTT-SN publisher {cid}"))?;
                Counters::add(&counters.connected, 1);
                v.push(PubConn::Sn(c));
            }
            v
        }
    };

    let start = Instant::now() + Duration::from_millis(50);
    let deadline = start + args.duration();
    let per_pub_rate = if shape.rate == 0 {
        0.0
    } else {
        shape.rate as f64 / shape.publishers.max(1) as f64
    };
    let mut pub_tasks = JoinSet::new();
    for (i, c) in pubs.into_iter().enumerate() {
        let cid = format!("{prefix}-{i}");
        let writer = PublishWriter::new(
            &pattern.expand(i, &cid),
            args.qos,
            target.version(),
            args.size,
            i as u32,
        );
        let plan = PubPlan {
            rate: per_pub_rate,
            count: args.count.unwrap_or(u64::MAX),
            start,
            deadline,
            window: args.window,
            qos: args.qos,
        };
        match c {
            PubConn::Mqtt(c) => pub_tasks.spawn(publish(c, writer, plan, counters.clone())),
            PubConn::Sn(c) => pub_tasks.spawn(crate::sn::publish(c, writer, plan, counters.clone())),
        };
    }
    let mut last_pub = start;
    while let Some(r) = pub_tasks.join_next().await {
        match r.map_err(anyhow::Error::from).and_then(|r| r) {
            Ok((_, last)) => last_pub = last_pub.max(last),
            Err(e) => {
                Counters::add(&counters.errors, 1);
                eprintln!("publisher failed: {e:#}");
            }
        }
    }
    if shape.publishers == 0 {
        tokio::time::sleep_until(deadline).await;
    }
    let sent = Counters::get(&counters.sent);
    let expected = sent * shape.subscribers as u64;
    drain(&counters, expected).await;
    let _ = stop_tx.send(true);
    let mut latency = Latency::new();
    let mut last_recv = None::<Instant>;
    while let Some(r) = sub_tasks.join_next().await {
        match r.map_err(anyhow::Error::from).and_then(|r| r) {
            Ok(SubResult { latency: l, last, .. }) => {
                latency.merge(&l);
                last_recv = last_recv.max(last);
            }
            Err(e) => {
                Counters::add(&counters.errors, 1);
                eprintln!("subscriber failed: {e:#}");
            }
        }
    }
    summary.sent = sent;
    summary.acked = Counters::get(&counters.acked);
    summary.received = Counters::get(&counters.received);
    summary.expected = if shape.publishers == 0 {
        summary.received
    } else {
        expected
    };
    summary.connected = Counters::get(&counters.connected);
    summary.errors = Counters::get(&counters.errors);
    summary.publish_secs = (last_pub.max(start) - start).as_secs_f64();
    summary.receive_secs = last_recv.map_or(0.0, |l| (l.max(start) - start).as_secs_f64());
    if shape.publishers == 0 {
        summary.receive_secs = args.duration;
    }
    summary.latency = latency;
    summary.tool_cpu = cpu_share(cpu0, t_setup);
    Ok(summary)
}

/// Waits until every expected delivery arrived, or deliveries stalled for [`QUIET`], at most [`DRAIN_MAX`].
async fn drain(counters: &Counters, expected: u64) {
    let until = Instant::now() + DRAIN_MAX;
    let mut seen = Counters::get(&counters.received);
    let mut quiet_since = Instant::now();
    while Instant::now() < until {
        let now_seen = Counters::get(&counters.received);
        if now_seen >= expected {
            return;
        }
        if now_seen != seen {
            seen = now_seen;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= QUIET {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `find-max`: doubles the rate from `--rate` (default 10,000/s) until a run loses messages, falls short
/// of its rate, or shows p99 latency above `--max-p99-ms`, then bisects to within 5%.
pub async fn find_max(args: &BenchArgs, target: Arc<Target>, pub_target: &PubTarget) -> Result<Summary> {
    let mut shape = Shape::of(args);
    let mut rate = args.rate.unwrap_or(10_000);
    let (mut good, mut bad): (Option<(u64, Summary)>, Option<u64>) = (None, None);
    for _ in 0..16 {
        shape.rate = rate;
        let s = run_traffic(args, target.clone(), pub_target, &shape).await?;
        let p99_ok = s.latency.quantile_us(0.99) as f64 <= args.max_p99_ms * 1000.0;
        let ok = s.lost() == 0 && s.errors == 0 && s.publish_rate() >= 0.97 * rate as f64 && p99_ok;
        // Steps go to stderr even with --json: stdout carries only the final object.
        eprintln!(
            "find-max: {rate}/s -> published {:.0}/s, lost {}, p99 {} µs, tool CPU {:.0}%: {}",
            s.publish_rate(),
            s.lost(),
            s.latency.quantile_us(0.99),
            s.tool_cpu * 100.0,
            if ok { "sustained" } else { "not sustained" }
        );
        if ok {
            good = Some((rate, s));
        } else {
            bad = Some(bad.map_or(rate, |b| b.min(rate)));
        }
        let lo = good.as_ref().map_or(0, |g| g.0);
        rate = match bad {
            None => rate.saturating_mul(2),
            Some(b) if lo == 0 => b / 2,
            Some(b) => {
                if b.saturating_sub(lo) * 20 <= lo {
                    break;
                }
                lo + (b - lo) / 2
            }
        };
        if rate < 100 {
            break;
        }
    }
    let (rate, mut s) = good.ok_or_else(|| anyhow!("no rate was sustained (tried down to below 100/s)"))?;
    s.scenario = "find-max".into();
    s.target_rate = rate;
    Ok(s)
}

/// Runs the scenario `args` names.
pub async fn run_scenario(args: &BenchArgs) -> Result<Summary> {
    args.validate()?;
    let sources = match &args.source_addrs {
        Some(s) => crate::args::parse_source_addrs(s)?,
        None => Vec::new(),
    };
    let target = Arc::new(
        Target::new(&args.url, args.level.version(), sources, args.duration())
            .await?
            .with_session_expiry(args.session_expiry)
            .with_tls(args.tls()),
    );
    let pub_target = match &args.pub_url {
        Some(url) if crate::args::is_mqttsn(url) => {
            PubTarget::Sn(Arc::new(SnTarget::new(url, args.duration()).await?))
        }
        Some(url) => PubTarget::Mqtt(Arc::new(
            Target::new(url, args.level.version(), Vec::new(), args.duration())
                .await?
                .with_session_expiry(args.session_expiry)
                .with_tls(args.tls()),
        )),
        None => PubTarget::Mqtt(target.clone()),
    };
    match args.scenario {
        Scenario::Conn => run_conn(args, target).await,
        Scenario::FindMax => find_max(args, target, &pub_target).await,
        Scenario::Abuse => crate::abuse::run_abuse(args, target).await,
        _ => {
            let shape = Shape::of(args);
            if shape.publishers + shape.subscribers == 0 {
                bail!("nothing to run");
            }
            run_traffic(args, target, &pub_target, &shape).await
        }
    }
}
