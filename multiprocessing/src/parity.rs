//! Parity with CPython: its own tests of `Process`, ported.
//!
//! CPython's `Lib/test/_test_multiprocessing.py` is the yardstick. Every test of a
//! `Process` that means something in Rust is ported to `tests/cpython/` and runs once per
//! start method, as CPython runs it (`cargo test -p multiprocessing --test cpython`; each
//! Rust test's doc comment names the test it mirrors). Queues, pipes and connections,
//! pools, managers, locks and shared memory are not part of this crate, so their tests are
//! not listed. What CPython's suite does not check (a `Process` reaped for it by
//! [`active_children`](crate::active_children), dropped processes leaving no zombie, the
//! sentinel in a plain `poll`, a child printing while the standard streams are closed, a
//! child's end terminating its daemons and joining its other children) is
//! tested next to them, in `tests/cpython/own.rs`.
//!
//! | CPython test | Rust test | fork · spawn · forkserver |
//! |---|---|---|
//! | `_TestProcess.test_current` | `process::test_current` | passes (no `authkey`; the pid is the `ident`) |
//! | `_TestProcess.test_set_executable` | — | not portable: spawn executes this program again, there is no interpreter to choose |
//! | `_TestProcess.test_args_argument` | `process::test_args_argument` | passes |
//! | `_TestProcess.test_daemon_argument` | `process::test_daemon_argument` | passes |
//! | `_TestProcess.test_parent_process_attributes` | `process::test_parent_process_attributes` | passes |
//! | `_TestProcess.test_parent_process` | `process::test_parent_process` | passes |
//! | `_TestProcess.test_process` | `process::test_process` | passes (the child's view comes back as its return value, not through a queue) |
//! | `_TestProcess.test_process_mainthread_native_id` | `process::test_process_mainthread_native_id` | passes |
//! | `_TestProcess.test_interrupt` | — | not portable: it expects Python's `KeyboardInterrupt` (exit code 1); Rust has no such exception, SIGINT at its default action gives -2 (next row) |
//! | `_TestProcess.test_interrupt_no_handler` | `process_end::test_interrupt_no_handler` | passes (the child restores SIGINT's default action first, as CPython's `_sleep_no_int_handler`) |
//! | `_TestProcess.test_terminate` | `process_end::test_terminate` | passes (`join(-1)` left out: a `Duration` is never negative) |
//! | `_TestProcess.test_kill` | `process_end::test_kill` | passes (same) |
//! | `_TestProcess.test_cpu_count` | — | not portable: not a `Process` matter; Rust has `std::thread::available_parallelism` |
//! | `_TestProcess.test_active_children` | `process::test_active_children` | passes |
//! | `_TestProcess.test_recursion` | `process::test_recursion` | passes (ids written to a file instead of a pipe) |
//! | `_TestProcess.test_sentinel` | `process::test_sentinel` | passes |
//! | `_TestProcess.test_close` | `process::test_close` | passes; after `close`, `is_alive` returns `false` where Python raises (it returns a plain `bool`) |
//! | `_TestProcess.test_many_processes` | `process::test_many_processes` | passes (100 processes, 5 with spawn, as CPython) |
//! | `_TestProcess.test_lose_target_ref` | `process::test_lose_target_ref` | passes |
//! | `_TestProcess.test_child_fd_inflation` | `process_end::test_child_fd_inflation` | passes under spawn and forkserver; skipped under fork, as in CPython |
//! | `_TestProcess.test_wait_for_threads` | — | not portable: a Rust process ends its threads when its body returns (as when `main` returns); there are no non-daemonic threads to wait for |
//! | `_TestProcess.test_error_on_stdio_flush_1` | `process_end::test_error_on_stdio_flush_1` | passes (stdout or stderr a pipe nobody reads, or closed) |
//! | `_TestProcess.test_error_on_stdio_flush_2` | `process_end::test_error_on_stdio_flush_2` | passes |
//! | `_TestProcess.test_forkserver_sigint` | `process_end::test_forkserver_sigint` | passes (forkserver only, as in CPython) |
//! | `_TestProcess.test_forkserver_sigkill` | `process_end::test_forkserver_sigkill` | passes (forkserver only) |
//! | `_TestProcess.test_forkserver_auth_is_enabled`, `test_forkserver_without_auth_fails` | — | not portable: the zygote's control socket is a socket pair only the parent holds; it has no address, so no authentication key |
//! | `_TestSubclassingProcess.test_subclassing` | `subclass::test_subclassing` | passes (a [`Run`](crate::Run) type; its connection is a Unix socket path, since a `Pipe` object cannot cross spawn here) |
//! | `_TestSubclassingProcess.test_stderr_flush` | `subclass::test_stderr_flush` | passes (a panic instead of `ZeroDivisionError`) |
//! | `_TestSubclassingProcess.test_sys_exit` | `subclass::test_sys_exit` | passes; [`exit`](crate::exit) takes an integer, so for a non-integer reason the child prints it and exits 1 itself |
//! | `TestWait.test_wait` | `misc::test_wait` | passes (sentinels and return values instead of connections) |
//! | `TestWait.test_wait_integer` | `misc::test_wait_integer` | passes (1 s instead of 3) |
//! | `TestWait.test_wait_timeout` | `misc::test_wait_timeout` | passes |
//! | `TestWait.test_neg_timeout` | `misc::test_neg_timeout` | passes with a zero timeout (a `Duration` is never negative) |
//! | `TestWait.test_wait_slow`, `test_wait_socket`, `test_wait_socket_slow` | — | not ported: they test connections and sockets, not `Process`; [`wait`](crate::wait) takes any `AsFd` (`test_wait_integer` mixes sockets in) |
//! | `TestStartMethod.test_context` | `misc::test_context` | passes (a [`Context`](crate::Context) has no `set_start_method` to refuse: that does not compile) |
//! | `TestStartMethod.test_set_get` | `misc::test_set_get` | passes, and "context has already been set" |
//! | `TestStartMethod.test_get_all` | `misc::test_get_all` | passes |
//! | `TestStartMethod.test_preload_resources`, `test_mixed_startmethod` | — | not portable: Python module preloading, and queues |
//! | `TestNoForkBomb.test_noforkbomb` | `misc::test_noforkbomb` | passes: without [`init`](crate::init), spawn and forkserver refuse, fork works |
//! | `TestIgnoreEINTR.test_ignore` | `misc::test_ignore` | passes (`join` and `join_timeout` while the parent's handled signals interrupt its system calls); `test_ignore_listener` not ported (a `Listener`) |
//! | `TestStdinBadfiledescriptor.test_flushing` | `process_end::test_flushing` | passes (a buffered line is written once, not again by a fork child) |
//! | `Lib/multiprocessing/process.py`'s `_identity` (no test of its own) | `misc::test_default_names` | passes: `Process-N`, `Process-N:M` |
