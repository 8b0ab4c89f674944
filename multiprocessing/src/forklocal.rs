//! Fork-local statics: the parent's bookkeeping of its children (the list of children,
//! the report-slot allocator, the `Process-N` counter) lives in an anonymous mapping
//! marked `MADV_WIPEONFORK` (Linux 4.14).
//!
//! Why: `fork` write-protects every private writable page of the parent, so the first
//! write to each such page after every fork faults and copies it. A start+join that
//! writes three pages of statics pays three faults in the parent per start. The kernel
//! neither copies a wipe-on-fork mapping into the child nor write-protects it in the
//! parent: the parent's writes to it never fault, and the child finds it zeroed, which
//! here means "not initialized": a fork child starts with a fresh, empty value, which is
//! what a child must see (its parent's children are not its own), even when another
//! thread of the parent held one of these values' locks at the fork.
//!
//! Without the mapping (`mmap` or `madvise` refused), the values live in a static buffer
//! and [`forget_in_child`] zeroes it in a fork child started by this library, which is
//! what the kernel does otherwise.

use std::cell::UnsafeCell;
use std::mem::{MaybeUninit, align_of, size_of};
use std::num::NonZeroUsize;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};

use nix::sys::mman::{MapFlags, MmapAdvise, ProtFlags, madvise, mmap_anonymous};

/// Bytes of the arena: every fork-local value of the crate fits with room to spare.
const ARENA: usize = 16 * 1024;

const UNINIT: u32 = 0;
const BUSY: u32 = 1;
const READY: u32 = 2;

struct Arena {
    base: *mut u8,
    /// The kernel wipes it in fork children (else `forget_in_child` does).
    wiped_by_kernel: bool,
}

// SAFETY: `base` points to memory that lives as long as the process; what is in it is
// reached through `ForkLocal`, whose values are `Sync`.
unsafe impl Send for Arena {}
unsafe impl Sync for Arena {}

#[repr(C, align(64))]
struct Fallback(UnsafeCell<[u8; ARENA]>);
// SAFETY: only reached through `Arena::base`, as above.
unsafe impl Sync for Fallback {}
static FALLBACK: Fallback = Fallback(UnsafeCell::new([0; ARENA]));

/// Bytes of the arena handed out. Private memory, never wiped: a value placed in the
/// parent keeps its place in the child, where it is found uninitialized and made afresh.
static USED: AtomicUsize = AtomicUsize::new(0);

static A: OnceLock<Arena> = OnceLock::new();

fn arena() -> &'static Arena {
    A.get_or_init(|| {
        let len = NonZeroUsize::new(ARENA).expect("non-zero");
        // SAFETY: a fresh anonymous mapping, aliased by nothing.
        let mapped = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_PRIVATE,
            )
        };
        if let Ok(base) = mapped {
            // SAFETY: the range is the mapping just made.
            if unsafe { madvise(base, ARENA, MmapAdvise::MADV_WIPEONFORK) }.is_ok() {
                return Arena {
                    base: base.as_ptr().cast(),
                    wiped_by_kernel: true,
                };
            }
        }
        Arena {
            base: FALLBACK.0.get().cast(),
            wiped_by_kernel: false,
        }
    })
}

/// In a fork child made by this library, before anything else: forget the parent's
/// fork-local values when the kernel has not (no `MADV_WIPEONFORK`). The child is
/// single-threaded here. A no-op (no write) when the kernel wiped them.
#[inline] // into the fork child's code (see `start_method::fork::start`)
pub(crate) fn forget_in_child() {
    let Some(a) = A.get() else {
        return; // no arena yet: nothing to forget
    };
    if !a.wiped_by_kernel {
        // SAFETY: the arena's own bytes; the only thread of the child is here.
        unsafe { std::ptr::write_bytes(a.base, 0, ARENA) };
    }
}

#[repr(C)]
struct Cell<T> {
    state: AtomicU32,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A static whose value lives in the fork-local arena: made by `init` on first use in
/// each process (a fork child's first use makes it again). Never dropped.
pub(crate) struct ForkLocal<T> {
    init: fn() -> T,
    cell: AtomicPtr<Cell<T>>,
}

// SAFETY: the value is shared between threads as `&T`; `T: Sync` makes that sound, and
// `T: Send` because the thread that makes it need not be the one that uses it.
unsafe impl<T: Send + Sync> Sync for ForkLocal<T> {}

impl<T: Send + Sync> ForkLocal<T> {
    pub(crate) const fn new(init: fn() -> T) -> Self {
        ForkLocal {
            init,
            cell: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The value, made first if this process has not made it yet.
    #[inline]
    pub(crate) fn get(&self) -> &T {
        let cell = self.cell.load(Ordering::Acquire);
        if !cell.is_null() {
            // SAFETY: cells are placed once, inside the arena, and never freed.
            let c = unsafe { &*cell };
            if c.state.load(Ordering::Acquire) == READY {
                // SAFETY: READY is stored after the value was written.
                return unsafe { (*c.value.get()).assume_init_ref() };
            }
        }
        self.slow()
    }

    #[cold]
    #[inline(never)]
    fn slow(&self) -> &T {
        let cell = self.place();
        // SAFETY: as in `get`.
        let c = unsafe { &*cell };
        loop {
            match c
                .state
                .compare_exchange(UNINIT, BUSY, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => {
                    // SAFETY: BUSY is ours: nobody else reads or writes the value now.
                    unsafe { (*c.value.get()).write((self.init)()) };
                    c.state.store(READY, Ordering::Release);
                }
                Err(READY) => {}
                Err(_) => {
                    std::thread::yield_now();
                    continue;
                }
            }
            // SAFETY: READY.
            return unsafe { (*c.value.get()).assume_init_ref() };
        }
    }

    /// This value's cell, given a place in the arena on first use.
    fn place(&self) -> *mut Cell<T> {
        let cell = self.cell.load(Ordering::Acquire);
        if !cell.is_null() {
            return cell;
        }
        let a = arena();
        let (size, align) = (size_of::<Cell<T>>(), align_of::<Cell<T>>());
        let mut at = 0;
        let fits = USED.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            at = used.next_multiple_of(align);
            (at + size <= ARENA).then_some(at + size)
        });
        assert!(fits.is_ok(), "the fork-local arena is full");
        assert!(
            align <= 64,
            "fork-local values are aligned to at most 64 bytes"
        );
        // SAFETY: `at + size` is inside the arena (checked), whose base is 64-aligned
        // (page-aligned, or the aligned fallback) and `at` a multiple of `align`.
        let mine = unsafe { a.base.add(at) }.cast::<Cell<T>>();
        match self.cell.compare_exchange(
            std::ptr::null_mut(),
            mine,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => mine,
            Err(theirs) => theirs, // another thread placed it first (ours stays unused)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};

    static COUNT: ForkLocal<AtomicUsize> = ForkLocal::new(|| AtomicUsize::new(7));

    #[test]
    fn a_fork_child_finds_the_value_fresh() {
        COUNT.get().store(42, Ordering::Relaxed);
        assert_eq!(COUNT.get().load(Ordering::Relaxed), 42);
        // SAFETY: the child only reads an atomic and calls _exit.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                forget_in_child();
                let fresh = COUNT.get().load(Ordering::Relaxed) == 7;
                unsafe { libc::_exit(if fresh { 0 } else { 1 }) }
            }
            ForkResult::Parent { child } => {
                assert_eq!(waitpid(child, None), Ok(WaitStatus::Exited(child, 0)));
            }
        }
        assert_eq!(COUNT.get().load(Ordering::Relaxed), 42);
        assert!(arena().wiped_by_kernel, "MADV_WIPEONFORK is refused here");
    }
}
