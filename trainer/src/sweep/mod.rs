//! Sweeps: a grid of run configs ([`grid`]), written down as a manifest ([`manifest`]), trained by
//! a backend ([`local`]: child processes on this machine; [`slurm`]: one Slurm job array), with
//! each point's state read back from its run folder ([`status`]) and the trained networks
//! measured for Pareto plots ([`results`]).
//!
//! Sweep folder layout: `manifest.json`, `configs/<name>.toml` (the point's full config) and
//! `runs/<name>/` (an ordinary run folder, plus `sweep.log` and, after a failed attempt,
//! `sweep-failed.txt`), and `sweep.lock` while a local sweep runs. A backend needs only the manifest: for point `index` it runs
//! [`status::train_args`] (`gyrus train --config ... --out ...` or `--resume ...`) as given by
//! [`status::action`]; a Slurm job array can map `SLURM_ARRAY_TASK_ID` to `index`.

pub mod grid;
pub mod local;
pub mod manifest;
pub mod results;
pub mod slurm;
pub mod status;

use anyhow::{bail, Context, Result};
use manifest::{Manifest, MANIFEST_FILE};
use std::path::Path;

/// Opens the sweep in `dir`, or creates it from `grid` and the base config file `base`.
///
/// With an existing manifest, `grid` and `base` may be left out; if given they must expand to the
/// same points and configs (so a restart cannot mix two sweeps in one folder).
pub fn prepare(dir: &Path, grid: Option<&str>, base: Option<&Path>) -> Result<Manifest> {
    let built = match (grid, base) {
        (Some(g), Some(b)) => {
            let text = std::fs::read_to_string(b)
                .with_context(|| format!("reading base config {}", b.display()))?;
            Some(
                Manifest::build(g, &text)
                    .with_context(|| format!("base config {}", b.display()))?,
            )
        }
        (None, None) => None,
        _ => bail!(
            "give both --grid and --base (or neither, to continue the sweep in {})",
            dir.display()
        ),
    };
    let existing = if dir.join(MANIFEST_FILE).exists() {
        Some(Manifest::load(dir)?)
    } else {
        None
    };
    let m = match (existing, built) {
        (Some(old), Some(new)) => {
            if let Some(d) = old.difference(&new) {
                bail!(
                    "{} already holds a different sweep ({d}); choose another --out, or leave out \
                     --grid and --base to continue it",
                    dir.display()
                );
            }
            old
        }
        (Some(old), None) => old,
        (None, Some(new)) => new,
        (None, None) => bail!(
            "{} holds no sweep yet; give --grid SPEC and --base run.toml",
            dir.display()
        ),
    };
    m.save(dir)?;
    Ok(m)
}
