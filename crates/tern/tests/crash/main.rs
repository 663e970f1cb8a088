//! Crash test: QoS 1 and QoS 2 publishers and persistent subscribers (one mostly online, one going offline
//! and back) run against the real `tern` binary with `durability = "sync"`; the broker is killed with
//! SIGKILL at random moments several times and restarted over the same data directory. Then the exact
//! check: every message a publisher got PUBACK/PUBREC for was delivered, none twice at QoS 2, the retained
//! message and the subscriptions (never re-sent after the first connect) survived. Bounded: 4 kills, well
//! under a minute. `TERN_CRASH_SEED` replays a run.

mod mqttsn;
mod raw;

use raw::{Closed, Raw, ack, pid, publish};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use tern_mqtt_codec::{Packet, QoS};

const KILLS: usize = 4;
const WINDOW: usize = 16;

/// xorshift64*: a repeatable source of "random moments".
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

struct Broker {
    config: std::path::PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Broker {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_tern"))
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tern starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "tern did not come up");
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn connect_retry(port: u16, id: &str, clean: bool, deadline: Instant) -> Option<(Raw, bool)> {
    while Instant::now() < deadline {
        if let Ok(c) = Raw::connect(port, id, clean) {
            return Some(c);
        }
        thread::sleep(Duration::from_millis(30));
    }
    None
}

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Published,
    Released,
}

/// Publishes 0, 1, 2, … on `topic` with a window of [`WINDOW`], resuming after every crash: unacknowledged
/// PUBLISHes again with DUP, PUBRELs again. Returns the numbers acknowledged (PUBACK / PUBREC).
fn publisher(port: u16, id: &str, topic: &str, qos: QoS, stop: &AtomicBool) -> HashSet<u64> {
    let mut acked = HashSet::new();
    let mut pending: BTreeMap<u16, (u64, Stage)> = BTreeMap::new();
    let mut next = 0u64;
    let mut clean = true;
    let deadline = Instant::now() + Duration::from_secs(60);
    'conn: while Instant::now() < deadline {
        let Some((mut c, _)) = connect_retry(port, id, clean, deadline) else {
            break;
        };
        clean = false;
        let resend: Result<(), Closed> = pending.iter().try_for_each(|(&i, &(n, stage))| match stage {
            Stage::Published => c.send(&publish(topic, n, qos, Some(pid(i)), true, false)),
            Stage::Released => c.send(&ack(Packet::PubRel, pid(i))),
        });
        if resend.is_err() {
            continue;
        }
        loop {
            let stopping = stop.load(Ordering::Acquire);
            while !stopping && pending.len() < WINDOW {
                let i = u16::try_from(next % 60_000 + 1).unwrap_or(1);
                if c.send(&publish(topic, next, qos, Some(pid(i)), false, false))
                    .is_err()
                {
                    continue 'conn;
                }
                pending.insert(i, (next, Stage::Published));
                next += 1;
            }
            if stopping && pending.is_empty() {
                c.disconnect();
                break 'conn;
            }
            let p = match c.recv(Duration::from_millis(50)) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(Closed) => continue 'conn,
            };
            match p {
                Packet::PubAck(a) => {
                    if let Some((n, _)) = pending.remove(&a.packet_id.get())
                        && a.reason_code.is_success()
                    {
                        acked.insert(n);
                    }
                }
                Packet::PubRec(a) => {
                    let i = a.packet_id.get();
                    if let Some(entry) = pending.get_mut(&i) {
                        if !a.reason_code.is_success() {
                            pending.remove(&i);
                            continue;
                        }
                        acked.insert(entry.0);
                        entry.1 = Stage::Released;
                        if c.send(&ack(Packet::PubRel, a.packet_id)).is_err() {
                            continue 'conn;
                        }
                    }
                }
                Packet::PubComp(a) => {
                    pending.remove(&a.packet_id.get());
                }
                _ => {}
            }
        }
    }
    acked
}

/// What a subscriber saw.
#[derive(Default)]
struct Seen {
    /// Times each number was delivered to the application.
    count: HashMap<u64, u32>,
    /// Reconnects that found no session (subscriptions lost).
    lost_sessions: u32,
}

/// Subscribes once, then receives until told to stop and idle; `offline` makes it disconnect and come back
/// now and then. A QoS 2 message is handed to the application once per packet id until its PUBREL.
fn subscriber(
    port: u16,
    id: &str,
    filter: &str,
    qos: QoS,
    offline: bool,
    stop: &AtomicBool,
    seed: u64,
) -> Seen {
    let mut seen = Seen::default();
    let mut rng = Rng(seed | 1);
    let mut held: HashSet<u16> = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(80);
    let mut first = true;
    'conn: while Instant::now() < deadline {
        let Some((mut c, present)) = connect_retry(port, id, first, deadline) else {
            break;
        };
        if first {
            if c.subscribe(filter, qos).is_err() {
                continue;
            }
            first = false;
        } else if !present {
            seen.lost_sessions += 1;
        }
        let online_until = Instant::now() + Duration::from_millis(300 + rng.below(700));
        let mut idle_since = Instant::now();
        loop {
            if offline && Instant::now() > online_until && !stop.load(Ordering::Acquire) {
                c.disconnect();
                thread::sleep(Duration::from_millis(100 + rng.below(400)));
                continue 'conn;
            }
            let p = match c.recv(Duration::from_millis(50)) {
                Ok(Some(p)) => p,
                Ok(None) => {
                    if stop.load(Ordering::Acquire) && idle_since.elapsed() > Duration::from_millis(1500) {
                        c.disconnect();
                        break 'conn;
                    }
                    continue;
                }
                Err(Closed) => continue 'conn,
            };
            idle_since = Instant::now();
            let reply = match p {
                Packet::Publish(p) => {
                    let n: u64 = std::str::from_utf8(&p.payload)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(u64::MAX);
                    match (p.qos, p.packet_id) {
                        (QoS::ExactlyOnce, Some(i)) => {
                            if held.insert(i.get()) {
                                *seen.count.entry(n).or_default() += 1;
                            }
                            Some(ack(Packet::PubRec, i))
                        }
                        (_, Some(i)) => {
                            *seen.count.entry(n).or_default() += 1;
                            Some(ack(Packet::PubAck, i))
                        }
                        (_, None) => None,
                    }
                }
                Packet::PubRel(a) => {
                    held.remove(&a.packet_id.get());
                    Some(ack(Packet::PubComp, a.packet_id))
                }
                _ => None,
            };
            if let Some(r) = reply
                && c.send(&r).is_err()
            {
                continue 'conn;
            }
        }
    }
    seen
}

#[test]
fn acknowledged_messages_survive_kill_9() {
    let seed = std::env::var("TERN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
        });
    eprintln!("crash test seed {seed} (TERN_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed | 1);
    let dir = std::env::temp_dir().join(format!("tern-crash-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let config = dir.join("tern.toml");
    let toml = format!(
        "data_dir = {dir:?}\n[log]\nlevel = \"warn\"\n[limits]\nmax_queued_messages = 1000000\n\
         max_queued_bytes = 1000000000\n[[listener]]\ntype = \"tcp\"\nbind = \"127.0.0.1:{port}\"\n\
         [store]\ndurability = \"sync\"\n"
    );
    std::fs::write(&config, toml).expect("config");
    let mut broker = Broker {
        config,
        port,
        child: None,
    };
    broker.start();
    let started = Instant::now();

    // A retained message, acknowledged before the first crash.
    {
        let (mut c, _) = Raw::connect(port, "retainer", true).expect("connect");
        c.send(&publish(
            "r/keep",
            42,
            QoS::AtLeastOnce,
            Some(pid(1)),
            false,
            true,
        ))
        .expect("send");
        assert!(matches!(
            c.recv(Duration::from_secs(5)),
            Ok(Some(Packet::PubAck(_)))
        ));
        c.disconnect();
    }

    let stop_pub = Arc::new(AtomicBool::new(false));
    let stop_sub = Arc::new(AtomicBool::new(false));
    let subs: Vec<_> = [
        ("sub-q1", "t/q1", QoS::AtLeastOnce, true),
        ("sub-q2", "t/q2", QoS::ExactlyOnce, false),
        ("sub-q2-off", "t/q2", QoS::ExactlyOnce, true),
    ]
    .into_iter()
    .enumerate()
    .map(|(k, (id, filter, qos, offline))| {
        let stop = stop_sub.clone();
        let s = seed.wrapping_add(k as u64 * 7919);
        thread::spawn(move || subscriber(port, id, filter, qos, offline, &stop, s))
    })
    .collect();
    thread::sleep(Duration::from_millis(300)); // subscriptions in place before anything is published
    let pubs: Vec<_> = [
        ("pub-q1", "t/q1", QoS::AtLeastOnce),
        ("pub-q2", "t/q2", QoS::ExactlyOnce),
    ]
    .into_iter()
    .map(|(id, topic, qos)| {
        let stop = stop_pub.clone();
        thread::spawn(move || publisher(port, id, topic, qos, &stop))
    })
    .collect();

    for _ in 0..KILLS {
        thread::sleep(Duration::from_millis(300 + rng.below(1200)));
        broker.kill9();
        broker.start();
    }
    thread::sleep(Duration::from_millis(500));
    stop_pub.store(true, Ordering::Release);
    let acked: Vec<HashSet<u64>> = pubs.into_iter().map(|h| h.join().expect("publisher")).collect();
    stop_sub.store(true, Ordering::Release);
    let seen: Vec<Seen> = subs.into_iter().map(|h| h.join().expect("subscriber")).collect();

    let (q1, q2) = (&acked[0], &acked[1]);
    eprintln!(
        "{KILLS} kills in {:.1} s: {} QoS 1 and {} QoS 2 messages acknowledged",
        started.elapsed().as_secs_f64(),
        q1.len(),
        q2.len()
    );
    assert!(q1.len() > 100 && q2.len() > 100, "the publishers made progress");
    for (s, name) in seen.iter().zip(["sub-q1", "sub-q2", "sub-q2-off"]) {
        assert_eq!(s.lost_sessions, 0, "{name}: a reconnect found no session");
    }
    let missing: Vec<_> = q1.iter().filter(|n| !seen[0].count.contains_key(n)).collect();
    assert!(
        missing.is_empty(),
        "QoS 1 acknowledged but never delivered: {} (e.g. {:?})",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
    for (s, name) in seen[1..].iter().zip(["sub-q2", "sub-q2-off"]) {
        let missing: Vec<_> = q2.iter().filter(|n| !s.count.contains_key(n)).collect();
        assert!(
            missing.is_empty(),
            "{name}: QoS 2 acknowledged but never delivered: {} (e.g. {:?})",
            missing.len(),
            missing.iter().take(5).collect::<Vec<_>>()
        );
        let twice: Vec<_> = s.count.iter().filter(|(_, c)| **c > 1).collect();
        assert!(
            twice.is_empty(),
            "{name}: QoS 2 delivered more than once: {twice:?}"
        );
    }

    // The retained message is still there for a new subscriber.
    let (mut c, _) = Raw::connect(port, "checker", true).expect("connect");
    c.subscribe("r/#", QoS::AtLeastOnce).expect("subscribe");
    let got = (0..50).find_map(|_| match c.recv(Duration::from_millis(100)) {
        Ok(Some(Packet::Publish(p))) => Some(p),
        _ => None,
    });
    assert!(
        got.is_some_and(|p| p.retain && &p.payload[..] == b"42"),
        "retained message survived"
    );
    broker.kill9();
    let _ = std::fs::remove_dir_all(&dir);
}
