//! Reports: one module per output format.

pub mod html;
