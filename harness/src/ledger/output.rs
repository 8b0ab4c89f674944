//! Output lines, each attributed to the process that wrote it.
//!
//! Each thread's writes to a stream are joined in order and split at newlines, so a
//! line written in pieces by one process stays whole, and two processes (or two threads
//! of one process) writing at once never splice into each other's lines. A line's moment is that of the write that
//! completed it (the newline), which is when a reader of the stream could see it.

use serde::Serialize;

use super::event::{Event, EventKind, Pid, Stream};
use super::tree::{Moment, ProcId, ProcessTree};

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub process: ProcId,
    pub stream: Stream,
    /// The text without its trailing newline (and without a trailing `\r`).
    pub text: String,
    /// When the line was completed.
    pub at: Moment,
}

/// All output lines of a run in the order they were completed.
pub fn lines(events: &[Event], tree: &ProcessTree) -> Vec<Line> {
    // Pending partial line per (process, thread, stream).
    let mut pending: Vec<(ProcId, Pid, Stream, String, Moment)> = Vec::new();
    let mut out = Vec::new();
    for event in events {
        let EventKind::Write {
            pid,
            tid,
            stream,
            text,
            ..
        } = &event.kind
        else {
            continue;
        };
        let Some(process) = tree.at(*pid, event.seq) else {
            continue;
        };
        let at = Moment {
            seq: event.seq,
            t_ns: event.t_ns,
        };
        let index = match pending
            .iter()
            .position(|(p, t, s, _, _)| *p == process && t == tid && s == stream)
        {
            Some(i) => i,
            None => {
                pending.push((process, *tid, *stream, String::new(), at));
                pending.len() - 1
            }
        };
        pending[index].4 = at;
        let buffer = &mut pending[index].3;
        buffer.push_str(text);
        while let Some(newline) = buffer.find('\n') {
            let rest = buffer.split_off(newline + 1);
            let mut line = std::mem::replace(buffer, rest);
            line.pop();
            if line.ends_with('\r') {
                line.pop();
            }
            out.push(Line {
                process,
                stream: *stream,
                text: line,
                at,
            });
        }
    }
    // Unterminated last lines still count (`print(..., end='')` then exit), at the
    // moment of their last piece.
    for (process, _, stream, text, at) in pending {
        if !text.is_empty() {
            out.push(Line {
                process,
                stream,
                text,
                at,
            });
        }
    }
    out.sort_by_key(|line| line.at.seq);
    out
}
