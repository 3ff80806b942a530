//! What the tests that run the example binaries share: finding a binary, running it, and a
//! scratch directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The example's binary, `target/<profile>/examples/<name>`, beside this test's
/// `target/<profile>/deps/`. `cargo test` builds every example before it runs the tests,
/// so a missing one means the tests were selected without the examples (`--test descent`).
pub(crate) fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps/");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "the example binary {} is missing: run `cargo test` without a target filter, or \
         `cargo build --examples` with this profile first",
        path.display()
    );
    path
}

/// The example with `args`, on one kernel thread: the tests already run side by side.
pub(crate) fn command(name: &str, args: &[&str]) -> Command {
    let mut command = Command::new(example(name));
    command.args(args).env("RAYON_NUM_THREADS", "1");
    command
}

/// Runs the example with `args` on one kernel thread and waits for it.
pub(crate) fn run(name: &str, args: &[&str]) -> Output {
    command(name, args)
        .output()
        .unwrap_or_else(|e| panic!("{name} {args:?} does not start: {e}"))
}

/// Output bytes as text, for assertions and their messages.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory for one test, unique to `name` and this process.
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("descent-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
