//! The `gyrus` command line: one file per subcommand, plus [`select`] (options several
//! subcommands share) and [`dynamics`] (the `analyze graph | fixed-points | compare`
//! subcommands of [`analyze`]).
//!
//! To add a subcommand: create `cli/<name>.rs` with an `Args` struct and a `run` function, add
//! `pub mod <name>;`, a variant to [`Command`] and an arm to [`run`].
//! Shared options (task selection, generator settings) live in [`select`].
use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod analyze;
pub mod bench;
pub mod deploy;
pub mod dynamics;
pub mod eval;
pub mod export;
pub mod import;
pub mod inspect;
pub mod plot;
pub mod repro;
pub mod select;
pub mod sweep;
pub mod tasks;
pub mod train;

/// `gyrus`: grows sparse, locally wired recurrent networks on cognitive tasks.
#[derive(Parser, Debug)]
#[command(name = "gyrus", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Cognitive tasks: list them, draw a trial, dump a training batch for NumPy.
    Tasks(tasks::TasksArgs),
    /// Speed measurements against a baseline measured in the same run.
    Bench(bench::BenchArgs),
    /// Train a network (or resume a run).
    Train(train::TrainArgs),
    /// Per-task performance of a run.
    Eval(eval::EvalArgs),
    /// Figures from run folders.
    Plot(plot::PlotArgs),
    /// Prune a run's network and write the model blob for the runtime (or a PyTorch state dict).
    Export(export::ExportArgs),
    /// Turn weights trained elsewhere (PyTorch, NumPy) into a run folder.
    Import(import::ImportArgs),
    /// Describe a model blob and draw its connectivity on the sheet.
    Inspect(inspect::InspectArgs),
    /// Measures of a trained run: task variance, functional clusters, modularity on the sheet.
    Analyze(analyze::AnalyzeArgs),
    /// Train a grid of configs (resumable), and show its status.
    Sweep(sweep::SweepArgs),
    /// Reproduce the papers' claims: list, plan, run (resumable, local or Slurm), report.
    Repro(repro::ReproArgs),
    /// Event-driven execution and a tiled many-core mesh simulator.
    Deploy(deploy::DeployArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Tasks(args) => tasks::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Export(args) => export::run(args),
        Command::Import(args) => import::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Repro(args) => repro::run(args),
        Command::Deploy(args) => deploy::run(args),
    }
}

/// Parses the command line, runs the subcommand, and turns an error into a message and exit code 1
/// (usage errors exit with code 2, from clap; a training stopped by a signal after its checkpoint
/// with 128 + the signal's number).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // Stopped by a signal after a checkpoint: exit as shells expect (128 + signal).
            match e.downcast_ref::<crate::train::run::Interrupted>() {
                Some(i) => ExitCode::from((128 + i.signal).clamp(1, 255) as u8),
                None => ExitCode::FAILURE,
            }
        }
    }
}
