//! Python's `multiprocessing.Process` for Rust (Linux).
