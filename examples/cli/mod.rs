//! What every example's `main` shares: turning the result of its run into an exit code.
//! (A folder, not `examples/cli.rs`, so cargo does not take it for an example of its own.)

use std::error::Error;
use std::process::ExitCode;

/// The exit code for `result`: its own on success; 0 when a reader closed the output early
/// (`| head` has seen enough, which is no failure); 2 for a flag that cannot work
/// (`descent::train::Error::Usage`), else 1, after `name: error` on stderr.
pub fn finish(name: &str, result: Result<ExitCode, Box<dyn Error>>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        // A flag that cannot work, found after parsing: exit code 2, as clap's own.
        Err(e) if matches!(e.downcast_ref(), Some(descent::train::Error::Usage(_))) => {
            eprintln!("{name}: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &(dyn Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
