//! The sweep manifest, `manifest.json`: the grid, the base config and one entry per point, with
//! everything a backend needs to train the point without re-expanding the grid.
//!
//! Paths in it are relative to the sweep folder, so the folder can be moved (e.g. to a cluster).
//! Entry `index` is the point's position in the grid and the task id of a Slurm job array.

use super::grid::{apply, point_name, Grid};
use crate::train::config::RunConfig;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The manifest file name inside a sweep folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The manifest format version.
pub const VERSION: u32 = 1;

/// A whole sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`VERSION`]).
    pub version: u32,
    /// The grid spec as given.
    pub grid: String,
    /// The base config's TOML text.
    pub base_config: String,
    /// One entry per point, in grid order (`points[i].index == i`).
    pub points: Vec<Entry>,
}

/// One point of the sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the grid (0-based).
    pub index: usize,
    /// Folder-safe name, e.g. `p003_lambda1e-5_A0_seed1`.
    pub name: String,
    /// The point's grid values, key -> value as written.
    pub params: BTreeMap<String, String>,
    /// The family the point trains (after the lambda/A convention): `dense`, `l1`, `bimt`, ...
    pub family: String,
    /// The run folder, relative to the sweep folder (`runs/<name>`).
    pub run_dir: String,
    /// The config file given to `gyrus train --config`, relative to the sweep folder
    /// (`configs/<name>.toml`; `gyrus train` copies it into the run folder as `config.toml`).
    pub config_file: String,
    /// The full run config (TOML), every field written out.
    pub config: String,
    /// The earlier point with exactly the same config, if any (e.g. lambda = 0 with different A
    /// values: all dense). Such a point shares that point's run folder and is not trained again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<usize>,
}

/// The config text as this gyrus writes it (every field, defaults of fields added since filled
/// in), or the text itself when it does not parse.
fn normalised(config: &str) -> String {
    toml::from_str::<RunConfig>(config)
        .ok()
        .and_then(|c| c.to_toml().ok())
        .unwrap_or_else(|| config.to_string())
}

impl Entry {
    /// Whether `other` is the same point: equal but for the config's text, which may come from
    /// an older gyrus that did not write a field added since (then its default, which is what
    /// that gyrus trained with, fills it in).
    fn same_point(&self, other: &Entry) -> bool {
        let mut a = self.clone();
        let mut b = other.clone();
        if a.config != b.config {
            a.config = normalised(&a.config);
            b.config = normalised(&b.config);
        }
        a == b
    }
}

impl Manifest {
    /// Expands `grid` on the base config text `base_toml`; fails on the first point that does not
    /// give a valid config, naming it.
    pub fn build(grid: &str, base_toml: &str) -> Result<Manifest> {
        let g = Grid::parse(grid)?;
        let base: toml::Value =
            toml::from_str(base_toml).context("the base config is not valid TOML")?;
        let mut points = Vec::with_capacity(g.len());
        for (index, point) in g.points().into_iter().enumerate() {
            let name = point_name(index, &point);
            let (_, cfg) = apply(&base, &point).with_context(|| {
                let desc: Vec<String> = point.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("grid point {index} ({})", desc.join(" "))
            })?;
            let config = cfg.to_toml()?;
            let duplicate_of = points
                .iter()
                .find(|e: &&Entry| e.duplicate_of.is_none() && e.config == config)
                .map(|e| e.index);
            points.push(Entry {
                index,
                family: cfg.net.family.name().to_string(),
                run_dir: match duplicate_of {
                    Some(i) => points[i].run_dir.clone(),
                    None => format!("runs/{name}"),
                },
                config_file: format!("configs/{name}.toml"),
                config,
                duplicate_of,
                params: point.into_iter().collect(),
                name,
            });
        }
        Ok(Manifest {
            version: VERSION,
            grid: grid.to_string(),
            base_config: base_toml.to_string(),
            points,
        })
    }

    /// Reads `<dir>/manifest.json`.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a sweep folder (no {MANIFEST_FILE})",
                dir.display()
            )
        })?;
        let m: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid manifest", path.display()))?;
        if m.version != VERSION {
            bail!(
                "{} has manifest version {}, this gyrus reads {VERSION}",
                path.display(),
                m.version
            );
        }
        if m.points.iter().enumerate().any(|(i, e)| {
            e.index != i
                || e.duplicate_of
                    .is_some_and(|d| d >= i || m.points[d].duplicate_of.is_some())
        }) {
            bail!(
                "{}: point indices are not 0, 1, 2, ... (or a duplicate_of does not name an earlier original)",
                path.display()
            );
        }
        Ok(m)
    }

    /// Writes `<dir>/manifest.json` and every point's config file (creating the folders).
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir.join("configs"))
            .with_context(|| format!("creating {}", dir.display()))?;
        for e in &self.points {
            let path = dir.join(&e.config_file);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(e.config.as_str()) {
                crate::fsio::write_atomic(&path, &e.config)?;
            }
        }
        crate::fsio::write_atomic(
            &dir.join(MANIFEST_FILE),
            serde_json::to_string_pretty(self)? + "\n",
        )
    }

    /// The first difference between the points of two manifests, if any (used to refuse running a
    /// different grid or base into an existing sweep folder).
    pub fn difference(&self, other: &Manifest) -> Option<String> {
        if self.points.len() != other.points.len() {
            return Some(format!(
                "{} points instead of {}",
                other.points.len(),
                self.points.len()
            ));
        }
        self.points
            .iter()
            .zip(&other.points)
            .find(|(a, b)| !a.same_point(b))
            .map(|(a, b)| {
                if a.name != b.name {
                    format!("point {} is {} instead of {}", a.index, b.name, a.name)
                } else {
                    format!("point {} has a different config", a.name)
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "tasks = \"go,anti\"\nsteps = 20\n[net]\nsheet = { rows = 3, cols = 3 }\n\
                        family = { kind = \"l1\", lambda = 1e-4 }\n";

    /// A manifest written by an older gyrus, whose configs lack a field added since (`chunk`),
    /// is the same sweep; a changed value is not.
    #[test]
    fn configs_from_before_a_new_field_are_the_same_points() {
        let m = Manifest::build("lambda=0,1e-3; seed=1..2", BASE).unwrap();
        let mut old = m.clone();
        for e in &mut old.points {
            assert!(e.config.contains("chunk = 64"), "{}", e.config);
            e.config = e.config.replace("chunk = 64\n", "");
        }
        assert_ne!(old.points[0].config, m.points[0].config);
        assert_eq!(m.difference(&old), None);
        let mut changed = old.clone();
        changed.points[1].config = changed.points[1].config.replace("steps = 20", "steps = 21");
        assert_eq!(
            m.difference(&changed).as_deref(),
            Some("point p001_lambda0_seed2 has a different config")
        );
    }

    #[test]
    fn manifest_lists_every_point_and_round_trips() {
        let m = Manifest::build("lambda=0,1e-3; seed=1..2", BASE).unwrap();
        assert_eq!(m.points.len(), 4);
        let e = &m.points[3];
        assert_eq!(e.index, 3);
        assert_eq!(e.name, "p003_lambda1e-3_seed2");
        assert_eq!(e.run_dir, "runs/p003_lambda1e-3_seed2");
        assert_eq!(e.config_file, "configs/p003_lambda1e-3_seed2.toml");
        assert_eq!(e.params["lambda"], "1e-3");
        assert_eq!(e.params["seed"], "2");
        assert_eq!(e.family, "l1");
        assert_eq!(m.points[0].family, "dense");
        let cfg: crate::train::config::RunConfig = toml::from_str(&e.config).unwrap();
        assert_eq!(
            (cfg.seed, cfg.steps, cfg.net.family.l1_lambda()),
            (2, 20, 1e-3)
        );
        let dir = std::env::temp_dir().join(format!("gyrus-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        m.save(&dir).unwrap();
        let back = Manifest::load(&dir).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            std::fs::read_to_string(dir.join(&e.config_file)).unwrap(),
            e.config
        );
        assert!(m.difference(&back).is_none());
        let other = Manifest::build("lambda=0,1e-3; seed=1..3", BASE).unwrap();
        assert!(m.difference(&other).unwrap().contains("6 points"));
        let other = Manifest::build("lambda=0,1e-3; seed=1..2", &BASE.replace("20", "30")).unwrap();
        assert!(m.difference(&other).unwrap().contains("different config"));
        std::fs::write(dir.join(MANIFEST_FILE), "{}").unwrap();
        assert!(Manifest::load(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn points_with_the_same_config_share_one_run() {
        let bimt = BASE.replace("kind = \"l1\"", "kind = \"bimt\"");
        let m = Manifest::build("lambda=0,1e-3; A=0,1", &bimt).unwrap();
        let fam: Vec<&str> = m.points.iter().map(|e| e.family.as_str()).collect();
        assert_eq!(fam, ["dense", "dense", "l1", "bimt"]);
        assert_eq!(m.points[1].duplicate_of, Some(0));
        assert_eq!(m.points[1].run_dir, m.points[0].run_dir);
        assert!(m
            .points
            .iter()
            .filter(|e| e.index != 1)
            .all(|e| e.duplicate_of.is_none()));
    }

    #[test]
    fn a_bad_point_is_named() {
        let e = format!("{:#}", Manifest::build("batch=4,0", BASE).unwrap_err());
        assert!(e.contains("grid point 1 (batch=0)"), "{e}");
    }
}
