//! What one page fault adds to a fork + `_exit` + `waitpid`, by kind of fault.
//! `fault-cost N K` runs N rounds of four forks, one of each way, in an order that rotates
//! from round to round (so that drift in the machine's speed hits all four alike):
//! - `none`: nothing else happens;
//! - `cow`: the child writes K private pages the parent wrote before (K copies);
//! - `code`: the child reads K 64 KiB stretches of a read-only private mapping of this
//!   program's own file, the way it runs code (K faults, each mapping its stretch);
//! - `wp`: the parent writes K private pages after `waitpid` (K faults on pages the fork
//!   write-protected, which the parent then owns alone: no copy).
//!
//! It prints each way's median µs, and for the last three the µs one fault adds (the
//! median less `none`'s, over K). Run by `benches/experiments/flush-floor.sh`.

use anyhow::{Context, Result, bail};
use nix::sys::mman::{MapFlags, ProtFlags, mmap};
use nix::unistd::{ForkResult, fork};
use proclab_benches::peers::wait_ok;
use proclab_benches::stats::median;
use std::num::NonZeroUsize;
use std::time::Instant;

const PAGE: usize = 4096;
/// The fault-around stretch (`/sys/kernel/debug/fault_around_bytes`, 64 KiB by default).
const STRETCH: usize = 64 * 1024;
const MAX_K: usize = 64;

/// Private, written by the parent before forking (so each page is present and shared
/// after the fork).
static mut DATA: [u8; MAX_K * PAGE] = [1; MAX_K * PAGE];

#[derive(Clone, Copy, PartialEq)]
enum Way {
    None,
    Cow,
    Code,
    Wp,
}

const WAYS: [(Way, &str); 4] = [
    (Way::None, "none"),
    (Way::Cow, "cow"),
    (Way::Code, "code"),
    (Way::Wp, "wp"),
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [n, k] = args.as_slice() else {
        bail!("usage: fault-cost N K");
    };
    let n: usize = n.parse().context("N")?;
    let k: usize = k.parse().context("K")?;
    if k == 0 || k > MAX_K {
        bail!("K is from 1 to {MAX_K}");
    }
    let exe = std::fs::File::open("/proc/self/exe").context("open /proc/self/exe")?;
    let len = (exe.metadata()?.len() as usize / STRETCH).min(MAX_K) * STRETCH;
    if len < k * STRETCH {
        bail!("this program's file is too small for K = {k}");
    }
    // SAFETY: a fresh read-only mapping of a file nobody writes while we run.
    let code = unsafe {
        mmap(
            None,
            NonZeroUsize::new(len).context("empty file")?,
            ProtFlags::PROT_READ,
            MapFlags::MAP_PRIVATE,
            &exe,
            0,
        )
    }
    .context("mmap")?
    .as_ptr()
    .cast::<u8>();
    let data = (&raw mut DATA).cast::<u8>();
    // Page cache and page tables filled, in the parent, before the first fork.
    for i in (0..len).step_by(PAGE) {
        // SAFETY: inside the mapping.
        unsafe { code.add(i).read_volatile() };
    }
    for i in 0..MAX_K {
        // SAFETY: inside DATA; single-threaded.
        unsafe { data.add(i * PAGE).write_volatile(2) };
    }
    let mut us: Vec<Vec<f64>> = vec![Vec::with_capacity(n); WAYS.len()];
    for round in 0..n {
        for j in 0..WAYS.len() {
            let w = (round + j) % WAYS.len();
            let start = Instant::now();
            fork_once(WAYS[w].0, k, data, code)?;
            us[w].push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    let medians: Vec<f64> = us.iter().map(|v| median(v).unwrap_or(f64::NAN)).collect();
    println!("none {:.2}", medians[0]);
    for ((_, name), m) in WAYS.iter().zip(&medians).skip(1) {
        println!("{name} {m:.2} {:.2}", (m - medians[0]) / k as f64);
    }
    Ok(())
}

/// One fork + `_exit` + `waitpid`, touching memory as `way` says.
fn fork_once(way: Way, k: usize, data: *mut u8, code: *const u8) -> Result<()> {
    // SAFETY: the child touches memory and calls _exit, both async-signal-safe.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            for i in 0..k {
                // SAFETY: inside DATA and the mapping (K checked against both).
                unsafe {
                    match way {
                        Way::Cow => data.add(i * PAGE).write_volatile(3),
                        Way::Code => _ = code.add(i * STRETCH).read_volatile(),
                        _ => {}
                    }
                }
            }
            // SAFETY: ends the child at once; nix has no wrapper.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            wait_ok(child)?;
            if way == Way::Wp {
                for i in 0..k {
                    // SAFETY: inside DATA; single-threaded.
                    unsafe { data.add(i * PAGE).write_volatile(4) };
                }
            }
            Ok(())
        }
    }
}
