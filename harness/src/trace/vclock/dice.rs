//! Randomness the run owns: on the virtual clock, getrandom(2) is answered by the tracer
//! from a fixed stream per process, so a run is the same on every run down to what the
//! program drew (as Shadow does for the programs it simulates). It matters more than it
//! seems: CPython seeds its string hashes from getrandom at start-up, the seed changes
//! its heap, and so the order in which `multiprocessing` joins its children at exit
//! (the `daemon` fixture's ledger changed between runs with it); `random.randint(1, 4)`
//! sleeps are the same lengths on every run too.
//!
//! The stream of a process depends on the order the run created it in (the first process
//! is 0) and on how many bytes it drew before: SplitMix64 of (process, 8-byte block).
//! Reads of /dev/urandom are left alone (CPython and Rust's std use getrandom).

use std::collections::HashMap;

use nix::unistd::Pid;

use super::clock_calls::set_result;
use crate::trace::memory;
use crate::trace::stops;
use crate::trace::tracer_loop::Tracer;

/// Most bytes one call gets (a shorter count is what getrandom may return anyway, and
/// callers loop).
const MAX_PER_CALL: u64 = 1 << 20;

/// Per process: its place in the run's creation order, and the bytes it drew.
#[derive(Debug, Default)]
pub(crate) struct Dice {
    next_index: u64,
    drawn: HashMap<Pid, (u64, u64)>,
}

/// SplitMix64 (Steele, Lea, Flood 2014): a fixed, well-mixed 64-bit function.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Dice {
    /// A new process of the run (in creation order).
    pub(crate) fn born(&mut self, tgid: Pid) {
        self.drawn.insert(tgid, (self.next_index, 0));
        self.next_index += 1;
    }

    pub(crate) fn gone(&mut self, tgid: Pid) {
        self.drawn.remove(&tgid);
    }

    /// The next `len` bytes of `tgid`'s stream.
    fn draw(&mut self, tgid: Pid, len: usize) -> Vec<u8> {
        let next = &mut self.next_index;
        let (index, drawn) = self.drawn.entry(tgid).or_insert_with(|| {
            *next += 1;
            (*next - 1, 0)
        });
        let key = splitmix64(*index);
        let start = *drawn;
        *drawn += len as u64;
        (start..start + len as u64)
            .map(|i| splitmix64(key ^ (i / 8)).to_le_bytes()[(i % 8) as usize])
            .collect()
    }
}

impl Tracer {
    /// getrandom(buf, len, flags) at its seccomp stop: skipped, with the stream's bytes
    /// written to `buf`. A buffer the tracer cannot write is left to the kernel (EFAULT).
    pub(crate) fn on_getrandom(&mut self, tid: Pid, buf: u64, len: u64) {
        let tgid = self.tasks.get(&tid).map_or(tid, |t| t.tgid);
        let Some(vc) = self.vclock.as_mut() else {
            return stops::resume(tid, 0);
        };
        let n = len.min(MAX_PER_CALL) as usize;
        let bytes = vc.dice.draw(tgid, n);
        if n == 0 || memory::write_bytes(tid, buf, &bytes) {
            set_result(tid, true, n as i64);
        }
        stops::resume(tid, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_the_same_however_it_is_cut() {
        let mut one = Dice::default();
        let mut two = Dice::default();
        let p = Pid::from_raw(7);
        one.born(p);
        two.born(p);
        let whole = one.draw(p, 40);
        let mut parts = two.draw(p, 3);
        parts.extend(two.draw(p, 37));
        assert_eq!(whole, parts);
    }

    #[test]
    fn processes_draw_different_streams() {
        let mut dice = Dice::default();
        let (a, b) = (Pid::from_raw(1), Pid::from_raw(2));
        dice.born(a);
        dice.born(b);
        assert_ne!(dice.draw(a, 16), dice.draw(b, 16));
    }
}
