//! The timeline: an inline SVG with one lane per process (time flows down), fork arrows
//! from parent to child, each output line on the lane of the process that wrote it, exits,
//! reaps (arrow from the reaper to the reaped; a label where the kernel reaped), SIGCHLD
//! dispositions, signals and connections.
//!
//! Rows are in ledger order (one row per fact, so labels never overlap); a pause longer
//! than [`GAP_NS`] between two rows adds space and its duration, so "slept 1 s" shows.

use std::fmt::Write as _;

use super::draw::{DEFS, mark};
use super::escape::{escape, fit};
use super::labels::{exit_text, port, short_addr, short_argv};
use crate::ledger::{EventKind, Ledger, ProcId, ProcessTree, Role, Stream, lines};
use crate::report::trace_text::{sigchld_text, signal_name};

pub(super) const TIME_W: f64 = 70.0;
const HEADER_H: f64 = 62.0;
const ROW_H: f64 = 22.0;
const GAP_H: f64 = 18.0;
const GAP_NS: u64 = 100_000_000;
/// The lifeline's offset from the lane's left edge; labels start right of it.
const LIFE_X: f64 = 12.0;
const MAX_LANES: usize = 32;
const MAX_ROWS: usize = 600;

/// What a row shows.
pub(super) enum Mark {
    Start {
        lane: usize,
        parent: Option<usize>,
        pid: i32,
    },
    Exec {
        lane: usize,
        text: String,
    },
    Line {
        lane: usize,
        stream: Stream,
        text: String,
        main: bool,
    },
    Exit {
        lane: usize,
        text: String,
        ok: bool,
    },
    Reap {
        reaper: usize,
        reaped: usize,
        /// The kernel reaped it (the parent ignores SIGCHLD): no wait call.
        kernel: bool,
    },
    /// The process changed its SIGCHLD disposition.
    Sigchld {
        lane: usize,
        text: String,
    },
    Signal {
        from: usize,
        to: Option<usize>,
        text: String,
    },
    Net {
        lane: usize,
        text: String,
    },
    Limit {
        text: String,
    },
}

struct Row {
    seq: u64,
    t_ns: u64,
    mark: Mark,
}

/// Lane order: depth-first from the root, children in creation order. A launcher's side
/// processes (pyenv's shim forks a dozen helpers before exec'ing Python) get no lane:
/// only the main process's ancestors stand for the launcher. Returns the lanes and how
/// many launcher processes were left out.
fn lane_order(tree: &ProcessTree) -> (Vec<ProcId>, usize) {
    let ancestors: Vec<ProcId> = tree
        .main
        .map_or_else(Vec::new, |m| tree.ancestors(m).collect());
    let drawn = |id: ProcId| tree.processes[id].role != Role::Launcher || ancestors.contains(&id);
    let mut order = Vec::new();
    let mut seen = vec![false; tree.processes.len()];
    let mut stack: Vec<ProcId> = tree.root.into_iter().collect();
    while let Some(id) = stack.pop() {
        seen[id] = true;
        order.push(id);
        stack.extend(tree.processes[id].children.iter().rev());
    }
    order.extend(tree.processes.iter().map(|p| p.id).filter(|&id| !seen[id]));
    let all = order.len();
    order.retain(|&id| drawn(id));
    let hidden = all - order.len();
    (order, hidden)
}

fn rows(ledger: &Ledger, tree: &ProcessTree, lane_of: &[Option<usize>]) -> Vec<Row> {
    let lane = |id: ProcId| lane_of.get(id).copied().flatten();
    let mut rows = Vec::new();
    for p in &tree.processes {
        let Some(l) = lane(p.id) else { continue };
        rows.push(Row {
            seq: p.started.seq,
            t_ns: p.started.t_ns,
            mark: Mark::Start {
                lane: l,
                parent: p.parent.and_then(lane),
                pid: p.pid,
            },
        });
        // The main process's earlier execs are launcher steps (env, the shim's bash).
        let execs = if tree.main == Some(p.id) {
            &p.execs[p.execs.len().saturating_sub(1)..]
        } else {
            &p.execs[..]
        };
        for exec in execs {
            let t_ns = event_time(ledger, exec.seq);
            rows.push(Row {
                seq: exec.seq,
                t_ns,
                mark: Mark::Exec {
                    lane: l,
                    text: format!("exec {}", short_argv(&exec.argv)),
                },
            });
        }
        if let Some((at, status)) = p.exited {
            let (text, ok) = exit_text(status);
            rows.push(Row {
                seq: at.seq,
                t_ns: at.t_ns,
                mark: Mark::Exit { lane: l, text, ok },
            });
        }
        if let Some((reaper, at)) = p.reaped_by
            && let Some(r) = lane(reaper)
        {
            rows.push(Row {
                seq: at.seq,
                t_ns: at.t_ns,
                mark: Mark::Reap {
                    reaper: r,
                    reaped: l,
                    kernel: p.reaped_by_kernel,
                },
            });
        }
    }
    for line in lines(&ledger.events, tree) {
        if let Some(l) = lane(line.process) {
            let main = tree.main == Some(line.process);
            rows.push(Row {
                seq: line.at.seq,
                t_ns: line.at.t_ns,
                mark: Mark::Line {
                    lane: l,
                    stream: line.stream,
                    text: line.text,
                    main,
                },
            });
        }
    }
    let mut served = std::collections::HashSet::new();
    for event in &ledger.events {
        let at = |pid| tree.at(pid, event.seq).and_then(lane);
        let mark = match &event.kind {
            EventKind::Signal { from, to, signal } => at(*from).map(|from| Mark::Signal {
                from,
                to: if *to > 0 { at(*to) } else { None },
                text: if *to > 0 {
                    signal_name(*signal)
                } else {
                    format!("{} to group {}", signal_name(*signal), -to)
                },
            }),
            EventKind::Listen { pid, addr } => at(*pid).map(|lane| Mark::Net {
                lane,
                text: format!("listen {}", short_addr(addr)),
            }),
            EventKind::Accept { pid, peer, .. } => at(*pid).map(|lane| Mark::Net {
                lane,
                text: format!("accepted :{}", port(peer)),
            }),
            // The first traffic of a process on a connection: who serves which client.
            EventKind::SocketIo { pid, peer, .. } => at(*pid).and_then(|lane| {
                served.insert((lane, peer.clone())).then(|| Mark::Net {
                    lane,
                    text: format!("serves :{}", port(peer)),
                })
            }),
            EventKind::SigchldDisposition {
                pid,
                ignore,
                nocldwait,
            } => at(*pid).map(|lane| Mark::Sigchld {
                lane,
                text: sigchld_text(*ignore, *nocldwait).to_string(),
            }),
            EventKind::Limit { limit, detail } => Some(Mark::Limit {
                text: format!("{limit}: {detail}"),
            }),
            _ => None,
        };
        if let Some(mark) = mark {
            rows.push(Row {
                seq: event.seq,
                t_ns: event.t_ns,
                mark,
            });
        }
    }
    // Stable: at one seq, a start comes before what the new process does.
    rows.sort_by_key(|r| r.seq);
    rows
}

fn event_time(ledger: &Ledger, seq: u64) -> u64 {
    ledger
        .events
        .binary_search_by_key(&seq, |e| e.seq)
        .map_or(0, |i| ledger.events[i].t_ns)
}

/// The timeline as an SVG inside a scrolling `div`.
pub fn svg(ledger: &Ledger) -> String {
    let tree = ProcessTree::from_ledger(ledger);
    let (order, launchers) = lane_order(&tree);
    let shown = order.len().min(MAX_LANES);
    let mut lane_of = vec![None; tree.processes.len()];
    for (lane, &id) in order.iter().take(shown).enumerate() {
        lane_of[id] = Some(lane);
    }
    let mut rows = rows(ledger, &tree, &lane_of);
    let hidden_rows = rows.len().saturating_sub(MAX_ROWS);
    rows.truncate(MAX_ROWS);

    let lane_w = (980.0 / shown.max(1) as f64).clamp(150.0, 260.0);
    let lane_x = |lane: usize| TIME_W + lane as f64 * lane_w;
    let life_x = |lane: usize| lane_x(lane) + LIFE_X;
    let text_w = lane_w - LIFE_X - 14.0;

    // y of every row, with extra space for pauses.
    let mut ys = Vec::with_capacity(rows.len());
    let mut body = String::new();
    let mut y = HEADER_H + ROW_H;
    let mut prev_t = 0u64;
    for (i, row) in rows.iter().enumerate() {
        if i > 0 && row.t_ns.saturating_sub(prev_t) > GAP_NS {
            let _ = write!(
                body,
                "<text class=\"gap\" x=\"6\" y=\"{:.1}\">⋮ +{:.2} s</text>",
                y - 4.0,
                (row.t_ns - prev_t) as f64 / 1e9
            );
            y += GAP_H;
        }
        ys.push(y);
        prev_t = row.t_ns;
        y += ROW_H;
    }
    let bottom = y;
    let width = TIME_W + shown as f64 * lane_w + 10.0;

    // Lanes: header and lifeline (solid while alive, dashed while a zombie).
    let row_y =
        |pred: &dyn Fn(&Mark) -> bool| rows.iter().position(|r| pred(&r.mark)).map(|i| ys[i]);
    let mut lanes = String::new();
    for (lane, &id) in order.iter().take(shown).enumerate() {
        let p = &tree.processes[id];
        let role = if tree.main == Some(id) {
            "main".to_string()
        } else {
            p.role.to_string()
        };
        let argv = p.argv(&tree).join(" ");
        let start = row_y(&|m| matches!(m, Mark::Start { lane: l, .. } if *l == lane))
            .unwrap_or(HEADER_H + ROW_H);
        let exit = row_y(&|m| matches!(m, Mark::Exit { lane: l, .. } if *l == lane));
        // A kernel reap leaves no zombie time to draw.
        let reap =
            row_y(&|m| matches!(m, Mark::Reap { reaped, kernel: false, .. } if *reaped == lane));
        let x = lane_x(lane);
        let lx = life_x(lane);
        let _ = write!(
            lanes,
            "<g class=\"lane role-{role}\" data-pid=\"{pid}\" data-role=\"{role}\">\
             <title>pid {pid} ({role}): {title}</title>\
             <rect class=\"lane-bg\" x=\"{x:.1}\" y=\"0\" width=\"{w:.1}\" height=\"{h:.1}\"/>\
             <text class=\"lane-pid\" x=\"{tx:.1}\" y=\"18\">pid {pid}</text>\
             <text class=\"lane-role\" x=\"{tx:.1}\" y=\"34\">{role}</text>\
             <text class=\"lane-argv\" x=\"{tx:.1}\" y=\"50\">{argv}</text>\
             <line class=\"life\" x1=\"{lx:.1}\" y1=\"{start:.1}\" x2=\"{lx:.1}\" y2=\"{end:.1}\"/>",
            pid = p.pid,
            title = escape(&argv),
            w = lane_w - 4.0,
            h = bottom,
            tx = x + 6.0,
            argv = escape(&fit(&short_argv(p.argv(&tree)), lane_w - 12.0)),
            end = exit.unwrap_or(bottom - ROW_H / 2.0),
        );
        if let (Some(exit), Some(reap)) = (exit, reap)
            && reap > exit
        {
            let _ = write!(
                lanes,
                "<line class=\"zombie\" x1=\"{lx:.1}\" y1=\"{exit:.1}\" x2=\"{lx:.1}\" y2=\"{reap:.1}\"><title>exited, not yet waited for (zombie)</title></line>"
            );
        }
        lanes.push_str("</g>");
    }

    let mut marks = String::new();
    for (row, &y) in rows.iter().zip(&ys) {
        let _ = write!(
            marks,
            "<text class=\"time\" x=\"6\" y=\"{:.1}\">{:.3}s</text>",
            y + 4.0,
            row.t_ns as f64 / 1e9
        );
        mark(&mut marks, &row.mark, y, &life_x, text_w, width);
    }

    let mut svg = String::new();
    let _ = write!(
        svg,
        "<div class=\"scroll\"><svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" \
         width=\"{width:.0}\" height=\"{bottom:.0}\" viewBox=\"0 0 {width:.0} {bottom:.0}\" \
         role=\"img\" aria-label=\"process timeline\">{}{lanes}{body}{marks}</svg></div>",
        DEFS
    );
    if order.len() > shown {
        let _ = write!(
            svg,
            "<p class=\"hint\">{} more processes are not drawn; see the process tree.</p>",
            order.len() - shown
        );
    }
    if launchers > 0 {
        let _ = write!(
            svg,
            "<p class=\"hint\">{launchers} processes of the launcher (a shell or version-manager \
             shim run before the program's own exec) are not drawn; see the process tree.</p>"
        );
    }
    if hidden_rows > 0 {
        let _ = write!(
            svg,
            "<p class=\"hint\">{hidden_rows} later events are not drawn.</p>"
        );
    }
    svg
}
