//! Drawing one timeline row: arrows between lifelines and labels on a lane.

use std::fmt::Write as _;

use super::escape::{escape, fit};
use super::timeline::{Mark, TIME_W};
use crate::ledger::Stream;

/// Arrowhead markers, one per arrow kind.
pub(super) const DEFS: &str = "<defs>\
<marker id=\"ah-fork\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" class=\"ah-fork\"/></marker>\
<marker id=\"ah-reap\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" class=\"ah-reap\"/></marker>\
<marker id=\"ah-signal\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" class=\"ah-signal\"/></marker>\
</defs>";

/// An arrow between two lifelines at height `y`, labelled near its middle.
fn arrow(out: &mut String, kind: &str, x1: f64, x2: f64, y: f64, label: &str, title: &str) {
    // `kind` names both the CSS class (`fork-arrow`) and the arrowhead (`ah-fork`).
    let class = format!("{kind}-arrow");
    let marker = format!("ah-{kind}");
    let _ = write!(
        out,
        "<g class=\"{class}\"><title>{title}</title><line x1=\"{x1:.1}\" y1=\"{y:.1}\" x2=\"{x2:.1}\" y2=\"{y:.1}\" marker-end=\"url(#{marker})\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\">{label}</text></g>",
        (x1 + x2) / 2.0 - 12.0,
        y - 4.0,
        title = escape(title),
        label = escape(label),
    );
}

pub(super) fn mark(
    out: &mut String,
    mark: &Mark,
    y: f64,
    life_x: &dyn Fn(usize) -> f64,
    text_w: f64,
    width: f64,
) {
    let label = |out: &mut String, lane: usize, class: &str, text: &str| {
        let _ = write!(
            out,
            "<text class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\"><title>{}</title>{}</text>",
            life_x(lane) + 8.0,
            y + 4.0,
            escape(text),
            escape(&fit(text, text_w)),
        );
    };
    match mark {
        Mark::Start {
            lane,
            parent: Some(parent),
            pid,
        } => {
            let x = life_x(*lane);
            let from = life_x(*parent);
            arrow(
                out,
                "fork",
                from,
                x - 4.0,
                y,
                "fork",
                &format!("started pid {pid}"),
            );
            let _ = write!(
                out,
                "<circle class=\"start\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\"/>"
            );
        }
        Mark::Start {
            lane,
            parent: None,
            pid,
        } => {
            let x = life_x(*lane);
            let _ = write!(
                out,
                "<circle class=\"start\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\"/>"
            );
            label(out, *lane, "exec", &format!("pid {pid} starts"));
        }
        Mark::Exec { lane, text } => label(out, *lane, "exec", text),
        Mark::Line {
            lane,
            stream,
            text,
            main,
        } => {
            if *main {
                let _ = write!(
                    out,
                    "<line class=\"main-guide\" x1=\"{TIME_W:.1}\" y1=\"{y:.1}\" x2=\"{width:.1}\" y2=\"{y:.1}\"/>"
                );
            }
            let x = life_x(*lane);
            let _ = write!(
                out,
                "<circle class=\"dot\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\"/>"
            );
            let class = match stream {
                Stream::Stdout => "out-line stdout",
                Stream::Stderr => "out-line stderr",
            };
            label(out, *lane, class, text);
        }
        Mark::Exit { lane, text, ok } => {
            let x = life_x(*lane);
            let class = if *ok { "exit ok" } else { "exit bad" };
            let _ = write!(
                out,
                "<rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\"/>",
                x - 4.0,
                y - 4.0
            );
            label(out, *lane, class, text);
        }
        Mark::Reap {
            reaped,
            kernel: true,
            ..
        } => label(
            out,
            *reaped,
            "kernel-reap",
            "reaped by the kernel (the parent ignores SIGCHLD)",
        ),
        Mark::Sigchld { lane, text } => label(out, *lane, "sigchld", text),
        Mark::Reap { reaper, reaped, .. } => {
            arrow(
                out,
                "reap",
                life_x(*reaper),
                life_x(*reaped) + if reaper < reaped { -4.0 } else { 4.0 },
                y,
                "wait",
                "collected the exit status",
            );
        }
        Mark::Signal {
            from,
            to: Some(to),
            text,
        } if from != to => {
            arrow(
                out,
                "signal",
                life_x(*from),
                life_x(*to) + if from < to { -4.0 } else { 4.0 },
                y,
                text,
                text,
            );
        }
        Mark::Signal { from, text, .. } => {
            label(out, *from, "signal-text", &format!("sends {text}"))
        }
        Mark::Net { lane, text } => label(out, *lane, "net", text),
        Mark::Limit { text } => {
            let _ = write!(
                out,
                "<text class=\"limit-text\" x=\"{:.1}\" y=\"{:.1}\">⚠ {}</text>",
                TIME_W + 6.0,
                y + 4.0,
                escape(text)
            );
        }
    }
}
