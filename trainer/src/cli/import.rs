//! `gyrus import WEIGHTS --out RUN [--config run.toml | flags]`: turns weights trained elsewhere
//! (PyTorch, NumPy; see [`crate::torch`] for the names it reads) into a run folder (`config.toml`
//! and a step-0 checkpoint) that `eval`, `analyze`, `export`, `deploy sim` and `train --resume`
//! open like any other. Nothing is written unless every check passes.
//!
//! Each setting comes from, in order: a flag; the `--config` file (where it writes the field);
//! the weight file (its metadata, an npz `tasks` array, a mask or positions tensor); then a
//! default or an error. What was decided, and from where, is printed.

use super::train::TrainArgs;
use crate::model::{Activation, Family, Network, Sheet};
use crate::torch::{self, DenseNet, NameLayout};
use crate::train::config::{RunConfig, RunPlan, Tasks};
use crate::train::run::Run;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use gyrus_runtime::tasks::{self as rt_tasks, N_CLASSES};
use std::path::PathBuf;

/// Arguments of `gyrus import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The weights: a safetensors file (`safetensors.torch.save_file(model.state_dict(), ...)`)
    /// or a NumPy `.npz`.
    pub weights: PathBuf,
    /// Read a part of the network from a tensor of any name: ROLE=TENSOR, ROLE one of w_rec
    /// \[N, N\], w_in \[N, I\], b_h \[N\] (A+B sums two), w_out \[17, N\], b_o \[17\], mask \[N, N\],
    /// positions [N, 2]. Repeatable.
    #[arg(long = "map", value_name = "ROLE=TENSOR")]
    pub map: Vec<String>,
    /// The leak as a time constant in ms: alpha = dt / tau (dt: --dt or the config's dt_ms).
    #[arg(long, value_name = "MS", conflicts_with = "alpha")]
    pub tau: Option<f32>,
    /// The run folder to create (--out) and its config: the flags of `gyrus train`.
    #[command(flatten)]
    pub run: TrainArgs,
}

/// Where a setting came from, for the report.
fn from(what: &str) -> String {
    format!("(from {what})")
}

/// A field of the `--config` file, if the file writes it (`path` = table keys).
fn written<'a>(table: Option<&'a toml::Table>, path: &[&str]) -> Option<&'a toml::Value> {
    let mut v = table?.get(path[0])?;
    for k in &path[1..] {
        v = v.as_table()?.get(*k)?;
    }
    Some(v)
}

/// The import as far as it is decided: the config and the network, plus the report lines.
pub struct Imported {
    /// The run config (flags applied), resolved.
    pub plan: RunPlan,
    /// The network holding the imported weights.
    pub network: Network,
    /// What was read and decided, one line each.
    pub report: Vec<String>,
}

/// Reads and checks everything; writes nothing.
pub fn prepare(args: &ImportArgs) -> Result<Imported> {
    let file = torch::read_weights(&args.weights)?;
    let parts = torch::find_parts(&file, &args.map)?;
    let mut report = vec![format!(
        "read {}: {} names",
        args.weights.display(),
        parts.layout.name()
    )];
    // Sizes: N from the recurrent matrix, I from the input weights.
    let w_rec_t = file.get(&parts.w_rec)?;
    let n = match w_rec_t.shape.as_slice() {
        [a, b] if a == b && *a > 0 => *a,
        s => bail!(
            "tensor `{}` (w_rec) has shape {s:?}, expected [N, N] (square: N hidden units)",
            parts.w_rec
        ),
    };
    let n_in = match file.get(&parts.w_in)?.shape.as_slice() {
        [a, i] if *a == n => *i,
        s => bail!(
            "tensor `{}` (w_in) has shape {s:?}, expected [{n}, I] (N = {n} from `{}`)",
            parts.w_in,
            parts.w_rec
        ),
    };
    // The base config: --config, else the one the file carries (a gyrus export), else defaults.
    let cfg_table: Option<toml::Table> = match &args.run.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading config {}", p.display()))?;
            Some(toml::from_str(&text).with_context(|| format!("parsing config {}", p.display()))?)
        }
        None => None,
    };
    let embedded: Option<RunConfig> = match (&cfg_table, file.meta.get(torch::CONFIG_KEY)) {
        (None, Some(text)) => Some(toml::from_str(text).with_context(|| {
            format!(
                "the run config in the metadata `{}` of the file",
                torch::CONFIG_KEY
            )
        })?),
        _ => None,
    };
    let in_config = |path: &[&str]| written(cfg_table.as_ref(), path).is_some();
    let meta = |key: &str| file.meta.get(key).map(String::as_str);

    // Tasks: the input count must match.
    let (tasks_desc, tasks_from) = if let Some(t) = &args.run.collection {
        (t.clone(), from("--tasks"))
    } else if let Some(t) = written(cfg_table.as_ref(), &["tasks"]).and_then(|v| v.as_str()) {
        (t.to_string(), from("--config"))
    } else if let Some(names) = file.strings.get("tasks") {
        (torch::tasks_desc(names), from("the file's `tasks` array"))
    } else if let Some(t) = meta("tasks") {
        (t.to_string(), from("the file's metadata"))
    } else {
        bail!(
            "{} does not name its tasks: give --tasks (its {n_in} inputs are 33 + {} rule inputs; \
             e.g. --tasks cog20 for 53 inputs)",
            args.weights.display(),
            n_in.saturating_sub(rt_tasks::n_inputs(0))
        );
    };
    let tasks = Tasks::parse(&tasks_desc).context("the task list")?;
    let want_in = rt_tasks::n_inputs(tasks.len());
    torch::expect_shape(
        &file,
        &parts.w_in,
        "w_in",
        &[n, want_in],
        &format!(
            "{want_in} inputs = 33 + {} rules of {}",
            tasks.len(),
            tasks.name()
        ),
    )?;
    report.push(format!("tasks {} {tasks_from}", tasks.name()));

    // The remaining tensors, checked.
    let w_rec = torch::expect_shape(&file, &parts.w_rec, "w_rec", &[n, n], "N x N")?;
    let mut b_h = vec![0.0f32; n];
    for name in &parts.b_h {
        let t = torch::expect_shape(&file, name, "b_h", &[n], "one bias per hidden unit")?;
        for (a, b) in b_h.iter_mut().zip(&t.values) {
            *a += b;
        }
    }
    let n_out = N_CLASSES;
    let w_out = torch::expect_shape(
        &file,
        &parts.w_out,
        "w_out",
        &[n_out, n],
        &format!("{n_out} output classes (fixate + 16 directions) x N = {n}"),
    )?;
    let b_o = match &parts.b_o {
        Some(name) => torch::expect_shape(&file, name, "b_o", &[n_out], "one bias per class")?
            .values
            .clone(),
        None => vec![0.0; n_out],
    };
    let mut lines = vec![
        format!("  w_rec     <- {} {:?}", parts.w_rec, [n, n]),
        format!("  w_in      <- {} {:?}", parts.w_in, [n, n_in]),
        match parts.b_h.len() {
            0 => "  b_h       =  0 (no bias tensor)".to_string(),
            _ => format!("  b_h       <- {} [{n}]", parts.b_h.join(" + ")),
        },
        format!("  w_out     <- {} {:?}", parts.w_out, [n_out, n]),
        match &parts.b_o {
            Some(b) => format!("  b_o       <- {b} [{n_out}]"),
            None => "  b_o       =  0 (no bias tensor)".to_string(),
        },
    ];
    let mut dense = DenseNet {
        n,
        n_in,
        w_rec: w_rec.values.clone(),
        w_in: file.get(&parts.w_in)?.values.clone(),
        b_h,
        w_out: w_out.values.clone(),
        b_o,
        mask: vec![true; n * n],
    };

    // The mask: a tensor (applied to W), else the exact zeros of W.
    let mask_name = match &parts.mask {
        Some(name) => {
            let m = torch::expect_shape(&file, name, "mask", &[n, n], "N x N")?;
            if let Some(p) = m.values.iter().position(|&v| v != 0.0 && v != 1.0) {
                bail!(
                    "tensor `{name}` (mask) has the value {} at [{}, {}]; a mask holds 0 and 1",
                    m.values[p],
                    p / n,
                    p % n
                );
            }
            let mut dropped = 0;
            for (k, &v) in m.values.iter().enumerate() {
                dense.mask[k] = v == 1.0;
                if v == 0.0 && dense.w_rec[k] != 0.0 {
                    dense.w_rec[k] = 0.0;
                    dropped += 1;
                }
            }
            let kept = dense.mask.iter().filter(|&&a| a).count();
            let mut line = format!(
                "  mask      <- {name} [{n}, {n}]: {kept} of {} connections",
                n * n
            );
            if dropped > 0 {
                line += &format!(
                    "; {dropped} nonzero weights of `{}` outside it set to 0 (the mask multiplies W)",
                    parts.w_rec
                );
            }
            lines.push(line);
            format!("`{name}`")
        }
        None => {
            for (a, &w) in dense.mask.iter_mut().zip(&dense.w_rec) {
                *a = w != 0.0;
            }
            let kept = dense.mask.iter().filter(|&&a| a).count();
            lines.push(format!(
                "  mask      =  inferred from the exact zeros of `{}`: {kept} of {} connections",
                parts.w_rec,
                n * n
            ));
            format!("inferred from the zeros of `{}`", parts.w_rec)
        }
    };

    // The sheet and the unit order.
    let positions = match &parts.positions {
        Some(name) => Some((
            name,
            torch::expect_shape(&file, name, "positions", &[n, 2], "row and column per unit")?,
        )),
        None => None,
    };
    let sheet_of = |s: &str| super::train::parse_sheet(s).map_err(|e| anyhow!(e));
    let (sheet, sheet_from) = if let Some(s) = args.run.sheet {
        (s, from("--sheet"))
    } else if let Some(v) = written(cfg_table.as_ref(), &["net", "sheet"]) {
        let s: Sheet = v.clone().try_into().context("[net] sheet in --config")?;
        (s, from("--config"))
    } else if let Some(c) = &embedded {
        (c.net.sheet, from("the file's run config"))
    } else if let Some(s) = meta("sheet") {
        (sheet_of(s)?, from("the file's metadata"))
    } else if let Some((name, p)) = &positions {
        (torch::bounding_sheet(&p.values), from(&format!("`{name}`")))
    } else {
        let side = (1..=n).find(|s| s * s >= n).unwrap_or(1);
        if side * side != n {
            bail!("{n} hidden units make no square sheet: give --sheet ROWSxCOLS");
        }
        (Sheet::new(side, side), "(square, row-major)".to_string())
    };
    if sheet.n_units() != n {
        if let (Some((name, _)), true) = (&positions, sheet_from.contains('`')) {
            bail!(
                "the positions in `{name}` span a {}x{} sheet, {} cells for {n} units: every unit \
                 needs a cell of its own (fix the positions or give --sheet)",
                sheet.rows,
                sheet.cols,
                sheet.n_units()
            );
        }
        bail!(
            "the {}x{} sheet {sheet_from} has {} units, the weights {n} (`{}` is [{n}, {n}])",
            sheet.rows,
            sheet.cols,
            sheet.n_units(),
            parts.w_rec
        );
    }
    match &positions {
        Some((name, p)) => {
            let perm = torch::sheet_order(name, &p.values, sheet)?;
            let moved = perm.iter().enumerate().filter(|(k, u)| k != *u).count();
            dense.permute(&perm);
            lines.push(format!(
                "  positions <- {name} [{n}, 2]: {}",
                if moved == 0 {
                    "units already in the sheet's row-major order".to_string()
                } else {
                    format!("{moved} units reordered to the sheet's row-major order")
                }
            ));
        }
        None => {
            lines.push("  positions =  row-major order on the sheet (no positions tensor)".into())
        }
    }
    report.extend(lines);
    report.push(format!("sheet {}x{} {sheet_from}", sheet.rows, sheet.cols));
    let used = parts.used();
    let ignored: Vec<&str> = file
        .tensors
        .keys()
        .map(String::as_str)
        .filter(|k| !used.contains(k))
        .collect();
    if !ignored.is_empty() {
        report.push(format!("ignored tensors: {}", ignored.join(", ")));
    }

    // Activation and leak.
    let (activation, act_from) = if let Some(a) = args.run.activation {
        (a, from("--activation"))
    } else if let Some(v) = written(cfg_table.as_ref(), &["net", "activation"]) {
        let a: Activation = v
            .clone()
            .try_into()
            .context("[net] activation in --config")?;
        (a, from("--config"))
    } else if let Some(a) = meta("activation") {
        (
            super::train::parse_activation(a).map_err(|e| anyhow!("the file's metadata: {e}"))?,
            from("the file's metadata"),
        )
    } else if let Some(c) = &embedded {
        (c.net.activation, from("the file's run config"))
    } else {
        bail!(
            "{} does not say its nonlinearity: give --activation relu, tanh or softplus \
             (nn.RNN's default is tanh)",
            args.weights.display()
        );
    };
    let dt_ms = args
        .run
        .dt
        .or_else(|| {
            written(cfg_table.as_ref(), &["dt_ms"])
                .and_then(|v| v.as_integer())
                .and_then(|v| u16::try_from(v).ok())
        })
        .or_else(|| embedded.as_ref().map(|c| c.dt_ms))
        .or_else(|| meta("dt_ms").and_then(|v| v.parse().ok()))
        .unwrap_or(RunConfig::with_sheet(sheet).dt_ms);
    let (alpha, alpha_from) = if let Some(a) = args.run.alpha {
        (a, from("--alpha"))
    } else if let Some(tau) = args.tau {
        (
            f32::from(dt_ms) / tau,
            format!("(dt / tau = {dt_ms} / {tau})"),
        )
    } else if let Some(v) = written(cfg_table.as_ref(), &["net", "alpha"]) {
        let a = v
            .as_float()
            .or_else(|| v.as_integer().map(|i| i as f64))
            .context("[net] alpha in --config is not a number")?;
        (a as f32, from("--config"))
    } else if let Some(a) = meta("alpha") {
        (
            a.parse()
                .map_err(|_| anyhow!("the file's metadata alpha {a:?} is not a number"))?,
            from("the file's metadata"),
        )
    } else if let Some(c) = &embedded {
        (c.net.alpha, from("the file's run config"))
    } else if parts.layout == NameLayout::Leaky {
        bail!(
            "the leaky layout needs its leak: give --alpha A or --tau MS (alpha = dt / tau, \
             dt = {dt_ms} ms)"
        );
    } else {
        (1.0, format!("({} layout)", parts.layout.name()))
    };
    report.push(format!(
        "activation {} {act_from}, alpha {alpha} {alpha_from}",
        activation.name()
    ));

    // The config: the base with what was decided, then every flag.
    let mut base = match (&cfg_table, embedded) {
        (Some(t), _) => {
            let mut t = t.clone();
            let net = t
                .entry("net")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(net) = net.as_table_mut() {
                net.entry("sheet")
                    .or_insert(toml::Value::try_from(sheet).context("sheet")?);
            }
            toml::Value::Table(t)
                .try_into::<RunConfig>()
                .context("the --config file")?
        }
        (None, Some(c)) => c,
        (None, None) => RunConfig::with_sheet(sheet),
    };
    base.tasks = tasks_desc;
    base.dt_ms = dt_ms;
    base.net.sheet = sheet;
    base.net.activation = activation;
    base.net.alpha = alpha;
    let family_given = args.run.family.is_some()
        || in_config(&["net", "family"])
        || (cfg_table.is_none() && file.meta.contains_key(torch::CONFIG_KEY));
    if !family_given {
        base.net.family = if dense.mask.iter().all(|&a| a) {
            Family::Dense
        } else {
            Family::from_mask(n, |i, j| dense.mask[i * n + j])
        };
    }
    let plan = args.run.plan_over(Some(base))?;
    let cfg = plan.config();
    report.push(format!(
        "family {}{}",
        cfg.net.family_label(),
        if family_given {
            " (given; the weights are checked against it)".to_string()
        } else {
            format!(" (mask {mask_name})")
        }
    ));
    let mut network = plan.network()?;
    dense.load_into(&mut network, &parts.w_rec, &mask_name)?;
    Ok(Imported {
        plan,
        network,
        report,
    })
}

/// Runs `gyrus import`.
pub fn run(args: ImportArgs) -> Result<()> {
    if args.run.resume.is_some() {
        bail!("gyrus import writes a new run folder (--out); --resume does not apply");
    }
    let out = args
        .run
        .out
        .clone()
        .context("give --out DIR for the run folder")?;
    let imported = prepare(&args)?;
    for line in &imported.report {
        println!("{line}");
    }
    Run::create_from(&out, imported.plan, &imported.network)?;
    println!(
        "wrote {}: config.toml, checkpoint.safetensors (step 0); open it with gyrus eval, export, \
         analyze, or fine-tune it with gyrus train --resume",
        out.display()
    );
    Ok(())
}
