//! Reports: one module per output format.

pub mod html;
pub mod trace_text;
