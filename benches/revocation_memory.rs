//! Memory and lookup cost of the in-memory revocation set, per revoked token, at 1,000 to
//! 1,000,000 entries, against the plain `HashSet<Box<str>>` it replaced (the baseline, measured
//! in the same run). Bytes are counted by a wrapping global allocator, so they include the hash
//! table's spare capacity and every per-string allocation, as the process pays for them.
//!
//! Run: `cargo bench --bench revocation_memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use tokenledger::ledger::revocations::RevokedSet;
use tokenledger::tokens::claims::new_id;

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// Bytes the structure holds per entry, and nanoseconds per lookup (half hits, half misses).
fn measure<S>(
    jtis: &[String],
    misses: &[String],
    build: impl Fn(&[String]) -> S,
    contains: impl Fn(&S, &str) -> bool,
) -> (f64, f64) {
    let before = live();
    let set = build(jtis);
    let bytes = (live() - before) as f64 / jtis.len() as f64;
    let started = Instant::now();
    let mut hits = 0usize;
    for (hit, miss) in jtis.iter().zip(misses) {
        hits += usize::from(contains(&set, hit));
        hits += usize::from(contains(&set, miss));
    }
    let nanos = started.elapsed().as_nanos() as f64 / (2 * jtis.len()) as f64;
    assert_eq!(black_box(hits), jtis.len());
    drop(set);
    (bytes, nanos)
}

fn main() {
    println!(
        "{:>10} | {:>14} {:>10} | {:>14} {:>10} | {:>8}",
        "revoked", "RevokedSet B", "ns/lookup", "Box<str> B", "ns/lookup", "B ratio"
    );
    for count in [1_000usize, 100_000, 1_000_000] {
        let jtis: Vec<String> = (0..count).map(|_| new_id()).collect();
        let misses: Vec<String> = (0..count).map(|_| new_id()).collect();
        let (baseline, baseline_ns) = measure(
            &jtis,
            &misses,
            |jtis| {
                jtis.iter()
                    .map(|jti| Box::<str>::from(jti.as_str()))
                    .collect::<HashSet<_>>()
            },
            |set, jti| set.contains(jti),
        );
        let (ours, ours_ns) = measure(
            &jtis,
            &misses,
            |jtis| jtis.iter().collect::<RevokedSet>(),
            |set, jti| set.contains(jti),
        );
        println!(
            "{count:>10} | {ours:>14.1} {ours_ns:>10.1} | {baseline:>14.1} {baseline_ns:>10.1} | {:>8.2}",
            ours / baseline
        );
    }
}
