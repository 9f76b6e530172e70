//! Reproductions of the seed papers' claims: one declarative spec per claim (`trainer/repro/*.toml`,
//! embedded in the binary), expanded at a scale (`cpu` or `paper`) into a sweep ([`Plan`]) that the
//! sweep backends train ([`crate::sweep`]), and read back into tables and figures ([`report`]).
//!
//! A spec (see any file in `trainer/repro/`):
//!
//! ```toml
//! name = "cog20-curves"             # what `gyrus repro run NAME` takes
//! title = "..."                     # heading of the report
//! source = "Khona et al. Fig. 2a"   # the figure or table reproduced
//! claim = "..."                     # the claim, in one or two sentences
//! figure = "curves"                 # curves (learning curves) or pareto (Liu et al.'s frontiers)
//! modularity = false                # report anatomical modularity of every finished run
//! [base]                            # run-config fields (`docs/models.md`) shared by every run
//! tasks = "cog20"
//! [base.net]
//! family = { kind = "dense" }
//! [scale.cpu]                       # one table per scale: cpu and paper are required
//! seeds = "1..3"                    # the seeds of every condition
//! set = { steps = 3000 }            # run-config fields of this scale, over [base]
//! report_steps = [1000]             # extra table columns: performance at these steps
//! [[scale.cpu.arm]]                 # the arms: each a grid (`gyrus sweep` syntax) over base + set
//! name = "local"
//! label = "LM-RNN"
//! grid = "family=local; d=2; sheet=16x16"
//! paper = "0.8"                     # the paper's number for this arm, as text (optional)
//! ```
//!
//! Every point of an arm's grid is one *condition* (a table row, a curve); each condition is
//! trained once per seed. The points are ordered seed first (all conditions of the first seed,
//! then of the second, ...) so that a run stopped early has whole seeds. Seeds are not a grid key
//! of an arm. Options of `gyrus repro run` ([`Overrides`]) can shrink a plan for a smaller budget
//! (fewer seeds, fewer steps, some arms); they are recorded in the reproduction folder and printed
//! by the report.

pub mod report;

use crate::sweep::grid::{apply, point_name, Grid, Point};
use crate::sweep::manifest::{Entry, Manifest, VERSION};
use crate::train::config::RunConfig;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use toml::{Table, Value};

/// The specs shipped with gyrus, in claim order: (file name, text).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "autapse-pools.toml",
        include_str!("../../repro/autapse-pools.toml"),
    ),
    (
        "lm-vs-dense.toml",
        include_str!("../../repro/lm-vs-dense.toml"),
    ),
    (
        "locality-radius.toml",
        include_str!("../../repro/locality-radius.toml"),
    ),
    (
        "local-vs-random.toml",
        include_str!("../../repro/local-vs-random.toml"),
    ),
    (
        "cog20-curves.toml",
        include_str!("../../repro/cog20-curves.toml"),
    ),
    (
        "bimt-pareto.toml",
        include_str!("../../repro/bimt-pareto.toml"),
    ),
];

/// The file written into a reproduction folder (beside the sweep's `manifest.json`).
pub const REPRO_FILE: &str = "repro.json";
/// One line per `gyrus repro run` session on the local backend (start and end times).
pub const SESSIONS_FILE: &str = "repro-sessions.jsonl";

/// What a reproduction's report draws.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FigureKind {
    /// Learning curves: mean over seeds per condition, range shaded.
    #[default]
    Curves,
    /// Learning curves and test error against active neurons and wiring length (Liu et al.).
    Pareto,
}

/// A reproduction spec, as written in its TOML file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Name, e.g. `cog20-curves`.
    pub name: String,
    /// Heading of the report.
    pub title: String,
    /// The paper's figure or table.
    pub source: String,
    /// The claim reproduced.
    pub claim: String,
    /// The figure of the report.
    #[serde(default)]
    pub figure: FigureKind,
    /// Whether the report measures the anatomical modularity of every finished run.
    #[serde(default)]
    pub modularity: bool,
    /// Run-config fields shared by every run.
    pub base: Table,
    /// The scales, by name (`cpu` and `paper` at least).
    pub scale: BTreeMap<String, Scale>,
}

/// One scale of a spec.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// The seeds, in grid syntax (`1..3`, `1,4,7`).
    pub seeds: String,
    /// Run-config fields over the base.
    #[serde(default)]
    pub set: Table,
    /// Steps at which the report also gives the performance (besides the last).
    #[serde(default)]
    pub report_steps: Vec<u64>,
    /// A note on the scale (e.g. what differs from the paper), printed by `repro plan`.
    #[serde(default)]
    pub note: Option<String>,
    /// The arms.
    pub arm: Vec<Arm>,
}

/// One arm of a scale: a grid over the base config.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    /// Short name, part of every run's folder name (letters, digits, `-`).
    pub name: String,
    /// Label in tables and legends (default: the name).
    #[serde(default)]
    pub label: Option<String>,
    /// Grid over the base (`gyrus sweep --grid` syntax, no `seed`); empty: the base itself.
    #[serde(default)]
    pub grid: String,
    /// The paper's result for this arm, as text.
    #[serde(default)]
    pub paper: Option<String>,
}

impl Spec {
    /// Parses a spec and checks that both scales expand into valid configs.
    pub fn parse(text: &str) -> Result<Spec> {
        let spec: Spec = toml::from_str(text).context("the reproduction spec does not parse")?;
        if spec.name.is_empty()
            || !spec
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            bail!("spec name '{}' must be letters, digits and '-'", spec.name);
        }
        for s in ["cpu", "paper"] {
            if !spec.scale.contains_key(s) {
                bail!("spec {} has no [scale.{s}]", spec.name);
            }
        }
        for scale in spec.scale.keys() {
            Plan::new(&spec, text, scale, &Overrides::default())
                .with_context(|| format!("spec {}, scale {scale}", spec.name))?;
        }
        Ok(spec)
    }

    /// A built-in spec by name, or a spec file (a path ending in `.toml`): (spec, its text).
    pub fn find(name: &str) -> Result<(Spec, String)> {
        if name.ends_with(".toml") {
            let text = std::fs::read_to_string(name)
                .with_context(|| format!("reading the spec file {name}"))?;
            return Ok((Spec::parse(&text).with_context(|| name.to_string())?, text));
        }
        for (file, text) in BUILTIN {
            let spec = Spec::parse(text).with_context(|| format!("built-in spec {file}"))?;
            if spec.name == name {
                return Ok((spec, text.to_string()));
            }
        }
        bail!(
            "no reproduction named '{name}'; `gyrus repro list` shows them (or give a spec file \
             ending in .toml)"
        )
    }

    /// Every built-in spec, in claim order.
    pub fn builtin() -> Result<Vec<(Spec, String)>> {
        BUILTIN
            .iter()
            .map(|(file, text)| {
                Ok((
                    Spec::parse(text).with_context(|| format!("built-in spec {file}"))?,
                    text.to_string(),
                ))
            })
            .collect()
    }
}

/// Changes to a plan given on the command line (recorded in [`REPRO_FILE`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    /// Seeds instead of the scale's, in grid syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<String>,
    /// Single-valued grid axes applied to every run last, e.g. `steps=1000; eval_every=250`
    /// is not allowed (eval_every is no grid key) but `steps=1000; eval_trials=32` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    /// Only these arms (all if empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
}

impl Overrides {
    /// True if nothing is changed.
    pub fn is_empty(&self) -> bool {
        self.seeds.is_none() && self.set.is_none() && self.only.is_empty()
    }

    /// A one-line description, e.g. `--seeds 1 --set 'steps=1000'`.
    pub fn describe(&self) -> String {
        let mut s = Vec::new();
        if let Some(x) = &self.seeds {
            s.push(format!("--seeds {x}"));
        }
        if let Some(x) = &self.set {
            s.push(format!("--set '{x}'"));
        }
        if !self.only.is_empty() {
            s.push(format!("--only {}", self.only.join(",")));
        }
        s.join(" ")
    }
}

/// One condition: an arm's grid point (a table row, a curve).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// The arm's name.
    pub arm: String,
    /// Label: the arm's label plus the grid values that vary within the arm.
    pub label: String,
    /// The paper's number, if the spec gives one.
    pub paper: Option<String>,
}

/// One run of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanRun {
    /// Index into [`Plan::conditions`].
    pub condition: usize,
    /// The seed.
    pub seed: u64,
    /// Folder-safe name, e.g. `p004_local_radius2_seed1`.
    pub name: String,
    /// arm, the arm's grid values and seed.
    pub params: BTreeMap<String, String>,
    /// The run's config.
    pub config: RunConfig,
}

/// A spec expanded at one scale: conditions x seeds, seed first.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The spec's name.
    pub name: String,
    /// The scale.
    pub scale: String,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// The conditions, in spec order.
    pub conditions: Vec<Condition>,
    /// The runs, seed first.
    pub runs: Vec<PlanRun>,
    /// Steps of the scale's report columns.
    pub report_steps: Vec<u64>,
    /// The spec's text (kept in the manifest).
    pub spec_text: String,
}

/// `a` with the fields of `b` laid over it (tables merged key by key, anything else replaced).
fn merge(a: &mut Table, b: &Table) {
    for (k, v) in b {
        match (a.get_mut(k), v) {
            (Some(Value::Table(x)), Value::Table(y)) => merge(x, y),
            _ => {
                a.insert(k.clone(), v.clone());
            }
        }
    }
}

fn seeds(spec: &str) -> Result<Vec<u64>> {
    let g = Grid::parse(&format!("seed={spec}")).context("seeds")?;
    Ok(g.axes[0]
        .values
        .iter()
        .map(|v| v.parse().expect("seed values are integers"))
        .collect())
}

impl Plan {
    /// Expands `spec` (whose text is `text`) at `scale` with `over`.
    pub fn new(spec: &Spec, text: &str, scale: &str, over: &Overrides) -> Result<Plan> {
        let sc = spec.scale.get(scale).with_context(|| {
            format!(
                "spec {} has no scale '{scale}' (it has: {})",
                spec.name,
                spec.scale.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        let seeds = seeds(over.seeds.as_deref().unwrap_or(&sc.seeds))?;
        let set: Point = match &over.set {
            Some(s) => {
                let g = Grid::parse(s).context("--set")?;
                if let Some(a) = g.axes.iter().find(|a| a.values.len() != 1) {
                    bail!("--set gives {} {} values; give one", a.key, a.values.len());
                }
                if g.axes.iter().any(|a| a.key == "seed") {
                    bail!("give seeds with --seeds, not --set");
                }
                g.points().remove(0)
            }
            None => Vec::new(),
        };
        for o in &over.only {
            if !sc.arm.iter().any(|a| &a.name == o) {
                bail!(
                    "--only {o}: spec {} has no arm {o} at scale {scale} (arms: {})",
                    spec.name,
                    sc.arm
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        let mut base = spec.base.clone();
        merge(&mut base, &sc.set);
        let base = Value::Table(base);
        // (condition, configured value) per condition, in spec order.
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        let mut names = Vec::new();
        for arm in &sc.arm {
            if arm.name.is_empty()
                || !arm
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                bail!("arm name '{}' must be letters, digits and '-'", arm.name);
            }
            if sc.arm.iter().filter(|a| a.name == arm.name).count() > 1 {
                bail!("arm {} is given twice", arm.name);
            }
            if !over.only.is_empty() && !over.only.contains(&arm.name) {
                continue;
            }
            let points = if arm.grid.trim().is_empty() {
                vec![Vec::new()]
            } else {
                let g = Grid::parse(&arm.grid).with_context(|| format!("arm {}", arm.name))?;
                if g.axes.iter().any(|a| a.key == "seed") {
                    bail!(
                        "arm {}: give seeds in the scale's `seeds`, not in the grid",
                        arm.name
                    );
                }
                g.points()
            };
            let varying: Vec<String> = if arm.grid.trim().is_empty() {
                Vec::new()
            } else {
                Grid::parse(&arm.grid)?
                    .axes
                    .into_iter()
                    .filter(|a| a.values.len() > 1)
                    .map(|a| a.key)
                    .collect()
            };
            for p in points {
                let (v, _) = apply(&base, &p).with_context(|| format!("arm {}", arm.name))?;
                let shown: Point = p
                    .iter()
                    .filter(|(k, _)| varying.contains(k))
                    .cloned()
                    .collect();
                let mut label = arm.label.clone().unwrap_or_else(|| arm.name.clone());
                for (k, x) in &shown {
                    label.push_str(&format!(", {} = {x}", if k == "radius" { "d" } else { k }));
                }
                let mut name_point: Point = vec![(String::new(), arm.name.clone())];
                name_point.extend(shown);
                let mut params: BTreeMap<String, String> = p.into_iter().collect();
                params.insert("arm".into(), arm.name.clone());
                conditions.push(Condition {
                    arm: arm.name.clone(),
                    label,
                    paper: arm.paper.clone(),
                });
                values.push((v, params));
                names.push(name_point);
            }
        }
        if conditions.is_empty() {
            bail!("the plan has no runs");
        }
        let mut runs = Vec::new();
        for &seed in &seeds {
            for (c, (v, params)) in values.iter().enumerate() {
                let mut point: Point = vec![("seed".into(), seed.to_string())];
                point.extend(set.iter().cloned());
                let (_, config) = apply(v, &point).with_context(|| {
                    format!("condition {} with seed {seed}", conditions[c].label)
                })?;
                let mut name_point = names[c].clone();
                name_point.push(("seed".into(), seed.to_string()));
                let mut params = params.clone();
                params.insert("seed".into(), seed.to_string());
                runs.push(PlanRun {
                    condition: c,
                    seed,
                    name: point_name(runs.len(), &name_point),
                    params,
                    config,
                });
            }
        }
        Ok(Plan {
            name: spec.name.clone(),
            scale: scale.to_string(),
            seeds,
            conditions,
            runs,
            report_steps: sc.report_steps.clone(),
            spec_text: text.to_string(),
        })
    }

    /// The sweep manifest of the plan (runs with identical configs share one run folder).
    pub fn manifest(&self) -> Result<Manifest> {
        let mut points: Vec<Entry> = Vec::with_capacity(self.runs.len());
        for (index, r) in self.runs.iter().enumerate() {
            let config = r.config.to_toml()?;
            let duplicate_of = points
                .iter()
                .find(|e| e.duplicate_of.is_none() && e.config == config)
                .map(|e| e.index);
            points.push(Entry {
                index,
                name: r.name.clone(),
                params: r.params.clone(),
                family: r.config.net.family.name().to_string(),
                run_dir: match duplicate_of {
                    Some(i) => points[i].run_dir.clone(),
                    None => format!("runs/{}", r.name),
                },
                config_file: format!("configs/{}.toml", r.name),
                config,
                duplicate_of,
            });
        }
        Ok(Manifest {
            version: VERSION,
            grid: format!("repro {} --scale {}", self.name, self.scale),
            base_config: self.spec_text.clone(),
            points,
        })
    }

    /// The distinct step counts of the runs, e.g. `5000` or `3000-5000`.
    pub fn steps_text(&self) -> String {
        let lo = self.runs.iter().map(|r| r.config.steps).min().unwrap_or(0);
        let hi = self.runs.iter().map(|r| r.config.steps).max().unwrap_or(0);
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}-{hi}")
        }
    }

    /// Seeds as text: `1-3` for a contiguous range, else a list.
    pub fn seeds_text(&self) -> String {
        seeds_text(&self.seeds)
    }
}

/// `1-3` for contiguous seeds, else `1, 4, 7`.
pub fn seeds_text(s: &[u64]) -> String {
    match (s.first(), s.last()) {
        (Some(a), Some(b)) if s.len() > 2 && s.windows(2).all(|w| w[1] == w[0] + 1) => {
            format!("{a}-{b}")
        }
        _ => s.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
    }
}

/// What [`REPRO_FILE`] holds: enough to rebuild the plan (the spec's text, not its name, so a
/// later gyrus with a changed built-in spec still reads the folder as it was run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The spec's name.
    pub name: String,
    /// The scale.
    pub scale: String,
    /// The command-line changes.
    #[serde(default)]
    pub overrides: Overrides,
    /// The spec's TOML text.
    pub spec: String,
}

impl Record {
    /// Reads `<dir>/repro.json`.
    pub fn load(dir: &Path) -> Result<Record> {
        let path = dir.join(REPRO_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a reproduction folder (no {REPRO_FILE}; `gyrus repro run` makes one)",
                dir.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
    }

    /// Writes `<dir>/repro.json`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        crate::fsio::write_atomic(
            &dir.join(REPRO_FILE),
            serde_json::to_string_pretty(self)? + "\n",
        )
    }

    /// The plan it describes.
    pub fn plan(&self) -> Result<Plan> {
        let spec = Spec::parse(&self.spec)
            .with_context(|| format!("the spec recorded in {REPRO_FILE}"))?;
        Plan::new(&spec, &self.spec, &self.scale, &self.overrides)
    }
}

/// Opens the reproduction in `dir`, or starts it from `record`: writes `repro.json`, the manifest
/// and the run configs. With an existing folder, `record` (if given) must be the one it holds.
pub fn prepare(dir: &Path, record: Option<&Record>) -> Result<(Record, Plan, Manifest)> {
    let existing = if dir.join(REPRO_FILE).exists() {
        Some(Record::load(dir)?)
    } else {
        None
    };
    let record = match (existing, record) {
        (Some(old), Some(new)) => {
            if old != *new {
                let what = if old.name != new.name {
                    format!("reproduction {}", old.name)
                } else if old.scale != new.scale {
                    format!("scale {}", old.scale)
                } else if old.overrides != new.overrides {
                    format!(
                        "other options ({})",
                        if old.overrides.is_empty() {
                            "none".to_string()
                        } else {
                            old.overrides.describe()
                        }
                    )
                } else {
                    "another version of the spec".to_string()
                };
                bail!(
                    "{} already holds {what}; choose another --out, or run `gyrus repro run \
                     --out {}` without a name to continue it",
                    dir.display(),
                    dir.display()
                );
            }
            old
        }
        (Some(old), None) => old,
        (None, Some(new)) => new.clone(),
        (None, None) => bail!(
            "{} holds no reproduction yet; give its name (`gyrus repro list`)",
            dir.display()
        ),
    };
    let plan = record.plan()?;
    let manifest = plan.manifest()?;
    if dir.join(crate::sweep::manifest::MANIFEST_FILE).exists() {
        let old = Manifest::load(dir)?;
        if let Some(d) = old.difference(&manifest) {
            bail!(
                "{}: its manifest.json does not match its {REPRO_FILE} ({d}); was it written by \
                 another gyrus version?",
                dir.display()
            );
        }
    }
    record.save(dir)?;
    manifest.save(dir)?;
    Ok((record, plan, manifest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(name: &str, scale: &str) -> Plan {
        let (spec, text) = Spec::find(name).unwrap();
        Plan::new(&spec, &text, scale, &Overrides::default()).unwrap()
    }

    /// (conditions, seeds, steps) of every built-in spec's cpu scale: what the README's
    /// "Reproducing the papers" table says.
    #[test]
    fn builtin_cpu_plans_are_what_the_readme_says() {
        let want: &[(&str, usize, &str, &str, &str)] = &[
            ("autapse-pools", 6, "1-3", "5000", "16x16"),
            ("lm-vs-dense", 6, "1-3", "5000", "20x20"),
            ("locality-radius", 7, "1-3", "5000", "20x20"),
            ("local-vs-random", 4, "1-3", "5000", "20x20"),
            ("cog20-curves", 3, "1-3", "3000", "16x16"),
            ("bimt-pareto", 7, "1-3", "3000", "16x16"),
        ];
        let all = Spec::builtin().unwrap();
        assert_eq!(all.len(), want.len());
        for ((spec, _), &(name, conds, seeds, steps, first_sheet)) in all.iter().zip(want) {
            assert_eq!(spec.name, name);
            let p = plan(name, "cpu");
            assert_eq!(p.conditions.len(), conds, "{name}");
            assert_eq!(p.seeds_text(), seeds, "{name}");
            assert_eq!(p.steps_text(), steps, "{name}");
            assert_eq!(p.runs.len(), conds * p.seeds.len(), "{name}");
            let s = p.runs[0].config.net.sheet;
            assert_eq!(format!("{}x{}", s.rows, s.cols), first_sheet, "{name}");
            // Seed first: the first `conds` runs are seed 1, one per condition.
            assert!(p.runs[..conds].iter().all(|r| r.seed == 1), "{name}");
            let cs: Vec<usize> = p.runs[..conds].iter().map(|r| r.condition).collect();
            assert_eq!(cs, (0..conds).collect::<Vec<_>>(), "{name}");
            // Mod-Cog claims train >= 5000 steps with T = 350.
            for r in &p.runs {
                if r.config.tasks.starts_with("modcog") {
                    assert!(
                        r.config.steps >= 5000 && r.config.seq_len() == 350,
                        "{name}"
                    );
                }
            }
            let paper = plan(name, "paper");
            assert!(paper.seeds.len() == 15, "{name}: paper scale has 15 seeds");
            assert!(
                paper.runs.iter().all(|r| r.config.steps == 10_000),
                "{name}"
            );
            assert!(
                paper.runs.iter().any(|r| r.config.net.sheet.rows == 50),
                "{name}: paper scale trains 50 x 50"
            );
        }
    }

    #[test]
    fn overrides_shrink_a_plan_and_manifests_dedup() {
        let (spec, text) = Spec::find("locality-radius").unwrap();
        let over = Overrides {
            seeds: Some("2".into()),
            set: Some("steps=40; eval_trials=4".into()),
            only: vec!["local".into()],
        };
        let p = Plan::new(&spec, &text, "cpu", &over).unwrap();
        assert_eq!(p.conditions.len(), 6);
        assert!(p
            .runs
            .iter()
            .all(|r| r.seed == 2 && r.config.steps == 40 && r.config.eval_trials == 4));
        assert_eq!(p.runs[1].name, "p001_local_radius2_seed2");
        assert_eq!(p.conditions[1].label, "LM-RNN, d = 2");
        let m = p.manifest().unwrap();
        assert_eq!(m.points.len(), 6);
        assert!(m.points.iter().all(|e| e.duplicate_of.is_none()));
        assert_eq!(m.points[1].params["arm"], "local");
        assert_eq!(m.points[1].params["radius"], "2");
        let e = |o: Overrides| format!("{:#}", Plan::new(&spec, &text, "cpu", &o).unwrap_err());
        assert!(e(Overrides {
            only: vec!["blob".into()],
            ..Default::default()
        })
        .contains("no arm blob"));
        assert!(e(Overrides {
            set: Some("steps=1,2".into()),
            ..Default::default()
        })
        .contains("give one"));
        assert!(e(Overrides {
            set: Some("seed=3".into()),
            ..Default::default()
        })
        .contains("--seeds"));
        let bad = Plan::new(&spec, &text, "huge", &Overrides::default()).unwrap_err();
        assert!(bad.to_string().contains("cpu, paper"), "{bad}");
    }

    #[test]
    fn bad_specs_are_refused_with_a_reason() {
        let ok = "name = \"x\"\ntitle = \"t\"\nsource = \"s\"\nclaim = \"c\"\n[base]\n\
                  tasks = \"go,anti\"\n[base.net]\nsheet = { rows = 3, cols = 3 }\n\
                  family = { kind = \"dense\" }\n\
                  [scale.cpu]\nseeds = \"1..2\"\nset = { steps = 10 }\n[[scale.cpu.arm]]\n\
                  name = \"a\"\ngrid = \"family=local; d=1,2\"\n";
        let paper = "[scale.paper]\nseeds = \"1\"\n[[scale.paper.arm]]\nname = \"b\"\n";
        let spec = Spec::parse(&format!("{ok}{paper}")).unwrap();
        let p = Plan::new(&spec, ok, "cpu", &Overrides::default()).unwrap();
        assert_eq!(p.runs.len(), 4);
        assert_eq!(p.runs[3].name, "p003_a_radius2_seed2");
        let e = |t: &str| format!("{:#}", Spec::parse(t).unwrap_err());
        assert!(e(ok).contains("no [scale.paper]"));
        assert!(e(&format!("{ok}{paper}").replace("d=1,2", "d=1; seed=1")).contains("seeds"));
        assert!(e(&format!("{ok}{paper}").replace("d=1,2", "colour=red")).contains("colour"));
        assert!(
            e(&format!("{ok}{paper}").replace("name = \"a\"", "name = \"a b\""))
                .contains("letters")
        );
        assert!(e(&format!("{ok}{paper}x = 1\n")).contains("unknown field"));
    }
}
