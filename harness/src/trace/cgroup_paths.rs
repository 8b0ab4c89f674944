//! Where the run's cgroups go: the cgroup mounts (/proc/self/mountinfo), the tracer's
//! own cgroup in each hierarchy (/proc/self/cgroup), and the run's directory below it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub(super) struct Mount {
    pub point: PathBuf,
    pub v2: bool,
    pub options: String,
}

pub(super) fn mounts() -> Vec<Mount> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|line| {
            // "36 25 0:31 / /sys/fs/cgroup/pids rw,relatime shared:12 - cgroup cgroup rw,pids"
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let mut right = right.split(' ');
            let fstype = right.next()?;
            let options = right.nth(1).unwrap_or("").to_string();
            (fstype == "cgroup" || fstype == "cgroup2").then(|| Mount {
                point: PathBuf::from(point.replace("\\040", " ")),
                v2: fstype == "cgroup2",
                options,
            })
        })
        .collect()
}

/// The tracer's own cgroup path in the hierarchy that has `controller` ("" for v2).
pub(super) fn own_path(controller: &str) -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        matches.then(|| path.trim_start_matches('/').to_string())
    })
}

static RUN_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Create `<mount>/<own>/proclab/<run-id>`, removing empty leftovers of dead graders.
pub(super) fn make_run_dir(mount: &Path, own: &str) -> std::io::Result<PathBuf> {
    let base = mount.join(own).join("proclab");
    let run = base.join(format!(
        "{}-{}",
        std::process::id(),
        RUN_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    if let Ok(entries) = fs::read_dir(&base) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let owner = name
                .to_string_lossy()
                .split('-')
                .next()
                .and_then(|p| p.parse::<u32>().ok());
            if owner.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = fs::remove_dir(entry.path());
            }
        }
    }
    // Another run may remove `base` between our two calls (see `Cgroups::remove`).
    let mut tries = 0;
    loop {
        fs::create_dir_all(&base)?;
        match fs::create_dir(&run) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 10 => tries += 1,
            other => return other.map(|()| run),
        }
    }
}
