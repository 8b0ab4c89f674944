//! The constructors: a closure or a non-serializable [`Run`] object (fork only), a `fn`
//! with serializable arguments or a serializable [`Run`] object (any start method).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::body::Run;
use crate::body::{Body, FnArgs, RunObject, encode_value, local, portable};
use crate::error::{Error, Result};
use crate::process::Process;
use crate::process::kind::{ForkOnly, Portable};
use crate::start_method::StartMethod;

fn is_unit<R: 'static>() -> bool {
    std::any::TypeId::of::<R>() == std::any::TypeId::of::<()>()
}

pub(crate) fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

impl Process<ForkOnly> {
    /// A process running a closure (Python: `Process(target=f, args=(…))`, the args
    /// captured). Closures cannot cross an `exec`, so this process always forks.
    ///
    /// ```
    /// use multiprocessing::Process;
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let name = "egon";
    /// let mut p = Process::new(move || println!("{name} piaoing"));
    /// p.start()?;
    /// assert_eq!(p.join()?, 0);
    /// # Ok(()) }
    /// ```
    pub fn new<F, R>(target: F) -> Self
    where
        F: FnOnce() -> R + Send + 'static,
        R: Serialize + 'static,
    {
        Self::build(
            "Process",
            Body::Local(local(move || encode_value(&target()))),
            is_unit::<R>(),
        )
    }

    /// A process running a [`Run`] object that is not serializable (fork only); the default
    /// name is `TypeName-N`. See [`Process::from_run`] for the portable form.
    ///
    /// ```
    /// use multiprocessing::{Process, Run};
    ///
    /// struct Task {
    ///     job: Box<dyn FnMut() + Send>, // a closure: not serializable, fork only
    /// }
    ///
    /// impl Run for Task {
    ///     fn run(&mut self) {
    ///         (self.job)();
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::from_run_local(Task { job: Box::new(|| println!("egon piaoing")) });
    /// assert!(p.name().starts_with("Task-"));
    /// p.start()?;
    /// assert_eq!(p.join()?, 0);
    /// # Ok(()) }
    /// ```
    pub fn from_run_local<T: Run + Send + 'static>(mut obj: T) -> Self {
        let body = Body::Local(local(move || {
            obj.run();
            Ok(Vec::new())
        }));
        Self::build(short_type_name::<T>(), body, true)
    }
}

impl Process<Portable> {
    /// A process running `target(args)`, with any start method. `target` is a `fn` (or a
    /// closure that captures nothing) and `args` is serializable, so both can reach a
    /// spawned child; several arguments go in a tuple.
    pub fn with_args<A, R>(target: fn(A) -> R, args: A) -> Self
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
    {
        Self::build(
            "Process",
            Body::Portable(portable(FnArgs { target, args })),
            is_unit::<R>(),
        )
        .with_start_method(crate::start_method::default_method())
    }

    /// The "subclass" way: a process whose body is `obj.run()`, default name `TypeName-N`.
    ///
    /// ```
    /// use multiprocessing::{Process, Run};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize)]
    /// struct Piao {
    ///     name: String,
    /// }
    ///
    /// impl Run for Piao {
    ///     fn run(&mut self) {
    ///         println!("{} piaoing", self.name);
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::from_run(Piao { name: "egon".into() });
    /// assert!(p.name().starts_with("Piao-"));
    /// p.start()?; // start calls run in the child
    /// p.join()?;
    /// # Ok(()) }
    /// ```
    pub fn from_run<T>(obj: T) -> Self
    where
        T: Run + Serialize + DeserializeOwned + Send + 'static,
    {
        Self::build(
            short_type_name::<T>(),
            Body::Portable(portable(RunObject(obj))),
            true,
        )
        .with_start_method(crate::start_method::default_method())
    }

    /// Chooses the start method; only before `start` ("process has already started"
    /// after). The default is the process-wide method ([`set_start_method`](crate::set_start_method),
    /// fork unless set); this sets it for one process.
    ///
    /// ```
    /// use multiprocessing::{Process, StartMethod};
    ///
    /// fn work(n: i64) -> i64 {
    ///     n * 2
    /// }
    ///
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init(); // a spawned child runs `work` here and exits
    /// for method in StartMethod::ALL {
    ///     let mut p = Process::with_args(work, 21);
    ///     p.set_start_method(method)?;
    ///     p.start()?;
    ///     p.join()?;
    ///     assert_eq!(p.result::<i64>()?, 42);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn set_start_method(&mut self, method: StartMethod) -> Result<()> {
        if self.started || self.closed {
            return Err(Error::AlreadyStarted);
        }
        self.method = method;
        Ok(())
    }

    /// Builder form of [`set_start_method`](Process::set_start_method).
    ///
    /// ```
    /// use multiprocessing::{Process, StartMethod};
    /// # fn piao(_: String) {}
    /// let _guard = multiprocessing::init();
    /// let p = Process::with_args(piao, "egon".into()).with_start_method(StartMethod::Spawn);
    /// assert_eq!(p.start_method(), StartMethod::Spawn);
    /// ```
    #[must_use]
    pub fn with_start_method(mut self, method: StartMethod) -> Self {
        self.method = method;
        self
    }
}
