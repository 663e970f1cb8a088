//! Memory held by an idle MQTT connection over the TCP listener: the heap bytes and allocations the broker
//! keeps per connection once CONNACK is sent and the connection waits for bytes (its task, its state, its
//! session). Counted by a counting global allocator, so deterministic (no timing): a regression guard for
//! the idle footprint (README "Performance": RSS per idle connection).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;
use tern_broker::{Broker, CoreConfig, DriverConfig};
use tern_transport_tcp::{TcpFrontend, TcpListenerConfig};

/// Counts live heap bytes and allocations, so the test can see what an idle connection keeps.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_ALLOCS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        LIVE_ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same layout as asked.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_ALLOCS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> (isize, isize) {
    (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_ALLOCS.load(Ordering::Relaxed),
    )
}

/// MQTT 3.1.1 CONNECT, clean session, keep alive 60 s, client id `idle-<i>` (5 digits).
fn connect_packet(i: usize) -> Vec<u8> {
    let id = format!("idle-{i:05}");
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60];
    body.extend_from_slice(&(id.len() as u16).to_be_bytes());
    body.extend_from_slice(id.as_bytes());
    let mut p = vec![0x10, body.len() as u8];
    p.extend_from_slice(&body);
    p
}

const CONNS: usize = 200;

/// What the broker keeps per idle connection, in heap bytes and allocations (the tokio task, the
/// connection's state, its session); measured with `CONNS` blocking clients so client-side memory is none.
fn idle_footprint() -> (isize, isize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let broker = rt.block_on(async { Broker::start(CoreConfig::default(), DriverConfig::default()) });
    let frontend = rt
        .block_on(async {
            TcpFrontend::bind(TcpListenerConfig {
                bind: "127.0.0.1:0".parse().expect("address"),
                ..TcpListenerConfig::default()
            })
        })
        .expect("bind");
    let addr = frontend.local_addr().expect("addr");
    rt.spawn(frontend.run(broker.clone()));
    // Warm up: the first connections grow the runtime's and the core's tables.
    let mut clients = Vec::new();
    let open = |i: usize| {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(&connect_packet(i)).expect("write CONNECT");
        let mut connack = [0u8; 4];
        s.read_exact(&mut connack).expect("CONNACK");
        assert_eq!(connack, [0x20, 2, 0, 0], "CONNACK accepted");
        s
    };
    for i in 0..CONNS {
        clients.push(open(i));
    }
    settle(&broker, CONNS);
    let before = live();
    for i in CONNS..3 * CONNS {
        clients.push(open(i));
    }
    settle(&broker, 3 * CONNS);
    let after = live();
    let n = (2 * CONNS) as isize;
    let per_conn = ((after.0 - before.0) / n, (after.1 - before.1) / n);
    drop(clients);
    rt.block_on(broker.shutdown(Duration::from_secs(5)));
    per_conn
}

/// Waits (bounded) until the broker counts `n` connections and the drivers had time to park.
fn settle(broker: &Broker, n: usize) {
    for _ in 0..500 {
        if broker.core().stats().connections as usize >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        broker.core().stats().connections as usize,
        n,
        "every client connected"
    );
    // The driver writes CONNACK before it parks on the socket; give the last ones a moment to get there.
    std::thread::sleep(Duration::from_millis(200));
}

#[test]
fn an_idle_connection_keeps_a_small_heap_footprint() {
    let (bytes, allocs) = idle_footprint();
    println!("idle connection: {bytes} heap bytes in {allocs} allocations");
    // Before the driver was slimmed: 3,544 bytes in 11 allocations.
    assert!(allocs <= 6, "an idle connection holds {allocs} allocations");
    // 1,728 bytes: the task (896, the driver's future), its session (336), tokio's I/O registration (256),
    // the wake-up flag and notifier (72), the client id (32) and its share of the core's tables.
    assert!(bytes <= 1900, "an idle connection holds {bytes} heap bytes");
}
