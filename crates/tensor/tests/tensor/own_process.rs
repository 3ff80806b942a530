//! Runs a test in a process of its own, for tests of process-wide state (the global thread
//! pool, the buffer pool's counters) that tests running beside it in this binary would disturb.
//! The other crates' test binaries include this file too.

use std::process::Command;

const CHILD: &str = "DESCENT_TEST_OWN_PROCESS";

/// True in the child, which then runs the test's body. In the parent (the ordinary `cargo
/// test` run), re-runs this test binary on the test `path` alone (`module::test_name`), panics
/// unless it passed, and returns false.
pub fn in_own_process(path: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([path, "--exact", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{path} in its own process:\n{stdout}\n{stderr}"
    );
    false
}
