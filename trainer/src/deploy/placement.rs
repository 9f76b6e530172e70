//! Placement of a model's hidden units onto a grid of cores, each core holding a tile of
//! `tile_rows x tile_cols` sheet cells.
//!
//! [`Placement::Sheet`] keeps the sheet's own layout: the unit at sheet cell (r, c) goes to core
//! (r / tile_rows, c / tile_cols). [`Placement::Random`] is the control: the same set of occupied
//! cells, permuted among the units by a seeded shuffle, so every core holds as many units as under
//! the sheet placement, but neighbours on the sheet land on unrelated cores.

use crate::model::Sheet;
use anyhow::{bail, Result};
use gyrus_runtime::format::ModelView;
use gyrus_runtime::tasks::Rng;

/// How units are assigned to cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// By sheet position.
    Sheet,
    /// A seeded random permutation of the sheet positions among the units.
    Random(u64),
}

impl Placement {
    /// Short name for tables.
    pub fn name(&self) -> &'static str {
        match self {
            Placement::Sheet => "sheet",
            Placement::Random(_) => "random",
        }
    }
}

/// The core grid and the core of every unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Core rows.
    pub rows: usize,
    /// Core columns.
    pub cols: usize,
    /// Core index (`row * cols + col`) of each hidden unit.
    pub core_of: Vec<usize>,
}

impl Layout {
    /// Places the units of `model` on cores of `tile = (rows, cols)` sheet cells.
    pub fn new(model: &ModelView<'_>, tile: (u16, u16), placement: Placement) -> Result<Self> {
        let (th, tw) = (usize::from(tile.0), usize::from(tile.1));
        if th == 0 || tw == 0 {
            bail!("the tile must be at least 1 x 1");
        }
        let (sr, sc) = model.sheet();
        let (rows, cols) = (usize::from(sr).div_ceil(th), usize::from(sc).div_ceil(tw));
        let mut cells: Vec<(u16, u16)> = (0..model.n_hidden())
            .map(|u| {
                model
                    .position(u)
                    .ok_or_else(|| anyhow::anyhow!("unit {u} has no sheet position"))
            })
            .collect::<Result<_>>()?;
        if let Placement::Random(seed) = placement {
            let mut rng = Rng::new(seed);
            for i in (1..cells.len()).rev() {
                let j = rng.below(i as u32 + 1) as usize;
                cells.swap(i, j);
            }
        }
        let core_of = cells
            .iter()
            .map(|&(r, c)| (usize::from(r) / th) * cols + usize::from(c) / tw)
            .collect();
        Ok(Layout {
            rows,
            cols,
            core_of,
        })
    }

    /// Number of cores.
    pub fn n_cores(&self) -> usize {
        self.rows * self.cols
    }
}

/// Parses a tile size `RxC` (e.g. `4x4`).
pub fn parse_tile(s: &str) -> Result<(u16, u16)> {
    let Ok(tile) = s.parse::<Sheet>() else {
        bail!("bad tile size {s:?}: expected ROWSxCOLS, e.g. 4x4");
    };
    let side = |v: usize| -> Result<u16> {
        match u16::try_from(v) {
            Ok(v) if v > 0 => Ok(v),
            _ => bail!("bad tile size {s:?}: expected ROWSxCOLS with positive integers, e.g. 4x4"),
        }
    };
    Ok((side(tile.rows)?, side(tile.cols)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_parse() {
        assert_eq!(parse_tile("4x4").unwrap(), (4, 4));
        assert_eq!(parse_tile("2X8").unwrap(), (2, 8));
        assert!(parse_tile("0x4").is_err());
        assert!(parse_tile("4").is_err());
        assert!(parse_tile("ax4").is_err());
    }
}
