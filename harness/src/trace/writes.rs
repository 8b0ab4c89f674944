//! One write per stream at a time.
//!
//! When several processes write to the same pipe at once, the order in which the tracer
//! sees their syscall stops is not the order the bytes land in the pipe (TRACING.md: 20
//! of 20 runs differed). So a writer that finds its stream busy is *held* at its seccomp
//! stop (not resumed) until the write in flight has returned; then the next one goes.
//! The ledger's write order is then the pipe's byte order, at no measurable cost.

use std::collections::VecDeque;

use nix::unistd::Pid;

use crate::ledger::Stream;

/// A held writer: its thread and the call to replay when its turn comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Waiting<C> {
    pub tid: Pid,
    pub call: C,
}

#[derive(Debug)]
struct Gate<C> {
    busy: Option<Pid>,
    queue: VecDeque<Waiting<C>>,
}

/// The gates of stdout and stderr.
#[derive(Debug)]
pub(crate) struct Gates<C> {
    gates: [Gate<C>; 2],
}

fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl<C: Copy> Gates<C> {
    pub(crate) fn new() -> Self {
        Gates {
            gates: [
                Gate {
                    busy: None,
                    queue: VecDeque::new(),
                },
                Gate {
                    busy: None,
                    queue: VecDeque::new(),
                },
            ],
        }
    }

    /// `tid` wants to write `call` to `stream`: true if it may go now (it then holds the
    /// gate), false if it was queued and must stay stopped.
    pub(crate) fn enter(&mut self, stream: Stream, tid: Pid, call: C) -> bool {
        let gate = &mut self.gates[index(stream)];
        if gate.busy.is_none() {
            gate.busy = Some(tid);
            true
        } else {
            gate.queue.push_back(Waiting { tid, call });
            false
        }
    }

    /// The write of `tid` returned: the next held writer, which now holds the gate.
    pub(crate) fn leave(&mut self, stream: Stream, tid: Pid) -> Option<Waiting<C>> {
        let gate = &mut self.gates[index(stream)];
        if gate.busy != Some(tid) {
            return None;
        }
        gate.busy = None;
        let next = gate.queue.pop_front()?;
        gate.busy = Some(next.tid);
        Some(next)
    }

    /// `tid` is gone (exiting or killed): drop it from every queue; if it held a gate,
    /// hand that gate on. Returns the writers that may now go, with their streams.
    pub(crate) fn forget(&mut self, tid: Pid) -> Vec<(Stream, Waiting<C>)> {
        let mut next = Vec::new();
        for stream in [Stream::Stdout, Stream::Stderr] {
            self.gates[index(stream)].queue.retain(|w| w.tid != tid);
            if let Some(w) = self.leave(stream, tid) {
                next.push((stream, w));
            }
        }
        next
    }

    /// Is `tid` held in a queue?
    pub(crate) fn is_held(&self, tid: Pid) -> bool {
        self.gates
            .iter()
            .any(|g| g.queue.iter().any(|w| w.tid == tid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_waits_for_the_first() {
        let (a, b, c) = (Pid::from_raw(1), Pid::from_raw(2), Pid::from_raw(3));
        let mut gates = Gates::new();
        assert!(gates.enter(Stream::Stdout, a, 'a'));
        assert!(!gates.enter(Stream::Stdout, b, 'b'));
        assert!(
            gates.enter(Stream::Stderr, c, 'c'),
            "streams are independent"
        );
        assert!(gates.is_held(b));
        let next = gates.leave(Stream::Stdout, a).unwrap();
        assert_eq!((next.tid, next.call), (b, 'b'));
        assert!(gates.leave(Stream::Stdout, b).is_none());
        assert!(gates.enter(Stream::Stdout, a, 'a'));
    }

    #[test]
    fn a_dead_writer_hands_the_gate_on() {
        let (a, b) = (Pid::from_raw(1), Pid::from_raw(2));
        let mut gates = Gates::new();
        gates.enter(Stream::Stdout, a, ());
        gates.enter(Stream::Stdout, b, ());
        let next = gates.forget(a);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].1.tid, b);
        assert!(gates.forget(b).is_empty() || !gates.is_held(b));
    }
}
