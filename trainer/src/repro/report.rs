//! `gyrus repro report DIR`: the tables and figures of a reproduction folder, read from its run
//! folders alone (whichever backend trained them, finished or not).
//!
//! What it measures:
//! - per condition, over its **finished** runs (those with `eval.json`): the final mean-over-tasks
//!   performance (`last` and `strict`), mean +- sample sd (n - 1 in the denominator; no sd for one
//!   run), the number of runs and the steps they ran; at each of the scale's `report_steps`, the
//!   same over every run that logged an evaluation at that step (finished or not);
//! - trainable parameters of the condition's network (recurrent connections allowed by its mask,
//!   input and output weights, biases);
//! - run time: the sum over the condition's runs of steps / steps-per-second of every logged
//!   interval (the trainer times an interval up to the end of the evaluation that closes it);
//! - wall time of the reproduction: the sum of its `gyrus repro run` sessions (start to end; a
//!   session that did not end, killed or still running, counts until the newest file in `runs/`);
//! - loss spikes, per run ([`spikes`]): an interval whose largest per-step loss (`loss_max` in
//!   `metrics.jsonl`, else the interval's mean `loss`) is not finite or exceeds
//!   [`SPIKE_FACTOR`] times the run's last logged mean loss;
//! - with `figure = "pareto"`: test error, active neurons and wiring length
//!   ([`crate::sweep::results`]); with `modularity = true`: the anatomical modularity of every
//!   finished run ([`crate::analysis`], 200 noise-free trials per task, 1000 permutations; a run
//!   counts as modular when its isolated fraction is below the 5th percentile of the shuffles and
//!   its mean group size above the 95th).

use super::{seeds_text, Plan, Record, SESSIONS_FILE};
use crate::sweep::manifest::Manifest;
use crate::sweep::status::{run_dir, state, PointState};
use crate::train::run::{EVAL_FILE, METRICS_FILE};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A run spiked when an interval's largest loss exceeds this times its last mean loss.
pub const SPIKE_FACTOR: f64 = 100.0;

/// Percentile bounds for "modular": isolated fraction below, mean group size above.
pub const MODULAR_PERCENTILES: (f64, f64) = (5.0, 95.0);

/// Mean, sample sd and count of some numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// How many.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator); None for fewer than 2.
    pub sd: Option<f64>,
}

impl Stat {
    /// The statistics of `xs` (None if empty).
    pub fn of(xs: &[f64]) -> Option<Stat> {
        if xs.is_empty() {
            return None;
        }
        let n = xs.len();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let sd = (n > 1)
            .then(|| (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
        Some(Stat { n, mean, sd })
    }

    /// `0.920 +- 0.007` (`0.920` for one value), with `digits` decimals.
    pub fn text(&self, digits: usize) -> String {
        match self.sd {
            Some(sd) => format!("{:.digits$} +- {:.digits$}", self.mean, sd),
            None => format!("{:.digits$}", self.mean),
        }
    }
}

/// One logged evaluation of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Gradient step.
    pub step: u64,
    /// Mean `last` performance over tasks.
    pub last: f64,
    /// Mean `strict` performance over tasks.
    pub strict: f64,
    /// Mean training loss of the interval.
    pub loss: f64,
    /// Largest per-step loss of the interval, if logged.
    pub loss_max: Option<f64>,
    /// Largest per-step gradient norm of the interval, if logged.
    pub grad_norm_max: Option<f64>,
    /// Training steps per second of the interval.
    pub steps_per_s: f64,
}

/// A number that may be written as a string (`"NaN"`, `"inf"`) by a JSON writer that cannot write
/// non-finite numbers; null and absent give None.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(x) => x.as_f64(),
        Value::String(s) => s.trim().to_ascii_lowercase().parse::<f64>().ok(),
        _ => None,
    }
}

/// Reads a run's `metrics.jsonl` (missing file: no rows).
pub fn read_rows(run: &Path) -> Result<Vec<Row>> {
    let path = run.join(METRICS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            // A run killed while writing its last line: the rest is still good.
            Err(_) if i + 1 == text.lines().count() => break,
            Err(e) => bail!("{} line {}: {e}", path.display(), i + 1),
        };
        let step = v["step"]
            .as_u64()
            .with_context(|| format!("{} line {}: no step", path.display(), i + 1))?;
        rows.push(Row {
            step,
            last: number(&v["eval"]["last"]).unwrap_or(f64::NAN),
            strict: number(&v["eval"]["strict"]).unwrap_or(f64::NAN),
            loss: number(&v["loss"]).unwrap_or(f64::NAN),
            loss_max: number(&v["loss_max"]),
            grad_norm_max: number(&v["grad_norm_max"]),
            steps_per_s: number(&v["steps_per_s"]).unwrap_or(f64::NAN),
        });
    }
    Ok(rows)
}

/// Run seconds of a run: the sum of steps / steps-per-second over its logged intervals (each
/// interval's time includes the evaluation that ends it).
pub fn training_seconds(rows: &[Row]) -> f64 {
    let mut prev = 0;
    let mut s = 0.0;
    for r in rows {
        if r.steps_per_s.is_finite() && r.steps_per_s > 0.0 {
            s += r.step.saturating_sub(prev) as f64 / r.steps_per_s;
        }
        prev = r.step;
    }
    s
}

/// A loss spike of a run: the worst interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Spike {
    /// The step that ended the interval.
    pub step: u64,
    /// Its largest loss (`loss_max`, else its mean loss).
    pub loss: f64,
    /// Its largest gradient norm, if logged.
    pub grad_norm_max: Option<f64>,
    /// The run's last logged mean loss.
    pub final_loss: f64,
}

/// The worst interval of `rows` if the run spiked: an interval whose largest loss is not finite
/// or exceeds [`SPIKE_FACTOR`] times the last row's mean loss.
pub fn spikes(rows: &[Row]) -> Option<Spike> {
    let final_loss = rows.last()?.loss;
    let worst = |r: &Row| r.loss_max.unwrap_or(r.loss);
    let bad = |x: f64| !x.is_finite() || (final_loss.is_finite() && x > SPIKE_FACTOR * final_loss);
    rows.iter()
        .filter(|r| bad(worst(r)))
        .max_by(|a, b| {
            let (x, y) = (worst(a), worst(b));
            // Non-finite first.
            match (x.is_finite(), y.is_finite()) {
                (false, true) => std::cmp::Ordering::Greater,
                (true, false) => std::cmp::Ordering::Less,
                _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
            }
        })
        .map(|r| Spike {
            step: r.step,
            loss: worst(r),
            grad_norm_max: r.grad_norm_max,
            final_loss,
        })
}

/// One run as the report sees it.
#[derive(Clone, Debug)]
pub struct RunData {
    /// Point name.
    pub name: String,
    /// Index into the plan's conditions.
    pub condition: usize,
    /// Seed.
    pub seed: u64,
    /// Steps planned.
    pub steps: u64,
    /// Its state.
    pub state: PointState,
    /// Its logged evaluations.
    pub rows: Vec<Row>,
    /// Final (`last`, `strict`) from `eval.json`, when finished.
    pub final_perf: Option<(f64, f64)>,
    /// Its run folder.
    pub dir: PathBuf,
}

/// Reads every run of the reproduction in `dir`.
pub fn collect(dir: &Path, plan: &Plan, m: &Manifest) -> Result<Vec<RunData>> {
    let mut out = Vec::new();
    for (r, e) in plan.runs.iter().zip(&m.points) {
        let run = run_dir(dir, e);
        let st = state(&run);
        let final_perf = if st == PointState::Finished {
            let path = run.join(EVAL_FILE);
            let v: Value = serde_json::from_str(
                &std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?,
            )
            .with_context(|| format!("{} is not JSON", path.display()))?;
            Some((
                number(&v["last"]).with_context(|| format!("{}: no last", path.display()))?,
                number(&v["strict"]).unwrap_or(f64::NAN),
            ))
        } else {
            None
        };
        out.push(RunData {
            name: r.name.clone(),
            condition: r.condition,
            seed: r.seed,
            steps: r.config.steps,
            state: st,
            rows: read_rows(&run)?,
            final_perf,
            dir: run,
        });
    }
    Ok(out)
}

/// One condition's numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct ConditionRow {
    /// The condition's label.
    pub label: String,
    /// The paper's number, if given.
    pub paper: Option<String>,
    /// Runs planned.
    pub planned: usize,
    /// Final `last` performance over the finished runs.
    pub last: Option<Stat>,
    /// Final `strict` performance over the finished runs.
    pub strict: Option<Stat>,
    /// Steps the finished runs ran (distinct values).
    pub steps: Vec<u64>,
    /// Seeds of the finished runs.
    pub seeds: Vec<u64>,
    /// `last` at each report step, over the runs that logged it.
    pub at: Vec<Option<Stat>>,
    /// Trainable parameters of the network.
    pub params: usize,
    /// Summed run seconds of the condition's runs ([`training_seconds`]).
    pub train_s: f64,
}

/// The table rows, one per condition.
pub fn table(plan: &Plan, runs: &[RunData]) -> Result<Vec<ConditionRow>> {
    let mut rows = Vec::new();
    for (c, cond) in plan.conditions.iter().enumerate() {
        let mine: Vec<&RunData> = runs.iter().filter(|r| r.condition == c).collect();
        let done: Vec<&&RunData> = mine.iter().filter(|r| r.final_perf.is_some()).collect();
        let last: Vec<f64> = done
            .iter()
            .filter_map(|r| r.final_perf.map(|p| p.0))
            .collect();
        let strict: Vec<f64> = done
            .iter()
            .filter_map(|r| r.final_perf.map(|p| p.1))
            .collect();
        let mut steps: Vec<u64> = done
            .iter()
            .map(|r| r.rows.last().map_or(r.steps, |x| x.step))
            .collect();
        steps.sort_unstable();
        steps.dedup();
        let at = plan
            .report_steps
            .iter()
            .map(|&s| {
                let xs: Vec<f64> = mine
                    .iter()
                    .filter_map(|r| r.rows.iter().find(|x| x.step == s).map(|x| x.last))
                    .collect();
                Stat::of(&xs)
            })
            .collect();
        let run = plan
            .runs
            .iter()
            .find(|r| r.condition == c)
            .context("a condition without runs")?;
        let net = crate::model::Network::new_valid(run.config.resolve()?.net(), run.seed)?;
        rows.push(ConditionRow {
            label: cond.label.clone(),
            paper: cond.paper.clone(),
            planned: mine.len(),
            last: Stat::of(&last),
            strict: Stat::of(&strict),
            steps,
            seeds: done.iter().map(|r| r.seed).collect(),
            at,
            params: net.params().len(),
            train_s: mine.iter().map(|r| training_seconds(&r.rows)).sum(),
        });
    }
    Ok(rows)
}

fn or_dash(s: Option<String>) -> String {
    s.unwrap_or_else(|| "-".into())
}

/// The markdown table of `rows`.
pub fn markdown_table(plan: &Plan, rows: &[ConditionRow]) -> String {
    let mut s = String::from("| condition | paper | n (finished/planned) | seeds | steps | performance (last) | strict |");
    for st in &plan.report_steps {
        let _ = write!(s, " last at step {st} (n) |");
    }
    s += " parameters | run time (min, summed) |\n|---|---|---|---|---|---|---|";
    for _ in &plan.report_steps {
        s += "---|";
    }
    s += "---|---|\n";
    for r in rows {
        let steps = r
            .steps
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            s,
            "| {} | {} | {}/{} | {} | {} | {} | {} |",
            r.label,
            or_dash(r.paper.clone()),
            r.last.map_or(0, |x| x.n),
            r.planned,
            if r.seeds.is_empty() {
                "-".into()
            } else {
                seeds_text(&r.seeds)
            },
            if steps.is_empty() { "-".into() } else { steps },
            or_dash(r.last.map(|x| x.text(3))),
            or_dash(r.strict.map(|x| x.text(3))),
        );
        for a in &r.at {
            let _ = write!(
                s,
                " {} |",
                or_dash(a.map(|x| format!("{} ({})", x.text(3), x.n)))
            );
        }
        let _ = writeln!(s, " {} | {:.1} |", r.params, r.train_s / 60.0);
    }
    s
}

/// A `repro run` session from [`SESSIONS_FILE`].
#[derive(Clone, Debug, PartialEq)]
struct Session {
    start: f64,
    end: Option<f64>,
}

/// Seconds since the Unix epoch.
pub fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn newest_mtime(dir: &Path) -> Option<f64> {
    let mut best: Option<f64> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                stack.push(e.path());
            } else if let Ok(t) = md.modified() {
                let t = t
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                best = Some(best.map_or(t, |b| b.max(t)));
            }
        }
    }
    best
}

/// (summed seconds of the sessions, sessions, whether some did not end).
fn wall_time(dir: &Path) -> (f64, usize, bool) {
    let Ok(text) = std::fs::read_to_string(dir.join(SESSIONS_FILE)) else {
        return (0.0, 0, false);
    };
    let mut sessions: Vec<(String, Session)> = Vec::new();
    for v in text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        let id = v["session"].as_str().unwrap_or_default().to_string();
        match (v["start"].as_f64(), v["end"].as_f64()) {
            (Some(t), _) => sessions.push((
                id,
                Session {
                    start: t,
                    end: None,
                },
            )),
            (None, Some(t)) => {
                if let Some((_, s)) = sessions.iter_mut().rev().find(|(i, _)| *i == id) {
                    s.end = Some(t);
                }
            }
            _ => {}
        }
    }
    let newest = newest_mtime(&dir.join("runs"));
    let mut open = false;
    let total = sessions
        .iter()
        .map(|(_, s)| match s.end {
            Some(e) => (e - s.start).max(0.0),
            None => {
                open = true;
                newest.map_or(0.0, |t| (t - s.start).max(0.0))
            }
        })
        .sum();
    (total, sessions.len(), open)
}

/// Writes the report of the reproduction in `dir` into `out` (`report.md` and figures); returns
/// the markdown.
pub fn write(dir: &Path, out: &Path) -> Result<String> {
    let record = Record::load(dir)?;
    let plan = record.plan()?;
    let m = Manifest::load(dir)?;
    if let Some(d) = plan.manifest()?.difference(&m) {
        bail!(
            "{}: manifest.json does not match repro.json ({d})",
            dir.display()
        );
    }
    let spec = super::Spec::parse(&record.spec)?;
    let runs = collect(dir, &plan, &m)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let rows = table(&plan, &runs)?;
    let finished = runs.iter().filter(|r| r.final_perf.is_some()).count();
    let mut md = String::new();
    let _ = writeln!(md, "## {} ({})\n", spec.title, spec.source);
    let _ = writeln!(md, "Claim: {}\n", spec.claim);
    let _ = writeln!(
        md,
        "Reproduction `{}`, scale `{}`{}: {} conditions x {} seeds ({}) = {} runs of {} steps; {} \
         finished.\n",
        plan.name,
        plan.scale,
        if record.overrides.is_empty() {
            String::new()
        } else {
            format!(" **reduced with {}**", record.overrides.describe())
        },
        plan.conditions.len(),
        plan.seeds.len(),
        plan.seeds_text(),
        plan.runs.len(),
        plan.steps_text(),
        finished
    );
    md += &markdown_table(&plan, &rows);
    let mut trials: Vec<u32> = plan.runs.iter().map(|r| r.config.eval_trials).collect();
    trials.sort_unstable();
    trials.dedup();
    let _ = writeln!(
        md,
        "\nMean +- sample sd over the finished runs of the mean over tasks of the `last` metric \
         ({} evaluation trials per task); \"last at step\" columns use every run that logged that \
         step.",
        trials
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    );

    // Figures.
    let mut figures = Vec::new();
    if let Some(path) = curves_figure(&spec, &plan, &runs, out)? {
        figures.push(path);
    }
    if spec.figure == super::FigureKind::Pareto {
        md += &pareto_section(dir, &plan, &m, out, &mut figures)?;
    }
    if spec.modularity {
        md += &modularity_section(&plan, &runs, out)?;
    }
    if !figures.is_empty() {
        md += "\nFigures: ";
        md += &figures
            .iter()
            .map(|p| format!("`{}`", p.display()))
            .collect::<Vec<_>>()
            .join(", ");
        md += "\n";
    }

    // Unfinished runs.
    let unfinished: Vec<&RunData> = runs.iter().filter(|r| r.final_perf.is_none()).collect();
    if !unfinished.is_empty() {
        let _ = writeln!(md, "\nNot finished ({} runs):\n", unfinished.len());
        for r in &unfinished {
            let what = match (&r.state, r.rows.last()) {
                (PointState::Failed(why), _) => format!("failed: {why}"),
                (_, Some(x)) => format!("at step {} of {}: last {:.3}", x.step, r.steps, x.last),
                (PointState::Started(_), None) => "started, no evaluation yet".into(),
                _ => "pending".into(),
            };
            let _ = writeln!(md, "- {}: {what}", r.name);
        }
    }

    // Spikes.
    let spiked: Vec<(&RunData, Spike)> = runs
        .iter()
        .filter_map(|r| spikes(&r.rows).map(|s| (r, s)))
        .collect();
    let with_max = runs
        .iter()
        .filter(|r| r.rows.iter().any(|x| x.loss_max.is_some()))
        .count();
    let started = runs.iter().filter(|r| !r.rows.is_empty()).count();
    let _ = writeln!(
        md,
        "\nLoss spikes (an interval whose largest loss is not finite or above {SPIKE_FACTOR} x the \
         run's last mean loss; `loss_max` logged by {with_max} of {started} runs, the others \
         judged on interval means): {}",
        match spiked.len() {
            0 => "none.".to_string(),
            1 => "1 run.".to_string(),
            n => format!("{n} runs."),
        }
    );
    for (r, s) in &spiked {
        let _ = writeln!(
            md,
            "- {}: interval ending at step {}: largest loss {:.3e}{}; last mean loss {:.3}",
            r.name,
            s.step,
            s.loss,
            s.grad_norm_max.map_or(String::new(), |g| format!(
                ", largest gradient norm {g:.3e}"
            )),
            s.final_loss
        );
    }

    // Time.
    let train: f64 = rows.iter().map(|r| r.train_s).sum();
    let (wall, sessions, open) = wall_time(dir);
    let _ = writeln!(
        md,
        "\nTime: {:.1} min of runs (summed); wall time of {} `gyrus repro run` \
         session{} {}{:.1} min{}.",
        train / 60.0,
        sessions,
        if sessions == 1 { "" } else { "s" },
        if open { ">= " } else { "" },
        wall / 60.0,
        if open {
            " (a session did not end: counted until the newest file in runs/)"
        } else {
            ""
        }
    );
    crate::fsio::write_atomic(&out.join("report.md"), &md)?;
    Ok(md)
}

/// Learning curves: per condition, the mean over its finished runs (over its started runs, marked
/// "in progress", if none finished), range shaded.
fn curves_figure(
    spec: &super::Spec,
    plan: &Plan,
    runs: &[RunData],
    out: &Path,
) -> Result<Option<PathBuf>> {
    use crate::plot::curves::{mean_curve, CurvesFigure};
    let mut curves = Vec::new();
    for (c, cond) in plan.conditions.iter().enumerate() {
        let mine: Vec<&RunData> = runs
            .iter()
            .filter(|r| r.condition == c && !r.rows.is_empty())
            .collect();
        let done: Vec<&RunData> = mine
            .iter()
            .copied()
            .filter(|r| r.final_perf.is_some())
            .collect();
        let (use_runs, note) = if done.is_empty() {
            (mine, " (in progress)")
        } else {
            (done, "")
        };
        if use_runs.is_empty() {
            continue;
        }
        let pts: Vec<Vec<(u64, f64)>> = use_runs
            .iter()
            .map(|r| r.rows.iter().map(|x| (x.step, x.last)).collect())
            .collect();
        match mean_curve(format!("{}{note}", cond.label), &pts) {
            Ok(curve) => curves.push(curve),
            // Runs in progress at different steps: the furthest one alone.
            Err(_) => {
                let best = use_runs
                    .iter()
                    .max_by_key(|r| r.rows.len())
                    .expect("not empty");
                let p: Vec<(u64, f64)> = best.rows.iter().map(|x| (x.step, x.last)).collect();
                curves.push(mean_curve(
                    format!("{} ({}, in progress)", cond.label, best.name),
                    &[p],
                )?);
            }
        }
    }
    if curves.is_empty() {
        return Ok(None);
    }
    let fig = CurvesFigure {
        curves,
        title: format!("{} ({}, scale {})", spec.source, plan.name, plan.scale),
        y_label: "mean task performance (last)".into(),
    };
    let path = out.join("curves.png");
    crate::plot::save(&fig, &path)?;
    Ok(Some(path))
}

fn pareto_section(
    dir: &Path,
    plan: &Plan,
    m: &Manifest,
    out: &Path,
    figures: &mut Vec<PathBuf>,
) -> Result<String> {
    let (points, _) = crate::sweep::results::collect(dir, m)?;
    let mut md = String::new();
    if points.is_empty() {
        return Ok(md);
    }
    let csv = out.join("pareto.csv");
    crate::sweep::results::write_csv(&csv, &points)?;
    let fig = crate::plot::pareto::ParetoFigure {
        title: format!("Pareto frontiers ({}, scale {})", plan.name, plan.scale),
        points: points.clone(),
    };
    let png = out.join("pareto.png");
    crate::plot::save(&fig, &png)?;
    figures.push(png);
    figures.push(csv);
    md += "\n| condition | n | test error | active neurons | active recurrent connections | wiring length |\n|---|---|---|---|---|---|\n";
    for (c, cond) in plan.conditions.iter().enumerate() {
        let mine: Vec<&crate::sweep::results::PointMeasures> = points
            .iter()
            .filter(|p| plan.runs[p.index].condition == c)
            .collect();
        // Duplicates share their original's run folder: count them under their own condition.
        let extra: Vec<&crate::sweep::results::PointMeasures> = m
            .points
            .iter()
            .filter(|e| plan.runs[e.index].condition == c)
            .filter_map(|e| e.duplicate_of)
            .filter_map(|d| points.iter().find(|p| p.index == d))
            .collect();
        let all: Vec<_> = mine.into_iter().chain(extra).collect();
        if all.is_empty() {
            continue;
        }
        let st = |f: &dyn Fn(&crate::sweep::results::PointMeasures) -> f64, d: usize| {
            let xs: Vec<f64> = all.iter().map(|p| f(p)).collect();
            or_dash(Stat::of(&xs).map(|s| s.text(d)))
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            cond.label,
            all.len(),
            st(&|p| p.error, 3),
            st(&|p| p.active_units as f64, 0),
            st(&|p| f64::from(p.active_connections), 0),
            st(&|p| p.wiring_length, 0)
        );
    }
    Ok(md)
}

/// The modularity numbers of one run, cached in `out/modularity/<run>.json`.
fn modularity_of(run: &RunData, out: &Path) -> Result<Value> {
    let cache = out.join("modularity").join(format!("{}.json", run.name));
    let eval_mtime = std::fs::metadata(run.dir.join(EVAL_FILE))
        .and_then(|m| m.modified())
        .ok();
    if let (Ok(text), Some(t)) = (std::fs::read_to_string(&cache), eval_mtime) {
        let fresh = std::fs::metadata(&cache)
            .and_then(|m| m.modified())
            .is_ok_and(|c| c >= t);
        if let (true, Ok(v)) = (fresh, serde_json::from_str::<Value>(&text)) {
            return Ok(v);
        }
    }
    let loaded = crate::analysis::load_run(&run.dir, false)?;
    let a = crate::analysis::analyze(
        &loaded.network,
        &loaded.tasks,
        &loaded.config.generator(),
        &crate::analysis::Options::new(loaded.config.seed),
    )?;
    let v = match (&a.clustering, &a.modularity, &a.baseline) {
        (Some(cl), Some(md), Some(b)) => serde_json::json!({
            "important": a.important.len(),
            "clusters": cl.k,
            "isolated_fraction": md.isolated_fraction,
            "isolated_percentile": b.isolated_fraction.percentile,
            "mean_group_size": md.mean_group_size,
            "group_size_percentile": b.mean_group_size.percentile,
        }),
        _ => serde_json::json!({ "important": a.important.len(), "clusters": null }),
    };
    std::fs::create_dir_all(cache.parent().expect("has a parent"))?;
    crate::fsio::write_atomic(&cache, serde_json::to_string_pretty(&v)?)?;
    Ok(v)
}

fn modularity_section(plan: &Plan, runs: &[RunData], out: &Path) -> Result<String> {
    let mut md = format!(
        "\nAnatomical modularity (`gyrus analyze` on every finished run: 200 noise-free trials per \
         task, 1000 position shuffles; modular = isolated fraction below the {}th percentile of \
         the shuffles and mean group size above the {}th):\n\n| condition | n | functional \
         clusters | isolated fraction (percentile) | mean group size (percentile) | modular \
         runs |\n|---|---|---|---|---|---|\n",
        MODULAR_PERCENTILES.0, MODULAR_PERCENTILES.1
    );
    for (c, cond) in plan.conditions.iter().enumerate() {
        let mut vals = Vec::new();
        let mut seen = Vec::new();
        for r in runs
            .iter()
            .filter(|r| r.condition == c && r.final_perf.is_some())
        {
            // Duplicates share a run folder: analyse it once.
            if seen.contains(&r.dir) {
                continue;
            }
            seen.push(r.dir.clone());
            vals.push(modularity_of(r, out).with_context(|| format!("run {}", r.name))?);
        }
        if vals.is_empty() {
            continue;
        }
        let get = |k: &str| -> Vec<f64> { vals.iter().filter_map(|v| v[k].as_f64()).collect() };
        let st = |k: &str, d: usize| or_dash(Stat::of(&get(k)).map(|s| s.text(d)));
        let modular = vals
            .iter()
            .filter(|v| {
                v["isolated_percentile"]
                    .as_f64()
                    .is_some_and(|p| p < MODULAR_PERCENTILES.0)
                    && v["group_size_percentile"]
                        .as_f64()
                        .is_some_and(|p| p > MODULAR_PERCENTILES.1)
            })
            .count();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} ({}) | {} ({}) | {}/{} |",
            cond.label,
            vals.len(),
            st("clusters", 1),
            st("isolated_fraction", 3),
            st("isolated_percentile", 1),
            st("mean_group_size", 2),
            st("group_size_percentile", 1),
            modular,
            vals.len()
        );
    }
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64, loss: f64, loss_max: Option<f64>) -> Row {
        Row {
            step,
            last: 0.5,
            strict: 0.5,
            loss,
            loss_max,
            grad_norm_max: None,
            steps_per_s: 10.0,
        }
    }

    #[test]
    fn stats_are_mean_and_sample_sd() {
        let s = Stat::of(&[0.9, 0.8, 0.7]).unwrap();
        assert_eq!(s.n, 3);
        assert!((s.mean - 0.8).abs() < 1e-12);
        assert!((s.sd.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(s.text(3), "0.800 +- 0.100");
        assert_eq!(Stat::of(&[0.5]).unwrap().text(2), "0.50");
        assert!(Stat::of(&[]).is_none());
    }

    #[test]
    fn spikes_follow_the_documented_rule() {
        // A blow-up of the interval mean (no loss_max logged) is found.
        let rows = [
            row(500, 4.4e12, None),
            row(1000, 0.43, None),
            row(1500, 0.4, None),
        ];
        let s = spikes(&rows).unwrap();
        assert_eq!((s.step, s.loss, s.final_loss), (500, 4.4e12, 0.4));
        // loss_max above 100 x the final loss; 99 x is not a spike.
        let rows = [row(10, 1.0, Some(39.6)), row(20, 0.4, Some(0.5))];
        assert!(spikes(&rows).is_none());
        let rows = [row(10, 1.0, Some(40.1)), row(20, 0.4, Some(0.5))];
        assert_eq!(spikes(&rows).unwrap().step, 10);
        // A non-finite maximum is a spike, and the worst one.
        let rows = [
            row(10, 1.0, Some(1e9)),
            row(20, 1.0, Some(f64::INFINITY)),
            row(30, 0.4, Some(0.5)),
        ];
        assert_eq!(spikes(&rows).unwrap().step, 20);
        assert!(spikes(&[]).is_none());
    }

    #[test]
    fn training_time_sums_the_intervals() {
        let rows = [row(100, 1.0, None), row(300, 1.0, None)];
        assert!((training_seconds(&rows) - 30.0).abs() < 1e-9);
    }
}
