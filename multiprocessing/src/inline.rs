//! Values kept inline when small: a [`Process`](crate::Process) that never allocates.
//!
//! Why: after a fork the parent's heap pages are write-protected, and `free` writes the
//! freed chunk, its neighbour and the allocator's arena: a start+join that allocates
//! (then frees) the default name `Process-N` and a boxed target pays about three faults
//! in the parent, each a page copy. Both are inline here when they fit.

use std::fmt;
use std::mem::{MaybeUninit, align_of, size_of};
use std::ops::{Deref, DerefMut};

/// A string of at most `INLINE_STR` bytes stored in place, or a `String`.
pub(crate) enum Str {
    Inline { len: u8, bytes: [u8; INLINE_STR] },
    Heap(String),
}

const INLINE_STR: usize = 38;

impl Str {
    /// `parts` concatenated (inline when they fit).
    pub(crate) fn concat(parts: &[&str]) -> Str {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > INLINE_STR {
            return Str::Heap(parts.concat());
        }
        let mut bytes = [0u8; INLINE_STR];
        let mut at = 0;
        for p in parts {
            bytes[at..at + p.len()].copy_from_slice(p.as_bytes());
            at += p.len();
        }
        Str::Inline {
            len: len as u8,
            bytes,
        }
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            // SAFETY: the bytes were copied from `&str`s whole (see `concat`).
            Str::Inline { len, bytes } => unsafe {
                std::str::from_utf8_unchecked(&bytes[..*len as usize])
            },
            Str::Heap(s) => s,
        }
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str::Heap(s)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

/// Words of a [`Small`] value stored in place.
const WORDS: usize = 4;

/// A `Box<D>` (`D` a trait object) that keeps a value of at most `WORDS` words, aligned
/// to at most a word, in place.
pub(crate) enum Small<D: ?Sized> {
    Inline {
        buf: MaybeUninit<[usize; WORDS]>,
        /// The buffer's address as a `*mut D` (the cast of the concrete type's pointer).
        as_dyn: unsafe fn(*mut u8) -> *mut D,
    },
    Heap(Box<D>),
}

// SAFETY: a `Small<D>` owns its value as a `Box<D>` does.
unsafe impl<D: ?Sized + Send> Send for Small<D> {}

impl<D: ?Sized> Small<D> {
    /// `value` in place if it fits, else `boxed(value)`. `as_dyn` casts a pointer to `T`
    /// (given as `*mut u8`) to `*mut D`; `boxed` makes the box.
    pub(crate) fn new<T>(
        value: T,
        as_dyn: unsafe fn(*mut u8) -> *mut D,
        boxed: fn(T) -> Box<D>,
    ) -> Small<D> {
        if size_of::<T>() > size_of::<[usize; WORDS]>() || align_of::<T>() > align_of::<usize>() {
            return Small::Heap(boxed(value));
        }
        let mut buf = MaybeUninit::<[usize; WORDS]>::uninit();
        // SAFETY: `T` fits the buffer and its alignment (checked above).
        unsafe { buf.as_mut_ptr().cast::<T>().write(value) };
        Small::Inline { buf, as_dyn }
    }

    fn ptr(&self) -> *mut D {
        match self {
            // SAFETY: `as_dyn` is the cast for the type written into `buf`.
            Small::Inline { buf, as_dyn } => unsafe { as_dyn(buf.as_ptr().cast_mut().cast()) },
            Small::Heap(b) => (&**b as *const D).cast_mut(),
        }
    }
}

impl<D: ?Sized> Deref for Small<D> {
    type Target = D;
    fn deref(&self) -> &D {
        // SAFETY: points to the live value owned by `self`.
        unsafe { &*self.ptr() }
    }
}

impl<D: ?Sized> DerefMut for Small<D> {
    fn deref_mut(&mut self) -> &mut D {
        // SAFETY: as `deref`, borrowed mutably through `self`.
        unsafe { &mut *self.ptr() }
    }
}

impl<D: ?Sized> Drop for Small<D> {
    fn drop(&mut self) {
        if let Small::Inline { .. } = self {
            // SAFETY: the inline value is live and dropped once, here.
            unsafe { std::ptr::drop_in_place(self.ptr()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    trait Speak {
        fn speak(&self) -> String;
    }
    impl<T: fmt::Debug> Speak for T {
        fn speak(&self) -> String {
            format!("{self:?}")
        }
    }

    fn small<T: fmt::Debug + 'static>(v: T) -> Small<dyn Speak> {
        Small::new(v, |p| p.cast::<T>() as *mut dyn Speak, |v| Box::new(v))
    }

    #[test]
    fn small_values_stay_inline_large_ones_are_boxed_both_drop() {
        let rc = Rc::new(5);
        let a = small(Rc::clone(&rc));
        let b = small([
            Rc::clone(&rc),
            Rc::clone(&rc),
            Rc::clone(&rc),
            Rc::clone(&rc),
            rc.clone(),
        ]);
        assert!(matches!(a, Small::Inline { .. }));
        assert!(matches!(b, Small::Heap(_)));
        assert_eq!(a.speak(), "5");
        let moved = a; // moving the inline value keeps it valid
        assert_eq!(moved.speak(), "5");
        assert_eq!(Rc::strong_count(&rc), 7);
        drop(moved);
        drop(b);
        assert_eq!(Rc::strong_count(&rc), 1);
    }

    #[test]
    fn strings_inline_when_short() {
        let s = Str::concat(&["Process-", "1:", "12"]);
        assert!(matches!(s, Str::Inline { .. }));
        assert_eq!(&*s, "Process-1:12");
        let long = "é".repeat(30);
        let l = Str::concat(&["Process-", &long]);
        assert!(matches!(l, Str::Heap(_)));
        assert_eq!(&*l, format!("Process-{long}"));
    }
}
