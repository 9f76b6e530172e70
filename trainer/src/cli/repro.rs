//! `gyrus repro`: the papers' claims, one command each (`list`, `plan`, `run`, `status`, `report`).
//! The specs and what the report measures: [`crate::repro`].

use super::sweep::{check_backend, run_local, submit, Backend, SlurmArgs};
use crate::repro::report::now_s;
use crate::repro::{self, Overrides, Plan, Record, Spec, SESSIONS_FILE};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `gyrus repro`.
#[derive(Args, Debug)]
pub struct ReproArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ReproCommand,
}

/// Plan changes shared by `plan` and `run`.
#[derive(Args, Debug, Default, Clone)]
pub struct PlanArgs {
    /// The scale: `cpu` (fits a 2-core machine) or `paper` (the papers' setting, for a GPU or a
    /// cluster).
    #[arg(long, default_value = "cpu")]
    pub scale: String,
    /// Seeds instead of the scale's (grid syntax: 1..3 or 1,4,7).
    #[arg(long, value_name = "SEEDS")]
    pub seeds: Option<String>,
    /// Single-valued grid axes applied to every run, e.g. 'steps=1000; eval_trials=32' (a smaller
    /// budget; recorded and printed by the report).
    #[arg(long, value_name = "SPEC")]
    pub set: Option<String>,
    /// Only these arms (comma-separated names, see `gyrus repro plan NAME`).
    #[arg(long, value_name = "ARMS", value_delimiter = ',')]
    pub only: Vec<String>,
}

impl PlanArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            seeds: self.seeds.clone(),
            set: self.set.clone(),
            only: self.only.clone(),
        }
    }

    fn given(&self) -> bool {
        self.scale != "cpu" || !self.overrides().is_empty()
    }
}

/// Subcommands of `gyrus repro`.
#[derive(Subcommand, Debug)]
pub enum ReproCommand {
    /// The reproductions: name, source, claim and the size of each scale.
    List {
        /// A markdown table (the README's).
        #[arg(long)]
        markdown: bool,
    },
    /// The runs a reproduction trains at a scale.
    Plan {
        /// A reproduction name (`gyrus repro list`) or a spec file (.toml).
        name: String,
        /// Scale and changes.
        #[command(flatten)]
        plan: PlanArgs,
        /// Print the spec's TOML instead.
        #[arg(long)]
        spec: bool,
    },
    /// Trains a reproduction into a folder (a sweep folder plus repro.json); rerun to continue it.
    Run(RunArgs),
    /// Finished, started, failed and pending runs of a reproduction folder.
    Status {
        /// The reproduction folder.
        dir: PathBuf,
    },
    /// The table (mean +- sd over seeds, seeds and steps run, wall time), the figures, the loss
    /// spikes of a reproduction folder, from whatever has finished.
    Report {
        /// The reproduction folder.
        dir: PathBuf,
        /// Where report.md and the figures go [default: DIR/report].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Arguments of `gyrus repro run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// A reproduction name (`gyrus repro list`) or a spec file (.toml); leave out to continue the
    /// reproduction in --out.
    pub name: Option<String>,
    /// The reproduction folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Scale and changes.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Where the runs are trained.
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    /// Runs trained at once (local backend; default: the number of cores).
    #[arg(long, value_name = "K")]
    pub jobs: Option<usize>,
    /// Device of the local backend's runs (cpu, cuda, cuda:N); default: $GYRUS_DEVICE, else cpu.
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// The gyrus binary that trains each run (default: this one).
    #[arg(long, value_name = "PATH")]
    pub gyrus: Option<PathBuf>,
    /// Options of the Slurm backend.
    #[command(flatten)]
    pub slurm: SlurmArgs,
}

/// Runs `gyrus repro`.
pub fn run(args: ReproArgs) -> Result<()> {
    match args.command {
        ReproCommand::List { markdown } => {
            print!("{}", list(markdown)?);
            Ok(())
        }
        ReproCommand::Plan { name, plan, spec } => {
            let (s, text) = Spec::find(&name)?;
            if spec {
                print!("{text}");
                return Ok(());
            }
            let p = Plan::new(&s, &text, &plan.scale, &plan.overrides())?;
            print!("{}", describe(&s, &p));
            Ok(())
        }
        ReproCommand::Run(a) => run_repro(a),
        ReproCommand::Status { dir } => {
            Record::load(&dir)?;
            super::sweep::sweep_status(&dir)
        }
        ReproCommand::Report { dir, out } => {
            let out = out.unwrap_or_else(|| dir.join("report"));
            let md = repro::report::write(&dir, &out)?;
            print!("{md}");
            eprintln!("wrote {}", out.join("report.md").display());
            Ok(())
        }
    }
}

/// One scale of a plan in a few words: `6 conditions x 3 seeds = 18 runs, 5000 steps, 16x16-32x32`.
fn summary(p: &Plan) -> String {
    let mut sheets: Vec<(usize, String)> = p
        .runs
        .iter()
        .map(|r| {
            let s = r.config.net.sheet;
            (s.rows * s.cols, format!("{}x{}", s.rows, s.cols))
        })
        .collect();
    sheets.sort();
    sheets.dedup();
    let mut tasks: Vec<&str> = p.runs.iter().map(|r| r.config.tasks.as_str()).collect();
    tasks.sort_unstable();
    tasks.dedup();
    format!(
        "{} conditions x {} seeds = {} runs, {} steps, {} on {}",
        p.conditions.len(),
        p.seeds.len(),
        p.runs.len(),
        p.steps_text(),
        sheets
            .iter()
            .map(|s| s.1.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        tasks.join(" and ")
    )
}

/// `gyrus repro list`: plain or as the README's markdown table.
pub fn list(markdown: bool) -> Result<String> {
    let mut out = String::new();
    if markdown {
        out += "| claim | reproduction | source | `--scale cpu` | `--scale paper` |\n|---|---|---|---|---|\n";
    }
    for (i, (s, text)) in Spec::builtin()?.iter().enumerate() {
        let cpu = Plan::new(s, text, "cpu", &Overrides::default())?;
        let paper = Plan::new(s, text, "paper", &Overrides::default())?;
        if markdown {
            out += &format!(
                "| {} | `{}` | {} | {} | {} |\n",
                i + 1,
                s.name,
                s.source,
                summary(&cpu),
                summary(&paper)
            );
        } else {
            out += &format!(
                "{}  ({})\n  {}\n  cpu:   {}\n  paper: {}\n",
                s.name,
                s.source,
                s.claim,
                summary(&cpu),
                summary(&paper)
            );
        }
    }
    Ok(out)
}

fn describe(s: &Spec, p: &Plan) -> String {
    let mut out = format!(
        "{} ({}), scale {}: {}\n",
        s.name,
        s.source,
        p.scale,
        summary(p)
    );
    if let Some(n) = s.scale.get(&p.scale).and_then(|x| x.note.as_ref()) {
        out += &format!("note: {n}\n");
    }
    out += "conditions:\n";
    for (i, c) in p.conditions.iter().enumerate() {
        let r = p
            .runs
            .iter()
            .find(|r| r.condition == i)
            .expect("every condition has runs");
        let sh = r.config.net.sheet;
        out += &format!(
            "  {:<36} arm {:<10} {} {}x{} {} steps{}\n",
            c.label,
            c.arm,
            r.config.net.family_label(),
            sh.rows,
            sh.cols,
            r.config.steps,
            c.paper
                .as_ref()
                .map_or(String::new(), |x| format!("  (paper: {x})"))
        );
    }
    out += &format!(
        "runs (seed first): {} ... {}\n",
        p.runs[0].name,
        p.runs[p.runs.len() - 1].name
    );
    out
}

fn run_repro(a: RunArgs) -> Result<()> {
    check_backend(a.backend, &a.slurm, a.jobs)?;
    let record = match &a.name {
        Some(name) => {
            let (spec, text) = Spec::find(name)?;
            Plan::new(&spec, &text, &a.plan.scale, &a.plan.overrides())?;
            Some(Record {
                name: spec.name,
                scale: a.plan.scale.clone(),
                overrides: a.plan.overrides(),
                spec: text,
            })
        }
        None if a.plan.given() => bail!(
            "--scale, --seeds, --set and --only go with a reproduction name; to continue {} \
             leave them out",
            a.out.display()
        ),
        None => None,
    };
    let (record, plan, m) = repro::prepare(&a.out, record.as_ref())?;
    eprintln!(
        "reproduction {} at scale {}{}: {} in {}",
        record.name,
        record.scale,
        if record.overrides.is_empty() {
            String::new()
        } else {
            format!(" ({})", record.overrides.describe())
        },
        summary(&plan),
        a.out.display()
    );
    if let Some(d) = &a.device {
        if a.backend == Backend::Slurm {
            bail!("--device is for the local backend; with Slurm use --gpus-per-task");
        }
        // The children (`gyrus train`) read it.
        std::env::set_var("GYRUS_DEVICE", d);
    }
    match a.backend {
        Backend::Slurm => submit(&a.out, &m, &a.slurm, a.gyrus),
        Backend::Local => {
            let id = format!("{}-{}", std::process::id(), now_s());
            session(
                &a.out,
                serde_json::json!({"session": id, "start": now_s(), "jobs": a.jobs}),
            )?;
            let r = run_local(&a.out, &m, a.jobs, a.gyrus, "gyrus repro run --out");
            session(
                &a.out,
                serde_json::json!({"session": id, "end": now_s(), "ok": r.is_ok()}),
            )?;
            r?;
            eprintln!(
                "done; the tables and figures: gyrus repro report {}",
                a.out.display()
            );
            Ok(())
        }
    }
}

/// Appends one line to the reproduction's session log.
fn session(dir: &Path, line: serde_json::Value) -> Result<()> {
    let path = dir.join(SESSIONS_FILE);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(f, "{line}").with_context(|| format!("writing {}", path.display()))
}
