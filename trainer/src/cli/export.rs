//! `gyrus export RUN_DIR --out model.gyrus [--threshold 1e-2] [--quantize int8] [--weights f32|int8|both]
//! [--layout auto|rows|diagonal]`: prunes the run's
//! network ([`crate::export`]), writes the blob, re-opens it, and reports sizes, measures and the
//! task performance of the unpruned network, the pruned network (trainer) and the blob (runtime),
//! all on the run's evaluation trials. With `--format torch` it writes the unpruned network as a
//! PyTorch state dict instead ([`crate::torch::state_dict`]; `.npz` for NumPy).

use crate::export::{self, build_model, prune, runtime_evaluate, Count};
use crate::train::eval::evaluate;
use crate::train::run::{eval_seed, Run};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use gyrus_runtime::format::{ModelView, RecLayout, Weights};
use gyrus_runtime::measure;
use gyrus_runtime::tasks::Score;
use std::path::{Path, PathBuf};

/// Weight quantisation of the exported blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Quantize {
    /// Quantise the weights to int8 (per-row f32 scale); the blob holds them next to the f32
    /// weights unless `--weights int8`.
    Int8,
}

/// What `gyrus export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The pruned model blob for the runtime and the firmware (`.gyrus`).
    Gyrus,
    /// The unpruned network as a PyTorch state dict: safetensors, or `.npz` by the file name
    /// (nn.RNN + nn.Linear names for alpha = 1, the leaky layout otherwise; mask, positions).
    Torch,
}

/// Which weights the blob holds (`--weights`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WeightsArg {
    /// The f32 weights only.
    F32,
    /// The int8 weights only (no f32 weight matrix: the smallest blob).
    Int8,
    /// Both (the firmware can run and compare both kernels).
    Both,
}

/// The layout of the f32 recurrent weights in the blob (`--layout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// Diagonals when they pay, else lane groups (`RecLayout::choose`: the diagonal weight slots
    /// at most 1.5 times the stored weights; a local mask with units in sheet order passes).
    Auto,
    /// Lane groups of rows, a column offset per weight (any mask).
    Rows,
    /// Diagonals of groups of 16 consecutive rows, no column index per weight (local masks).
    Diagonal,
}

/// Arguments of `gyrus export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The run folder.
    pub run: PathBuf,
    /// The file to write (`.gyrus`; with --format torch `.safetensors` or `.npz`).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// What to write.
    #[arg(long, value_enum, default_value = "gyrus")]
    pub format: Format,
    /// Prune weights with |w| <= this (W, W_in, W_out).
    #[arg(long, default_value_t = export::DEFAULT_THRESHOLD)]
    pub threshold: f32,
    /// Also store quantised weights.
    #[arg(long, value_enum)]
    pub quantize: Option<Quantize>,
    /// Which weights the blob holds (default: f32, or both with `--quantize int8`).
    #[arg(long, value_enum)]
    pub weights: Option<WeightsArg>,
    /// Layout of the f32 recurrent weights: `auto` picks diagonals for local masks in sheet order
    /// and lane groups otherwise.
    #[arg(long, value_enum, default_value = "auto")]
    pub layout: LayoutArg,
    /// Evaluation trials per task (default: the run's eval_trials).
    #[arg(long)]
    pub trials: Option<u32>,
    /// Use the initial network when the run folder has no checkpoint (without this flag, such a
    /// folder is refused: its network was never trained, or the checkpoint was lost).
    #[arg(long)]
    pub untrained: bool,
}

/// Mean task performance (last, strict).
pub type Perf = (f32, f32);

/// What `gyrus export` measured.
#[derive(Clone, Debug)]
pub struct ExportReport {
    /// Hidden units kept.
    pub units_kept: usize,
    /// Hidden units before pruning.
    pub units_total: usize,
    /// Recurrent, input and output connections.
    pub counts: [Count; 3],
    /// Blob length in bytes.
    pub bytes: usize,
    /// Trainer-side wiring length.
    pub wiring_length: f64,
    /// Trainer-side active connections.
    pub active_connections: u32,
    /// The unpruned network (trainer).
    pub unpruned: Perf,
    /// The pruned network (trainer).
    pub pruned: Perf,
    /// The blob (runtime, f32 weights), if it holds them.
    pub runtime: Option<Perf>,
    /// Per-task scores: pruned trainer evaluation and runtime evaluation (f32 weights).
    pub scores: (Vec<Score>, Option<Vec<Score>>),
    /// The blob with int8 weights (runtime), if quantised.
    pub int8: Option<Perf>,
    /// The layout of the f32 recurrent weights, if the blob holds them.
    pub layout: Option<RecLayout>,
}

/// Exports the run in `args.run` and measures it (what `gyrus export` prints).
pub fn export_run(args: &ExportArgs) -> Result<ExportReport> {
    let run = Run::open_trained(&args.run, args.untrained)?;
    let cfg = run.config();
    let net = run.network();
    let (seed, trials, gen) = (
        eval_seed(cfg.seed),
        args.trials.unwrap_or(cfg.eval_trials),
        cfg.generator(),
    );
    let weights = weights_of(args)?;
    let pruned = prune(net, args.threshold)?;
    let mut model = build_model(&pruned, run.tasks(), cfg.seed, weights)?;
    match args.layout {
        LayoutArg::Auto => {}
        LayoutArg::Rows => model.layout = RecLayout::Rows,
        LayoutArg::Diagonal => model.layout = RecLayout::Diagonal,
    }
    // Every limit checked and the blob opened before anything is written.
    let blob = model
        .to_bytes()
        .map_err(|e| anyhow::anyhow!("cannot export: {e}"))?;
    write_blob(&args.out, &blob)?;
    let view = ModelView::from_bytes(&blob)
        .map_err(|e| anyhow::anyhow!("the written blob does not open: {e}"))?;
    let m = measure::measure(&view);
    if view.has_f32()
        && (m.active_connections != model.active_connections
            || m.wiring_length != model.wiring_length)
    {
        bail!(
            "internal error: the runtime measures {} active connections / wiring length {}, the trainer {} / {}",
            m.active_connections, m.wiring_length, model.active_connections, model.wiring_length
        );
    }
    let unpruned = evaluate(net, run.tasks(), &gen, seed, trials)?;
    let pruned_eval = evaluate(&pruned.network, run.tasks(), &gen, seed, trials)?;
    let rt = if view.has_f32() {
        Some(runtime_evaluate(&view, seed, trials, gen, false)?)
    } else {
        None
    };
    let int8 = if view.int8().is_some() {
        Some(Score::mean_over_tasks(&runtime_evaluate(
            &view, seed, trials, gen, true,
        )?))
    } else {
        None
    };
    Ok(ExportReport {
        units_kept: pruned.kept.len(),
        units_total: net.n_hidden(),
        counts: [pruned.recurrent, pruned.input, pruned.output],
        bytes: blob.len(),
        wiring_length: model.wiring_length,
        active_connections: model.active_connections,
        unpruned: unpruned.mean(),
        pruned: pruned_eval.mean(),
        runtime: rt.as_deref().map(Score::mean_over_tasks),
        scores: (pruned_eval.scores, rt),
        int8,
        layout: view.rec_layout(),
    })
}

/// The weights the blob holds: `--weights`, else f32, or both with `--quantize int8`.
fn weights_of(args: &ExportArgs) -> Result<Weights> {
    Ok(match (args.weights, args.quantize) {
        (Some(WeightsArg::F32), Some(Quantize::Int8)) => {
            bail!("'--weights f32' stores no quantised weights; drop '--quantize int8' or choose '--weights int8' or 'both'")
        }
        (Some(WeightsArg::F32), None) => Weights::F32,
        (Some(WeightsArg::Int8), _) => Weights::Int8,
        (Some(WeightsArg::Both), _) | (None, Some(Quantize::Int8)) => Weights::Both,
        (None, None) => Weights::F32,
    })
}

fn write_blob(path: &Path, blob: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create folder {}", dir.display()))?;
    }
    crate::fsio::write_atomic(path, blob)
}

fn pct(c: Count) -> f64 {
    if c.total == 0 {
        0.0
    } else {
        100.0 * c.kept as f64 / c.total as f64
    }
}

/// The printed report.
pub fn report_text(args: &ExportArgs, r: &ExportReport) -> String {
    let mut s = format!(
        "wrote {} ({} bytes), threshold {}\n",
        args.out.display(),
        r.bytes,
        args.threshold
    );
    s += &format!(
        "units kept          {:>7} / {}\n",
        r.units_kept, r.units_total
    );
    for (name, c) in ["recurrent", "input", "output"].iter().zip(r.counts) {
        s += &format!(
            "{:<19} {:>7} / {} ({:.1}%)\n",
            format!("{name} weights"),
            c.kept,
            c.total,
            pct(c)
        );
    }
    if let Some(l) = r.layout {
        s += &format!(
            "f32 recurrent       {} ({})\n",
            match l {
                RecLayout::Rows => "lane groups",
                RecLayout::Diagonal => "diagonals",
            },
            match args.layout {
                LayoutArg::Auto => "chosen: --layout auto",
                _ => "forced by --layout",
            }
        );
    }
    s += &format!("active connections  {:>7}\n", r.active_connections);
    s += &format!("wiring length       {:>11.4}\n", r.wiring_length);
    s += "performance (mean over tasks)   last  strict\n";
    let line = |name: &str, p: Perf| format!("  {name:<29} {:>6.3} {:>7.3}\n", p.0, p.1);
    s += &line("unpruned (trainer)", r.unpruned);
    s += &line("pruned (trainer)", r.pruned);
    if let Some(p) = r.runtime {
        s += &line("blob (runtime, f32)", p);
    }
    if let Some(p) = r.int8 {
        s += &line("blob (runtime, int8)", p);
    }
    s += match &r.scores.1 {
        Some(rt) if *rt == r.scores.0 => {
            "runtime and trainer scores of the pruned network agree on every task\n"
        }
        Some(_) => "WARNING: runtime and trainer scores of the pruned network differ\n",
        None => "the blob holds int8 weights only: no f32 parity check\n",
    };
    s
}

/// Writes the run's network as a state dict (`--format torch`) and says what it fits.
fn export_torch(args: &ExportArgs) -> Result<()> {
    if args.quantize.is_some() {
        bail!("--quantize applies to model blobs, not to --format torch");
    }
    let run = crate::analysis::load_run(&args.run, args.untrained)?;
    let sd = crate::torch::state_dict(&run.config, &run.tasks, &run.network)?;
    crate::torch::save_state_dict(&args.out, &sd)?;
    let c = run.network.config();
    println!(
        "wrote {} ({} layout, unpruned, step {}): {} inputs, {} hidden, {} outputs, {}, alpha {}",
        args.out.display(),
        sd.layout.name(),
        run.step,
        c.n_inputs,
        c.n_hidden(),
        c.n_outputs,
        c.activation.name(),
        c.alpha
    );
    println!(
        "tensors: {}",
        sd.tensors
            .iter()
            .map(|(n, s, _)| format!("{n} {s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "loads with strict=True into {}",
        crate::torch::module_doc(sd.layout)
    );
    Ok(())
}

/// Runs `gyrus export`.
pub fn run(args: ExportArgs) -> Result<()> {
    if args.format == Format::Torch {
        return export_torch(&args);
    }
    let report = export_run(&args)?;
    print!("{}", report_text(&args, &report));
    Ok(())
}
