//! One step's traffic on a mesh of cores (`gyrus deploy sim --traffic-png`): cores as grey
//! squares, each directed link between neighbouring cores as a bar beside the link (east/south
//! links on one side, west/north on the other), coloured by its load (viridis, one scale shared
//! by all panels; unused links light grey). One panel per model, side by side.

use super::{viridis, Canvas, Figure};
use crate::deploy::mesh::DIRECTIONS;
use anyhow::{ensure, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

const CELL: i32 = 56;
const MARGIN: i32 = 30;
const TITLE: i32 = 50;
const FOOT: i32 = 30;

/// One mesh and its link loads in one step.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshPanel {
    /// Title above the panel.
    pub title: String,
    /// Core rows.
    pub rows: usize,
    /// Core columns.
    pub cols: usize,
    /// Link loads, entry `core * 4 + direction` (east, west, south, north), as
    /// [`crate::deploy::mesh::Mesh::loads`].
    pub loads: Vec<u32>,
}

/// Panels side by side on a shared colour scale.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshTrafficFigure {
    /// The panels.
    pub panels: Vec<MeshPanel>,
}

impl MeshTrafficFigure {
    fn max_load(&self) -> u32 {
        self.panels
            .iter()
            .flat_map(|p| p.loads.iter().copied())
            .max()
            .unwrap_or(0)
    }

    fn panel_width(p: &MeshPanel) -> i32 {
        (CELL * p.cols as i32 + 2 * MARGIN).max(super::text_width(&p.title, 13.0) + 2 * MARGIN)
    }
}

impl Figure for MeshTrafficFigure {
    fn size(&self) -> (u32, u32) {
        let w: i32 = self.panels.iter().map(Self::panel_width).sum();
        let h = self
            .panels
            .iter()
            .map(|p| CELL * p.rows as i32)
            .max()
            .unwrap_or(0);
        (w.max(300) as u32, (TITLE + h + 2 * MARGIN + FOOT) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, canvas: &Canvas<'_, DB>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        for p in &self.panels {
            ensure!(
                p.loads.len() == p.rows * p.cols * DIRECTIONS,
                "panel {:?}: {} link loads for a {} x {} mesh",
                p.title,
                p.loads.len(),
                p.rows,
                p.cols
            );
        }
        canvas.fill(&WHITE)?;
        let max = self.max_load();
        let (_, height) = self.size();
        let colour = |l: u32| {
            if l == 0 || max == 0 {
                RGBColor(225, 225, 225)
            } else {
                viridis(f64::from(l) / f64::from(max))
            }
        };
        let mut x0 = 0;
        for p in &self.panels {
            canvas.text(
                &p.title,
                13.0,
                (x0 + Self::panel_width(p) / 2, TITLE / 2),
                (HPos::Center, VPos::Center),
            )?;
            let origin = (x0 + MARGIN, TITLE + MARGIN);
            let centre = |r: usize, c: usize| {
                (
                    origin.0 + CELL * c as i32 + CELL / 2,
                    origin.1 + CELL * r as i32 + CELL / 2,
                )
            };
            let half = CELL / 4;
            for r in 0..p.rows {
                for c in 0..p.cols {
                    let (cx, cy) = centre(r, c);
                    canvas.rect(
                        (cx - half, cy - half),
                        (cx + half, cy + half),
                        RGBColor(150, 150, 150),
                    )?;
                    let k = (r * p.cols + c) * DIRECTIONS;
                    let off = 5;
                    if c + 1 < p.cols {
                        let (nx, _) = centre(r, c + 1);
                        let (a, b) = (cx + half, nx - half);
                        canvas.line(&[(a, cy - off), (b, cy - off)], colour(p.loads[k]), 5)?;
                        let back = p.loads[k + DIRECTIONS + 1];
                        canvas.line(&[(a, cy + off), (b, cy + off)], colour(back), 5)?;
                    }
                    if r + 1 < p.rows {
                        let (_, ny) = centre(r + 1, c);
                        let (a, b) = (cy + half, ny - half);
                        canvas.line(&[(cx - off, a), (cx - off, b)], colour(p.loads[k + 2]), 5)?;
                        let back = p.loads[k + p.cols * DIRECTIONS + 3];
                        canvas.line(&[(cx + off, a), (cx + off, b)], colour(back), 5)?;
                    }
                }
            }
            x0 += Self::panel_width(p);
        }
        canvas.text(
            &format!("link load (packets in the step): grey 0, viridis 1 .. {max}"),
            12.0,
            (8, height as i32 - FOOT / 2),
            (HPos::Left, VPos::Center),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_panels_and_refuses_bad_loads() {
        let mut loads = vec![0; 2 * 3 * DIRECTIONS];
        loads[0] = 3;
        loads[DIRECTIONS + 2] = 1;
        let fig = MeshTrafficFigure {
            panels: vec![
                MeshPanel {
                    title: "a".into(),
                    rows: 2,
                    cols: 3,
                    loads: loads.clone(),
                },
                MeshPanel {
                    title: "b".into(),
                    rows: 2,
                    cols: 3,
                    loads,
                },
            ],
        };
        let dir = std::env::temp_dir().join(format!("gyrus-mesh-{}", std::process::id()));
        let svg = dir.join("m.svg");
        crate::plot::save(&fig, &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(
            text.contains("<polyline") || text.contains("<path"),
            "no links"
        );
        let mut bad = fig.clone();
        bad.panels[0].loads.pop();
        assert!(crate::plot::save(&bad, &dir.join("bad.svg")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
