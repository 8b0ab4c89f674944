//! Finding, or hiding, the vDSO of a new program image (hidden, its clock reads become
//! system calls).
//!
//! At the PTRACE_EVENT_EXEC stop the new image has not run a single instruction and its
//! stack pointer is at `argc`, followed by argv[], NULL, envp[], NULL and the auxiliary
//! vector (System V x86_64 ABI, "Process Initialization"). The AT_SYSINFO_EHDR entry is
//! turned into AT_IGNORE: glibc (2.36's `_dl_parse_auxv`) then leaves `dl_sysinfo_dso`
//! NULL, `setup_vdso` does nothing, and clock_gettime, gettimeofday and time fall back
//! to their system calls. Forked children inherit the already initialised glibc.

use nix::unistd::Pid;

use crate::trace::memory;

const AT_NULL: u64 = 0;
const AT_IGNORE: u64 = 1;
const AT_SYSINFO_EHDR: u64 = 33;
/// Bound on the words walked (argv + envp + auxv); a larger stack is left alone.
const MAX_WORDS: usize = 1 << 16;

/// The stack pointer of a stopped tracee.
#[cfg(target_arch = "x86_64")]
pub(crate) fn stack_pointer(tid: Pid) -> Option<u64> {
    nix::sys::ptrace::getregs(tid).ok().map(|r| r.rsp)
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn stack_pointer(_tid: Pid) -> Option<u64> {
    None
}

/// Where, in `words` (the stack from `sp`), the auxv entry of type `AT_SYSINFO_EHDR`
/// is: its index, or None if there is none.
fn find_vdso_entry(words: &[u64]) -> Option<usize> {
    let argc = usize::try_from(*words.first()?).ok()?;
    // Skip argc, argv[argc] and its NULL, then envp up to its NULL.
    let mut i = argc.checked_add(2)?;
    while *words.get(i)? != 0 {
        i += 1;
    }
    i += 1;
    loop {
        let kind = *words.get(i)?;
        if kind == AT_NULL {
            return None;
        }
        if kind == AT_SYSINFO_EHDR {
            return Some(i);
        }
        i += 2;
    }
}

/// The image `tid` just exec'd: the address of its AT_SYSINFO_EHDR entry and the vDSO's
/// base it holds (`Ok(None)`: the image has no vDSO; `Err`: the auxv could not be read).
fn vdso_entry(tid: Pid) -> Result<Option<(u64, u64)>, ()> {
    let sp = stack_pointer(tid).ok_or(())?;
    let mut len = 4096;
    while len <= MAX_WORDS * 8 {
        let raw = memory::read_bytes(tid, sp, len);
        let words: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        if let Some(i) = find_vdso_entry(&words)
            && let Some(&base) = words.get(i + 1)
        {
            return Ok(Some((sp + 8 * i as u64, base)));
        }
        // Not found: either no vDSO at all, or the read stopped short of the auxv.
        if auxv_complete(&words) {
            return Ok(None);
        }
        if raw.len() < len {
            return Err(());
        }
        len *= 4;
    }
    Err(())
}

/// Hide the vDSO from the image `tid` just exec'd. False if it could not be done (the
/// program then reads the real clock without the tracer seeing it).
pub(crate) fn hide_vdso(tid: Pid) -> bool {
    match vdso_entry(tid) {
        Ok(Some((entry, _))) => memory::write_bytes(tid, entry, &AT_IGNORE.to_ne_bytes()),
        Ok(None) => true,
        Err(()) => false,
    }
}

/// Where this process's own vDSO is mapped: its AT_SYSINFO_EHDR in `/proc/self/auxv`
/// (pairs of native words).
pub(crate) fn own_vdso_base() -> Option<u64> {
    let auxv = std::fs::read("/proc/self/auxv").ok()?;
    auxv.chunks_exact(16).find_map(|pair| {
        let kind = u64::from_ne_bytes(pair[..8].try_into().ok()?);
        let value = u64::from_ne_bytes(pair[8..].try_into().ok()?);
        (kind == AT_SYSINFO_EHDR).then_some(value)
    })
}

/// Where the vDSO of the image `tid` just exec'd is mapped, if it has one.
pub(crate) fn vdso_base(tid: Pid) -> Option<u64> {
    vdso_entry(tid).ok().flatten().map(|(_, base)| base)
}

/// Does `words` hold the whole auxv (up to AT_NULL)? Then there is no vDSO entry.
fn auxv_complete(words: &[u64]) -> bool {
    let Some(argc) = words.first().and_then(|&a| usize::try_from(a).ok()) else {
        return false;
    };
    let Some(mut i) = argc.checked_add(2) else {
        return false;
    };
    loop {
        match words.get(i) {
            Some(0) => break,
            Some(_) => i += 1,
            None => return false,
        }
    }
    i += 1;
    loop {
        match words.get(i) {
            Some(&AT_NULL) => return true,
            Some(_) => i += 2,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_vdso_entry_after_argv_and_envp() {
        // argc=2, argv[2], NULL, envp[1], NULL, (AT_PAGESZ 6, 4096), (33, vdso), AT_NULL
        let words = [2, 10, 11, 0, 20, 0, 6, 4096, 33, 0x7fff, 0, 0];
        assert_eq!(find_vdso_entry(&words), Some(8));
        assert!(auxv_complete(&words));
        let none = [1, 10, 0, 0, 6, 4096, 0, 0];
        assert_eq!(find_vdso_entry(&none), None);
        assert!(auxv_complete(&none));
        assert!(!auxv_complete(&[1, 10, 0, 0, 6]), "cut short");
    }
}
