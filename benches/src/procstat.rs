//! Process count and resident memory of a process group, from `/proc`: how the servers'
//! footprints are measured (every server under test leads its own process group).

use std::time::{Duration, Instant};

/// One snapshot of a process group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupStats {
    /// Live (non-zombie) processes in the group.
    pub processes: u64,
    /// Threads in those processes.
    pub threads: u64,
    /// Zombies in the group (exited, not yet reaped).
    pub zombies: u64,
    /// Sum of the processes' resident set sizes, in bytes.
    pub rss_bytes: u64,
}

impl GroupStats {
    /// The field-wise maximum of two snapshots (for peaks over time).
    pub fn max(self, other: GroupStats) -> GroupStats {
        GroupStats {
            processes: self.processes.max(other.processes),
            threads: self.threads.max(other.threads),
            zombies: self.zombies.max(other.zombies),
            rss_bytes: self.rss_bytes.max(other.rss_bytes),
        }
    }
}

/// Snapshot of every process whose process group is `pgid`.
pub fn group_stats(pgid: i32) -> GroupStats {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as u64);
    let mut stats = GroupStats::default();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return stats;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // Processes come and go while we scan: a vanished one is simply skipped.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(fields) = parse_stat(&stat) else {
            continue;
        };
        if fields.pgrp != pgid {
            continue;
        }
        if fields.state == 'Z' {
            stats.zombies += 1;
        } else {
            stats.processes += 1;
            stats.threads += fields.threads;
            stats.rss_bytes += fields.rss_pages * page;
        }
    }
    stats
}

/// Samples [`group_stats`] every `every` until `until` returns true, and returns the peak.
pub fn peak_while(pgid: i32, every: Duration, until: impl Fn() -> bool) -> GroupStats {
    let mut peak = GroupStats::default();
    loop {
        let t0 = Instant::now();
        peak = peak.max(group_stats(pgid));
        if until() {
            return peak;
        }
        std::thread::sleep(every.saturating_sub(t0.elapsed()));
    }
}

struct StatFields {
    state: char,
    pgrp: i32,
    threads: u64,
    rss_pages: u64,
}

/// Parses `/proc/<pid>/stat` (see proc(5)); the command name may contain spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<StatFields> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); field n is f[n - 3].
    Some(StatFields {
        state: f.first()?.chars().next()?,
        pgrp: f.get(2)?.parse().ok()?,
        threads: f.get(17)?.parse().ok()?,
        rss_pages: f.get(21)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_group_is_counted() {
        let pgid = nix::unistd::getpgrp().as_raw();
        let s = group_stats(pgid);
        assert!(s.processes >= 1, "{s:?}");
        assert!(s.threads >= 1 && s.rss_bytes > 0, "{s:?}");
    }

    #[test]
    fn stat_with_odd_name() {
        let line = "42 (a) b (c) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 1 100 25 0";
        let f = parse_stat(line).expect("parses");
        assert_eq!((f.state, f.pgrp, f.threads, f.rss_pages), ('S', 42, 3, 25));
    }
}
