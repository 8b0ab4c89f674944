//! What this grader may do, found by looking and trying, not by `uid == 0`: a container's
//! root lacks CAP_SYS_ADMIN and CAP_SYS_PTRACE (Docker's default set), an ordinary user
//! has no capability at all. Each containment layer is decided from these answers, so a
//! missing privilege turns off its layer (with the reason) instead of stopping the run.

use std::sync::OnceLock;

use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

/// Capability numbers (capabilities(7)) the grader asks about.
pub(crate) const CAP_CHOWN: u32 = 0;
pub(crate) const CAP_SETGID: u32 = 6;
pub(crate) const CAP_SETUID: u32 = 7;
pub(crate) const CAP_SETPCAP: u32 = 8;
pub(crate) const CAP_SYS_PTRACE: u32 = 19;
pub(crate) const CAP_SYS_ADMIN: u32 = 21;

/// The effective capability set (`CapEff` in /proc/self/status); 0 if unreadable.
pub(crate) fn effective() -> u64 {
    static EFFECTIVE: OnceLock<u64> = OnceLock::new();
    *EFFECTIVE.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .map(|s| status_mask(&s, "CapEff:"))
            .unwrap_or(0)
    })
}

/// A hex mask field of a `/proc/PID/status` text (proc(5): `SigBlk:`, `CapEff:` …);
/// 0 if absent.
pub(crate) fn status_mask(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

/// Run `probe` once on a throwaway thread (namespace changes stay on it) where the
/// grader has CAP_SYS_ADMIN; `Err` says why it cannot.
fn probe_on_thread(probe: fn() -> Result<(), String>) -> Result<(), String> {
    if let Some(cap) = missing(&[CAP_SYS_ADMIN]) {
        return Err(format!("no {}", name(cap)));
    }
    std::thread::Builder::new()
        .name("proclab-probe".into())
        .spawn(probe)
        .map_err(|e| e.to_string())
        .and_then(|t| t.join().map_err(|_| "probe panicked".to_string())?)
}

/// Is `cap` in the effective set?
pub(crate) fn has(cap: u32) -> bool {
    effective() & (1 << cap) != 0
}

/// Name of a capability, for the layers' reasons.
pub(crate) fn name(cap: u32) -> &'static str {
    match cap {
        CAP_CHOWN => "CAP_CHOWN",
        CAP_SETGID => "CAP_SETGID",
        CAP_SETUID => "CAP_SETUID",
        CAP_SETPCAP => "CAP_SETPCAP",
        CAP_SYS_PTRACE => "CAP_SYS_PTRACE",
        CAP_SYS_ADMIN => "CAP_SYS_ADMIN",
        _ => "a capability",
    }
}

/// The first of `caps` this grader lacks.
pub(crate) fn missing(caps: &[u32]) -> Option<u32> {
    caps.iter().copied().find(|&c| !has(c))
}

/// Can this grader make a private mount namespace whose mounts it makes read-only, in
/// its own user namespace (the `fs-readonly` layer without a user namespace)? Tried once
/// per process, on a throwaway thread: mount-namespace membership is per thread
/// (unshare(2) with CLONE_NEWNS unshares the thread's file-system context too), so the
/// grader's other threads never see the probe's mounts. `Err` says why not.
pub(crate) fn private_mounts() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            probe_on_thread(|| probe_mounts().map_err(|e| format!("mount namespace: {e}")))
        })
        .clone()
}

/// Can this grader make a pid namespace (the `pidns` layer without a user namespace)?
/// Tried once per process on a throwaway thread: unshare(CLONE_NEWPID) only sets where
/// the calling thread's future children go, and this thread has none.
pub(crate) fn private_pids() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            probe_on_thread(|| {
                unshare(CloneFlags::CLONE_NEWPID).map_err(|e| format!("unshare(CLONE_NEWPID): {e}"))
            })
        })
        .clone()
}

fn probe_mounts() -> Result<(), Errno> {
    unshare(CloneFlags::CLONE_NEWNS)?;
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)?;
    mount(
        Some("tmpfs"),
        "/dev/shm",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=1m"),
    )?;
    let root = std::ffi::CString::new("/").map_err(|_| Errno::EINVAL)?;
    super::fsview::mount_setattr(&root, libc::MOUNT_ATTR_RDONLY, 0)
}
