//! Reading the small `/proc` files the tracer polls (stat, schedstat, syscall, status,
//! children). `std::fs::read_to_string` asks statx(2) for a size that proc(5) files do
//! not report and then reads in growing steps, so a 200-byte `stat` took seven system
//! calls; here it is open, one read into a page-sized buffer, close. On the virtual
//! clock the tracer reads several such files at every tick and every idle check, on the
//! CPU the program runs on.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The text of a small proc file, read whole (in more reads only if it outgrows a page).
pub(crate) fn read_small(path: impl AsRef<Path>) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        let n = file.read(&mut buf[len..]).ok()?;
        if n == 0 {
            break;
        }
        len += n;
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_proc_file_whole_and_a_large_one_too() {
        let stat = read_small("/proc/self/stat").expect("stat");
        assert!(stat.contains(')'), "{stat}");
        let maps = read_small("/proc/self/maps").expect("maps");
        assert_eq!(
            maps.lines().count(),
            std::fs::read_to_string("/proc/self/maps")
                .unwrap()
                .lines()
                .count()
        );
        assert!(read_small("/proc/self/no-such-file").is_none());
    }
}
