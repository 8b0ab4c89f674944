//! Report slots: small pieces of a `MAP_SHARED` anonymous mapping where a fork child whose
//! final frame is bounded (see `Spec::bounded`) leaves that frame for its parent, instead
//! of a pipe: no `pipe2`, `close`, `write` or `read`, and the parent reads the slot only
//! after reaping the child, when everything the child wrote is there.
//!
//! A slot is `[len: u32][frame]`, `len == 0` meaning "no frame". The parent zeroes `len`
//! before the fork and releases the slot once the child is reaped; a slot whose child was
//! never reaped (its `Process` dropped early) is never reused. The mapping is shared with
//! every fork child, so a child that starts processes of its own allocates from mappings of
//! its own (the inherited ones are the parent's to manage).

use std::ptr::NonNull;
use std::sync::Mutex;

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};

use crate::forklocal::ForkLocal;

/// Bytes of a slot: a length and a frame of at most `PIPE_BUF` bytes.
const SLOT: usize = 4160;
/// Slots per mapping.
const PER_REGION: usize = 16;

/// The largest frame a slot holds.
pub(crate) const FRAME_MAX: usize = SLOT - 4;

struct Region {
    base: NonNull<u8>,
    used: u16,
}

/// Regions at most: 1 024 bounded children running at once get slots, more use pipes.
const MAX_REGIONS: usize = 64;

struct Slots {
    /// `child::generation()` when `regions` were made: inherited ones are not ours.
    generation: u32,
    /// In place (no heap page to write when a slot is released): `regions[..len]`.
    regions: [Option<Region>; MAX_REGIONS],
    len: usize,
}

// SAFETY: the regions are plain shared memory, only reached under the mutex (allocation)
// or through a `Slot` owned by one `Process`.
unsafe impl Send for Slots {}

/// Fork-local (see `forklocal`): taking and releasing a slot write no page the fork has
/// write-protected, and a fork child starts without regions.
static SLOTS: ForkLocal<Mutex<Slots>> = ForkLocal::new(|| {
    Mutex::new(Slots {
        generation: 0,
        regions: [const { None }; MAX_REGIONS],
        len: 0,
    })
});

fn slots() -> std::sync::MutexGuard<'static, Slots> {
    SLOTS.get().lock().unwrap_or_else(|p| p.into_inner())
}

/// One slot, owned by the `Process` of the child that writes it.
#[derive(Debug)]
pub(crate) struct Slot {
    ptr: NonNull<u8>,
    region: usize,
    index: usize,
    generation: u32,
}

// SAFETY: the slot's memory is owned by the one `Process` holding it.
unsafe impl Send for Slot {}

impl Slot {
    /// Where the child writes (its `len`, then the frame).
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The frame the reaped child left, if any.
    pub(crate) fn frame(&self) -> &[u8] {
        // SAFETY: the child is reaped, so nobody writes the slot any more; `len` was
        // zeroed before the fork and is at most FRAME_MAX when the child set it.
        unsafe {
            let len = (self.ptr.as_ptr() as *const u32).read_unaligned() as usize;
            std::slice::from_raw_parts(self.ptr.as_ptr().add(4), len.min(FRAME_MAX))
        }
    }
}

/// A cleared slot, or `None` when no mapping could be made (the caller uses a pipe).
/// `generation` is the caller's `child::generation()`.
pub(crate) fn take(generation: u32) -> Option<Slot> {
    let mut s = slots();
    if s.generation != generation {
        // Inherited from our parent: its slots, not ours (not unmapped: ours may be there).
        s.regions = [const { None }; MAX_REGIONS];
        s.len = 0;
        s.generation = generation;
    }
    let len = s.len;
    let free = s.regions[..len]
        .iter()
        .position(|r| r.as_ref().is_some_and(|r| r.used != u16::MAX));
    let region = match free {
        Some(i) => i,
        None if len == MAX_REGIONS => return None,
        None => {
            // SAFETY: a fresh anonymous mapping, aliased by nothing.
            let base = unsafe {
                mmap_anonymous(
                    None,
                    std::num::NonZeroUsize::new(SLOT * PER_REGION)?,
                    ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                    MapFlags::MAP_SHARED,
                )
            }
            .ok()?;
            s.regions[len] = Some(Region {
                base: base.cast(),
                used: 0,
            });
            s.len = len + 1;
            len
        }
    };
    let r = s.regions[region].as_mut()?;
    let index = (!r.used).trailing_zeros() as usize;
    r.used |= 1 << index;
    // SAFETY: index < PER_REGION, inside the mapping.
    let ptr = unsafe { r.base.add(index * SLOT) };
    // SAFETY: a free slot: nobody else reads or writes it.
    unsafe { (ptr.as_ptr() as *mut u32).write_unaligned(0) };
    Some(Slot {
        ptr,
        region,
        index,
        generation,
    })
}

/// Gives a slot back once its child is reaped.
pub(crate) fn release(slot: Slot) {
    let mut s = slots();
    if s.generation == slot.generation
        && let Some(Some(r)) = s.regions.get_mut(slot.region)
    {
        r.used &= !(1 << slot.index);
    }
}

/// In the child: leaves `frame` in the slot at `ptr`, cut to what a slot holds.
///
/// # Safety
/// `ptr` is the slot this child's parent gave it, and only this child writes it.
#[inline]
pub(crate) unsafe fn write(ptr: *mut u8, header: &[u8], data: &[u8]) {
    let data = &data[..data.len().min(FRAME_MAX.saturating_sub(header.len()))];
    // SAFETY: header + data fit the slot after its length (cut just above).
    unsafe {
        std::ptr::copy_nonoverlapping(header.as_ptr(), ptr.add(4), header.len());
        if !data.is_empty() {
            // (Skipped when empty: even a 0-byte memcpy is a libc code page to fault in.)
            std::ptr::copy_nonoverlapping(data.as_ptr(), ptr.add(4 + header.len()), data.len());
        }
        // The length last: a child killed mid-copy leaves "no frame", never half of one.
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::Release);
        (ptr as *mut u32).write_volatile((header.len() + data.len()) as u32);
    }
}
