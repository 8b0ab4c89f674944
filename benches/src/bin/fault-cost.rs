//! What one page fault adds to a fork + `_exit` + `waitpid`, by kind of fault:
//! `fault-cost N WAY K` times N of them in which
//! - `none`: nothing else happens (K is ignored);
//! - `cow`: the child writes K private pages the parent wrote before (K copies);
//! - `code`: the child reads K 64 KiB stretches of a read-only private mapping of this
//!   program's own file, the way it runs code (K faults, each mapping its stretch);
//! - `wp`: the parent writes K private pages after each `waitpid` (K faults on pages the
//!   fork write-protected, which the parent then owns alone: no copy);
//!
//! and prints the mean µs per fork. Run by `benches/experiments/flush-floor.sh`, which
//! subtracts `none` and divides by K.

use anyhow::{Context, Result, bail};
use nix::sys::mman::{MapFlags, ProtFlags, mmap};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use std::num::NonZeroUsize;
use std::time::Instant;

const PAGE: usize = 4096;
/// The fault-around stretch (`/sys/kernel/debug/fault_around_bytes`, 64 KiB by default).
const STRETCH: usize = 64 * 1024;
const MAX_K: usize = 64;

/// Private, written by the parent before forking (so each page is present and shared
/// after the fork).
static mut DATA: [u8; MAX_K * PAGE] = [1; MAX_K * PAGE];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [n, way, k] = args.as_slice() else {
        bail!("usage: fault-cost N none|cow|code|wp K");
    };
    let n: usize = n.parse().context("N")?;
    let k: usize = k.parse().context("K")?;
    if !["none", "cow", "code", "wp"].contains(&way.as_str()) {
        bail!("unknown way {way:?}: none, cow, code or wp");
    }
    if k > MAX_K {
        bail!("K is at most {MAX_K}");
    }
    let exe = std::fs::File::open("/proc/self/exe").context("open /proc/self/exe")?;
    let len = (exe.metadata()?.len() as usize / STRETCH).min(MAX_K) * STRETCH;
    if way == "code" && len < k * STRETCH {
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
    let mut sum = 0u64;
    for i in (0..len).step_by(PAGE) {
        // SAFETY: inside the mapping.
        sum += u64::from(unsafe { code.add(i).read_volatile() });
    }
    for i in 0..MAX_K {
        // SAFETY: inside DATA; single-threaded.
        unsafe { data.add(i * PAGE).write_volatile(2) };
    }
    let start = Instant::now();
    for _ in 0..n {
        // SAFETY: the child touches memory and calls _exit, both async-signal-safe.
        match unsafe { fork() }.context("fork")? {
            ForkResult::Child => {
                for i in 0..k {
                    // SAFETY: inside DATA and the mapping.
                    unsafe {
                        match way.as_str() {
                            "cow" => data.add(i * PAGE).write_volatile(3),
                            "code" => _ = code.add(i * STRETCH).read_volatile(),
                            _ => {}
                        }
                    }
                }
                // SAFETY: ends the child at once; nix has no wrapper.
                unsafe { libc::_exit(0) }
            }
            ForkResult::Parent { child } => {
                let status = waitpid(child, None).context("waitpid")?;
                if status != WaitStatus::Exited(child, 0) {
                    bail!("child ended with {status:?}");
                }
                if way == "wp" {
                    for i in 0..k {
                        // SAFETY: inside DATA; single-threaded.
                        unsafe { data.add(i * PAGE).write_volatile(4) };
                    }
                }
            }
        }
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("{us:.2}");
    eprintln!("(checksum {sum})");
    Ok(())
}
