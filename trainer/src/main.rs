//! `gyrus`: the command-line trainer. See `gyrus --help`.
fn main() -> std::process::ExitCode {
    gyrus_trainer::cli::main()
}
