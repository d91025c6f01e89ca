//! Property tests of the query options: hostile input never panics, never overflows the stack and always
//! answers `Ok` or a `QueryError`; inputs past a limit get the error that names it; the printer and the
//! parser agree (`parse(print(ast)) == ast`); evaluation and sorting never panic.
//!
//! Each property runs a modest number of cases in the normal test run (see [`config`]); run them longer with
//! `PROPTEST_CASES=10000 cargo test -p rosterflow-odata --test properties`. Failures are not persisted to
//! files: each bug found is kept as a plain unit test next to its fix.

mod filter;
mod query;
mod search;
mod strategies;

use proptest::test_runner::Config;

/// `cases` unless `PROPTEST_CASES` says otherwise; no failure files.
pub fn config(cases: u32) -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c
}

/// The stack of the threads the deep cases run on: small, so that a parser or walk whose recursion is not
/// bounded crashes the test binary here instead of passing by luck of a big main-thread stack.
pub const SMALL_STACK: usize = 256 * 1024;

/// Runs `f` on a fresh thread with a [`SMALL_STACK`]. A stack overflow aborts the whole test binary.
pub fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("spawn a test thread")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
