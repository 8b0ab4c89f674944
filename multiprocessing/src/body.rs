//! What a child runs: a local closure (fork only) or a `fn` plus serializable arguments
//! (any start method), and how the latter crosses an `exec`.
//!
//! A spawned child is a fresh exec of the same binary, so code addresses differ by the ASLR
//! slide only: a function is sent as its offset from [`anchor`], and the child adds its own
//! `anchor` address back. The offset of a second known function is sent as a check that both
//! sides run the same binary layout.

use std::any::TypeId;
use std::mem::ManuallyDrop;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::inline::Small;

/// The body of a process defined as a type, the "subclass" way of the lesson
/// (`class Piao(Process): def run(self): …`). See [`Process::from_run`](crate::Process::from_run).
pub trait Run {
    /// What the child does; `start` calls it in the child.
    fn run(&mut self);
}

/// What a body produces: the serialized return value, or why it could not run.
pub(crate) type Produced = Result<Vec<u8>, String>;

/// A trampoline, monomorphized per argument/return type, that decodes the arguments, calls
/// the target at the given address, and encodes its value.
pub(crate) type Trampoline = fn(usize, &[u8]) -> Produced;

/// Serializes a return value; `()` is sent as nothing at all.
pub(crate) fn encode_value<R: Serialize + 'static>(value: &R) -> Produced {
    if TypeId::of::<R>() == TypeId::of::<()>() {
        return Ok(Vec::new());
    }
    serde_json::to_vec(value).map_err(|e| format!("cannot encode the return value: {e}"))
}

/// A body that can be sent to another process image.
pub(crate) trait Portable: Send {
    /// Runs the body in this address space (fork child), moving it out of its box without
    /// writing to the box: a write (or a free) would copy a heap page shared with the parent.
    ///
    /// # Safety
    /// At most once, and the body is neither used nor dropped afterwards.
    unsafe fn call_in_place(&mut self) -> Produced;
    /// The trampoline and target addresses.
    fn entry(&self) -> (Trampoline, usize);
    /// The serialized arguments (or object).
    fn args(&self) -> Result<Vec<u8>, String>;
}

/// `fn(A) -> R` plus its arguments.
pub(crate) struct FnArgs<A, R> {
    pub(crate) target: fn(A) -> R,
    pub(crate) args: A,
}

fn call_fn<A: DeserializeOwned, R: Serialize + 'static>(target: usize, args: &[u8]) -> Produced {
    // SAFETY: `target` was produced from a `fn(A) -> R` of this same binary (checked by the
    // layout check in `Payload::decode`) and relocated by this process's ASLR slide.
    let f = unsafe { std::mem::transmute::<usize, fn(A) -> R>(target) };
    let a: A =
        serde_json::from_slice(args).map_err(|e| format!("cannot decode the arguments: {e}"))?;
    encode_value(&f(a))
}

impl<A, R> Portable for FnArgs<A, R>
where
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + 'static,
{
    unsafe fn call_in_place(&mut self) -> Produced {
        // SAFETY: the caller never uses nor drops `self` again, so `args` is moved once.
        let args = unsafe { std::ptr::read(&self.args) };
        encode_value(&(self.target)(args))
    }
    fn entry(&self) -> (Trampoline, usize) {
        (call_fn::<A, R>, self.target as usize)
    }
    fn args(&self) -> Result<Vec<u8>, String> {
        serde_json::to_vec(&self.args).map_err(|e| e.to_string())
    }
}

/// A [`Run`] object that is itself serializable.
pub(crate) struct RunObject<T>(pub(crate) T);

fn call_run<T: Run + DeserializeOwned>(_: usize, args: &[u8]) -> Produced {
    let mut obj: T =
        serde_json::from_slice(args).map_err(|e| format!("cannot decode the object: {e}"))?;
    obj.run();
    Ok(Vec::new())
}

impl<T> Portable for RunObject<T>
where
    T: Run + Serialize + DeserializeOwned + Send + 'static,
{
    unsafe fn call_in_place(&mut self) -> Produced {
        self.0.run();
        Ok(Vec::new())
    }
    fn entry(&self) -> (Trampoline, usize) {
        (call_run::<T>, 0)
    }
    fn args(&self) -> Result<Vec<u8>, String> {
        serde_json::to_vec(&self.0).map_err(|e| e.to_string())
    }
}

/// A closure body (fork only), run in place like [`Portable::call_in_place`].
pub(crate) trait Local: Send {
    /// # Safety
    /// As [`Portable::call_in_place`].
    unsafe fn call_in_place(&mut self) -> Produced;
}

/// An `FnOnce` that can be moved out of its box without writing to the box.
struct InPlace<F>(ManuallyDrop<F>);

impl<F: FnOnce() -> Produced + Send> Local for InPlace<F> {
    unsafe fn call_in_place(&mut self) -> Produced {
        // SAFETY: the caller never uses nor drops `self` again, so `f` is moved once.
        let f = unsafe { ManuallyDrop::take(&mut self.0) };
        f()
    }
}

impl<F> Drop for InPlace<F> {
    fn drop(&mut self) {
        // SAFETY: a dropped body was never called (a called one is never dropped).
        unsafe { ManuallyDrop::drop(&mut self.0) }
    }
}

/// An `FnOnce` body, in place when small (see `inline`).
pub(crate) fn local<F: FnOnce() -> Produced + Send + 'static>(f: F) -> Small<dyn Local> {
    Small::new(
        InPlace(ManuallyDrop::new(f)),
        |p| p.cast::<InPlace<F>>() as *mut dyn Local,
        |v| Box::new(v),
    )
}

/// A portable body, in place when small (see `inline`).
pub(crate) fn portable<T: Portable + 'static>(body: T) -> Small<dyn Portable> {
    Small::new(
        body,
        |p| p.cast::<T>() as *mut dyn Portable,
        |v| Box::new(v),
    )
}

/// The body a [`Process`](crate::Process) carries until it starts.
pub(crate) enum Body {
    Local(Small<dyn Local>),
    Portable(Small<dyn Portable>),
}

impl Body {
    /// Runs the body in place.
    ///
    /// # Safety
    /// As [`Portable::call_in_place`]: once, and `self` is never used nor dropped after.
    #[inline] // into the fork child's code (see `start_method::fork::start`)
    pub(crate) unsafe fn run_in_place(&mut self) -> Produced {
        // SAFETY: forwarded from the caller.
        unsafe {
            match self {
                Body::Local(f) => f.call_in_place(),
                Body::Portable(p) => p.call_in_place(),
            }
        }
    }
}

/// The address every offset is relative to.
#[inline(never)]
fn anchor() {}

/// A second function whose offset both sides must agree on.
#[inline(never)]
fn layout_check() {}

fn offset(addr: usize) -> u64 {
    addr.wrapping_sub(anchor as fn() as usize) as u64
}

fn address(off: u64) -> usize {
    (anchor as fn() as usize).wrapping_add(off as usize)
}

/// Who a spawned or forkserver child is: everything but its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) daemon: bool,
    /// The target returns `()` (see `Spec::bounded`): the child cuts its final frame to
    /// fit a socket buffer, so a parent that reaps it before reading never blocks it.
    pub(crate) bounded: bool,
    /// The start method that creates the child (`StartMethod::code`).
    pub(crate) method: u8,
    pub(crate) parent_pid: i32,
    pub(crate) name: String,
    /// The prefix of the names of the child's own children.
    pub(crate) identity: String,
    pub(crate) parent_name: String,
}

/// Everything a spawned or forkserver child needs to become the process.
pub(crate) struct Payload {
    pub(crate) trampoline: Trampoline,
    pub(crate) target: usize,
    pub(crate) meta: Meta,
    pub(crate) args: Vec<u8>,
}

const MAGIC: &[u8; 4] = b"MPv2";

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

impl Payload {
    /// Length-prefixed encoding, ready to write.
    pub(crate) fn encode(portable: &dyn Portable, meta: &Meta) -> Result<Vec<u8>, String> {
        let (trampoline, target) = portable.entry();
        let args = portable.args()?;
        let mut out = Vec::with_capacity(
            64 + meta.name.len() + meta.identity.len() + meta.parent_name.len() + args.len(),
        );
        out.extend_from_slice(&[0; 4]); // total length, filled below
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&offset(layout_check as fn() as usize).to_le_bytes());
        out.extend_from_slice(&offset(trampoline as usize).to_le_bytes());
        out.extend_from_slice(&offset(target).to_le_bytes());
        out.push(u8::from(meta.daemon) | (u8::from(meta.bounded) << 1));
        out.push(meta.method);
        out.extend_from_slice(&meta.parent_pid.to_le_bytes());
        put(&mut out, meta.name.as_bytes());
        put(&mut out, meta.identity.as_bytes());
        put(&mut out, meta.parent_name.as_bytes());
        put(&mut out, &args);
        let total = (out.len() - 4) as u32;
        out[..4].copy_from_slice(&total.to_le_bytes());
        Ok(out)
    }

    /// Decodes what `encode` wrote (without its length prefix).
    pub(crate) fn decode(bytes: &[u8]) -> Result<Payload, String> {
        let mut r = Reader(bytes);
        if r.take(4)? != MAGIC {
            return Err("bad payload magic".into());
        }
        if r.u64()? != offset(layout_check as fn() as usize) {
            return Err("the spawned program is not the same binary as its parent".into());
        }
        let trampoline_off = r.u64()?;
        let target = address(r.u64()?);
        let flags = r.take(1)?[0];
        let method = r.take(1)?[0];
        let mut pid = [0u8; 4];
        pid.copy_from_slice(r.take(4)?);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let meta = Meta {
            daemon: flags & 1 != 0,
            bounded: flags & 2 != 0,
            method,
            parent_pid: i32::from_le_bytes(pid),
            name: text(r.field()?),
            identity: text(r.field()?),
            parent_name: text(r.field()?),
        };
        let args = r.field()?.to_vec();
        // SAFETY: the offset was computed from a `Trampoline` in the same binary (layout
        // checked above), so the relocated address is that function.
        let trampoline =
            unsafe { std::mem::transmute::<usize, Trampoline>(address(trampoline_off)) };
        Ok(Payload {
            trampoline,
            target,
            meta,
            args,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let (head, tail) = self
            .0
            .split_at_checked(n)
            .ok_or_else(|| "truncated payload".to_string())?;
        self.0 = tail;
        Ok(head)
    }
    fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
    fn field(&mut self) -> Result<&'a [u8], String> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        self.take(u32::from_le_bytes(b) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(n: i64) -> i64 {
        n * 2
    }

    #[test]
    fn payload_round_trips_and_calls_the_target() {
        let body = FnArgs {
            target: double as fn(i64) -> i64,
            args: 21,
        };
        let meta = Meta {
            daemon: true,
            bounded: true,
            method: 2,
            parent_pid: 4321,
            name: "egon".into(),
            identity: "1:".into(),
            parent_name: "MainProcess".into(),
        };
        let bytes = Payload::encode(&body, &meta).unwrap();
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len() - 4);
        let p = Payload::decode(&bytes[4..]).unwrap();
        assert_eq!(p.meta, meta);
        assert_eq!((p.trampoline)(p.target, &p.args), Ok(b"42".to_vec()));
    }

    #[test]
    fn a_damaged_payload_is_refused() {
        let body = FnArgs {
            target: double as fn(i64) -> i64,
            args: 1,
        };
        let meta = Meta {
            daemon: false,
            bounded: false,
            method: 3,
            parent_pid: 1,
            name: "n".into(),
            identity: String::new(),
            parent_name: String::new(),
        };
        let bytes = Payload::encode(&body, &meta).unwrap();
        assert!(Payload::decode(&bytes[4..bytes.len() - 1]).is_err());
        let mut wrong = bytes[4..].to_vec();
        wrong[4] ^= 1; // the layout check
        match Payload::decode(&wrong) {
            Err(why) => assert!(why.contains("not the same binary"), "{why}"),
            Ok(_) => panic!("a changed layout was accepted"),
        }
    }

    #[test]
    fn unit_values_are_sent_as_nothing() {
        assert_eq!(encode_value(&()), Ok(Vec::new()));
        assert_eq!(encode_value(&"a"), Ok(b"\"a\"".to_vec()));
    }
}
