//! The list of children: the first entries inline (no heap write right after a fork),
//! each with who will learn how its child ended.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::unistd::Pid;

#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) pid: Pid,
    /// Names the start, whatever pids are reused (see `register`).
    pub(crate) key: u64,
    pub(crate) daemon: bool,
    /// A forkserver child: the zygote, not us, reaps it.
    pub(crate) relayed: bool,
    /// A forkserver child's channel (our own duplicate, closed with the entry), or -1:
    /// it hangs up once the child has exited and the zygote has sent its status.
    pub(crate) channel: RawFd,
    pub(crate) owner: Owner,
}

/// Who learns how the child ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Its `Process` (by `join`, `is_alive`, …).
    Process,
    /// Nobody: its `Process` was dropped while it ran; we reap it.
    Dropped,
    /// `active_children()` reaped it before its `Process` looked; the `Process` claims the
    /// exit code.
    Reaped { code: i32 },
}

/// The first entries live inline in the static, so that registering a child writes no
/// heap page (a fork has just made every page copy-on-write).
pub(crate) const INLINE: usize = 16;

pub(crate) const NONE: Entry = Entry {
    pid: Pid::from_raw(0),
    key: 0,
    daemon: false,
    relayed: false,
    channel: -1,
    owner: Owner::Process,
};

/// The children started here and not yet joined: `head[..head_len]`, then `rest`.
pub(crate) struct List {
    pub(crate) head: [Entry; INLINE],
    pub(crate) head_len: usize,
    pub(crate) rest: Vec<Entry>,
    /// How many entries are not owned by their `Process` (see `UNOWNED`).
    pub(crate) unowned: usize,
}

impl List {
    pub(crate) fn len(&self) -> usize {
        self.head_len + self.rest.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.head[..self.head_len].iter().chain(&self.rest)
    }

    pub(crate) fn push(&mut self, e: Entry) {
        if self.head_len < INLINE {
            self.head[self.head_len] = e;
            self.head_len += 1;
        } else {
            self.rest.push(e);
        }
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.head[..self.head_len].iter_mut().chain(&mut self.rest)
    }

    pub(crate) fn get_mut(&mut self, key: u64) -> Option<&mut Entry> {
        self.iter_mut().find(|e| e.key == key)
    }

    /// Changes an entry's owner, keeping `unowned` right.
    pub(crate) fn set_owner(&mut self, key: u64, owner: Owner) {
        let Some(e) = self.get_mut(key) else { return };
        let was = e.owner != Owner::Process;
        e.owner = owner;
        let is = owner != Owner::Process;
        self.unowned = self.unowned + usize::from(is) - usize::from(was);
    }

    pub(crate) fn remove(&mut self, key: u64) {
        let Some(e) = self.get_mut(key) else { return };
        let (owned, channel) = (e.owner == Owner::Process, e.channel);
        self.unowned -= usize::from(!owned);
        close_channel(channel);
        if let Some(i) = self.head[..self.head_len].iter().position(|e| e.key == key) {
            // Refill the hole from the end (the heap part first, keeping `head` full).
            let last = match self.rest.pop() {
                Some(e) => e,
                None => {
                    self.head_len -= 1;
                    self.head[self.head_len]
                }
            };
            self.head[i] = last;
        } else if let Some(i) = self.rest.iter().position(|e| e.key == key) {
            self.rest.swap_remove(i);
        }
    }

    pub(crate) fn take(&mut self) -> Vec<Entry> {
        let all = self.iter().copied().collect();
        self.head_len = 0;
        self.rest.clear();
        self.unowned = 0;
        all
    }
}

/// Closes an entry's channel duplicate (if it has one).
pub(crate) fn close_channel(channel: RawFd) {
    if channel >= 0 {
        // SAFETY: the entry's own duplicate, closed once, with the entry.
        drop(unsafe { OwnedFd::from_raw_fd(channel) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_spills_to_the_heap_and_removes_anywhere() {
        let mut l = List {
            head: [NONE; INLINE],
            head_len: 0,
            rest: Vec::new(),
            unowned: 0,
        };
        let pids: Vec<Pid> = (1..=INLINE as i32 + 5).map(Pid::from_raw).collect();
        for &pid in &pids {
            l.push(Entry {
                pid,
                key: pid.as_raw() as u64,
                ..NONE
            });
        }
        assert_eq!(l.len(), pids.len());
        for &gone in &[pids[0], pids[INLINE + 2], pids[3], Pid::from_raw(999)] {
            l.remove(gone.as_raw() as u64);
        }
        let mut left: Vec<i32> = l.iter().map(|e| e.pid.as_raw()).collect();
        left.sort();
        let want: Vec<i32> = (1..=INLINE as i32 + 5)
            .filter(|p| ![1, INLINE as i32 + 3, 4].contains(p))
            .collect();
        assert_eq!(left, want);
        l.set_owner(5, Owner::Dropped);
        l.set_owner(6, Owner::Reaped { code: 0 });
        l.set_owner(6, Owner::Reaped { code: 1 });
        assert_eq!(l.unowned, 2);
        l.remove(5);
        l.set_owner(6, Owner::Process);
        assert_eq!(l.unowned, 0);
        assert_eq!(l.take().len(), want.len() - 1);
        assert_eq!(l.len(), 0);
    }
}
