//! The store's failure paths through the real binary: a corrupt store stops Tern with a message naming the
//! file and a documented way out; a full disk refuses publishes (0x97) without dropping anything already
//! acknowledged, and the broker takes publishes again once space is freed.

#[path = "crash/raw.rs"]
mod raw;

use raw::{Raw, ack, pid, publish};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tern_mqtt_codec::{Packet, QoS, ReasonCode};

/// A child process killed (SIGKILL) when the test ends, even by a panic.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn setup(name: &str) -> (PathBuf, PathBuf, u16) {
    let dir = std::env::temp_dir().join(format!("tern-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let config = dir.join("tern.toml");
    let toml = format!(
        "data_dir = {dir:?}\n[log]\nlevel = \"warn\"\n[limits]\nmax_queued_messages = 100000\n\
         max_queued_bytes = 1000000000\n[[listener]]\ntype = \"tcp\"\nbind = \"127.0.0.1:{port}\"\n"
    );
    std::fs::write(&config, toml).expect("config");
    (dir, config, port)
}

fn wait_up(child: &mut Child, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.try_wait().ok().flatten().is_none(), "tern exited");
        assert!(Instant::now() < deadline, "tern did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tern(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("tern runs")
}

#[test]
fn corrupt_store_is_refused_with_the_file_named_and_recover_moves_it_aside() {
    let (dir, config, port) = setup("corrupt");
    let file = dir.join("tern.redb");
    std::fs::write(&file, vec![0xA5u8; 64 * 1024]).expect("garbage");
    let out = tern(&config, &[]);
    assert!(!out.status.success(), "tern must not start over a corrupt store");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&*file.to_string_lossy()),
        "the message names the file: {err}"
    );
    assert!(
        err.contains("tern store recover"),
        "the message says what to do: {err}"
    );
    assert_eq!(
        std::fs::read(&file).expect("kept").len(),
        64 * 1024,
        "the file is untouched"
    );

    let out = tern(&config, &["store", "check"]);
    assert!(!out.status.success());
    let out = tern(&config, &["store", "recover"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let kept: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("tern.redb.broken-"))
        .collect();
    assert_eq!(kept.len(), 1, "the damaged file is kept aside");

    let mut child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("--config")
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_up(&mut child, port);
    let _ = child.kill();
    let _ = child.wait();
    let out = tern(&config, &["store", "check"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Publishes `n` with QoS 1 and returns the PUBACK's reason code.
fn publish_one(c: &mut Raw, n: u64, payload_kib: usize) -> Option<ReasonCode> {
    let Packet::Publish(mut p) = publish(
        "big",
        n,
        QoS::AtLeastOnce,
        Some(pid(1 + (n % 1000) as u16)),
        false,
        false,
    ) else {
        return None;
    };
    let mut body = n.to_string().into_bytes();
    body.push(b' ');
    body.resize(payload_kib * 1024, b'x');
    p.payload = body.into();
    c.send(&Packet::Publish(p)).ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(Packet::PubAck(a))) = c.recv(Duration::from_millis(100)) {
            return Some(a.reason_code);
        }
    }
    None
}

/// Reads the sleeper's queue: the numbers of the messages it gets, acknowledging each, until `want` arrived
/// or nothing more comes.
fn drain(s: &mut Raw, want: usize) -> Vec<u64> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < want && Instant::now() < deadline {
        if let Ok(Some(Packet::Publish(m))) = s.recv(Duration::from_millis(100)) {
            let end = m.payload.iter().position(|b| *b == b' ').unwrap_or(0);
            let n: u64 = std::str::from_utf8(&m.payload[..end])
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(u64::MAX);
            got.push(n);
            if let Some(id) = m.packet_id {
                let _ = s.send(&ack(Packet::PubAck, id));
            }
        }
    }
    got
}

/// Lifts the running broker's file size limit: the disk has space again, without a restart.
fn free_space(pid: u32) {
    let out = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg("--fsize=unlimited")
        .output()
        .expect("prlimit (util-linux) runs");
    assert!(
        out.status.success(),
        "prlimit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn full_disk_refuses_publishes_keeps_acknowledged_ones_and_recovers_in_process() {
    let (dir, config, port) = setup("diskfull");
    // The broker's files may not grow past 6 MiB: writes beyond fail with EFBIG, as on a full disk. Only
    // the soft limit, so the test can lift it on the running process (space returns).
    let script = format!(
        "trap '' XFSZ; ulimit -S -f 6144; exec {:?} --config {:?}",
        env!("CARGO_BIN_EXE_tern"),
        config
    );
    let log = std::fs::File::create(dir.join("stderr.log")).expect("log");
    let child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("bash");
    let mut child = Killed(child);
    wait_up(&mut child.0, port);
    let broker_log = || std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();

    // A durable subscriber, offline: everything published queues on disk for it.
    let (mut s, _) = Raw::connect(port, "sleeper", true).expect("connect");
    s.subscribe("big", QoS::AtLeastOnce).expect("subscribe");
    s.disconnect();

    let (mut p, _) = Raw::connect(port, "pub", true).expect("connect");
    let mut acked = Vec::new();
    let mut refused = None;
    for n in 0..400u64 {
        match publish_one(&mut p, n, 64) {
            Some(ReasonCode::Success) => acked.push(n),
            Some(ReasonCode::QuotaExceeded) => {
                refused = Some(n);
                break;
            }
            other => panic!("publish {n}: unexpected {other:?}; broker log:\n{}", broker_log()),
        }
    }
    let refused = refused.expect("a full disk refuses publishes with 0x97");
    assert!(!acked.is_empty(), "some publishes fit before the disk filled");
    assert!(
        child.0.try_wait().ok().flatten().is_none(),
        "the broker keeps running"
    );
    // Still full: refused again, not acknowledged.
    assert_eq!(publish_one(&mut p, refused, 64), Some(ReasonCode::QuotaExceeded));

    // Space returns while the broker runs: the store writer's retry succeeds and the refused message is
    // taken on a later try, on the same connection, without a restart.
    free_space(child.0.id());
    let mut tries = 0;
    loop {
        match publish_one(&mut p, refused, 64) {
            Some(ReasonCode::Success) => break,
            Some(ReasonCode::QuotaExceeded) if tries < 200 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            other => panic!(
                "after space returned: {other:?} (try {tries}); broker log:\n{}",
                broker_log()
            ),
        }
    }
    acked.push(refused);
    for n in refused + 1..refused + 40 {
        assert_eq!(
            publish_one(&mut p, n, 64),
            Some(ReasonCode::Success),
            "publish {n} after recovery"
        );
        acked.push(n);
    }
    assert!(
        broker_log().contains("store writable again"),
        "the recovery is logged:\n{}",
        broker_log()
    );

    // kill -9, restart: every message acknowledged before, during and after the episode is there, in
    // order, once; the refused tries are not.
    drop(child);
    let child = Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tern");
    let mut child = Killed(child);
    wait_up(&mut child.0, port);
    let (mut s, present) = Raw::connect(port, "sleeper", false).expect("reconnect");
    assert!(present, "the session survived");
    let got = drain(&mut s, acked.len());
    assert_eq!(got, acked, "every acknowledged message delivered, in order");
    assert!(
        !matches!(s.recv(Duration::from_millis(500)), Ok(Some(Packet::Publish(_)))),
        "and nothing more: a refused try was not stored"
    );
    s.disconnect();
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}
