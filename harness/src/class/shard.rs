//! `--shard I/N`: a deterministic 1/N of the students, so N independent jobs (a Slurm
//! array, a CI matrix) grade a class with no coordinator. Students are sorted by name
//! (byte order) and student number `k` (0-based) belongs to shard `k % N`.

use std::str::FromStr;

/// Shard `index` of `count` (0 ≤ index < count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid shard {s:?}: expected I/N with 0 <= I < N, e.g. 0/4");
        let (index, count) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = index.trim().parse().map_err(|_| bad())?;
        let count: usize = count.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// This shard's students, from the full sorted list.
    pub fn select(self, sorted_students: &[String]) -> Vec<String> {
        sorted_students
            .iter()
            .enumerate()
            .filter(|(k, _)| k % self.count == self.index)
            .map(|(_, s)| s.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, count: 3 }));
        for bad in ["3/3", "1/0", "a/2", "1", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_class() {
        let students: Vec<String> = (0..10).map(|i| format!("s{i:02}")).collect();
        let mut all: Vec<String> = (0..3)
            .flat_map(|i| Shard { index: i, count: 3 }.select(&students))
            .collect();
        all.sort();
        assert_eq!(all, students);
        assert_eq!(
            Shard { index: 1, count: 3 }.select(&students),
            vec!["s01", "s04", "s07"]
        );
    }
}
