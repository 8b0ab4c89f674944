//! Short texts the report's drawings show: argv cut to file names, a loopback address as
//! its port, an exit status with whether it is a success.

use crate::ledger::ExitStatus;
use crate::report::trace_text::status_text;

/// argv with paths cut to their last component (`python3.11 start_target.py`): a lane
/// is narrow; the full argv is in the lane's tooltip and the process tree.
pub(super) fn short_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.contains('/') && !a.contains(' ') {
                a.rsplit('/').find(|s| !s.is_empty()).unwrap_or(a)
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `:8080` for a loopback address (every address of a graded run is), else as is.
pub(super) fn short_addr(addr: &str) -> &str {
    addr.strip_prefix("127.0.0.1").unwrap_or(addr)
}

/// The port of `host:port`: a client is told apart by its port (all clients are local).
pub(super) fn port(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap_or(addr)
}

/// `exit 0`, `killed by SIGTERM`, `killed by containment`, and whether it is exit 0.
pub(super) fn exit_text(status: ExitStatus) -> (String, bool) {
    (
        status_text(status),
        matches!(status, ExitStatus::Code { code: 0 }),
    )
}
