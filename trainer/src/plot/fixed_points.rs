//! Fixed and slow points with the evaluation trajectories, projected on the top three principal
//! components of the trajectories: three panels (PC1-PC2, PC1-PC3, PC2-PC3).

use super::{plot_error, Anchor, Canvas, Figure};
use anyhow::{ensure, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

const PANEL: i32 = 330;
const GAP: i32 = 60;
const LEFT: i32 = 50;
const TOP: i32 = 70;
const BOTTOM: i32 = 90;

/// One point to mark.
#[derive(Clone, Debug, PartialEq)]
pub struct Marked {
    /// Coordinates on PC1..PC3.
    pub pc: [f64; 3],
    /// Largest |eigenvalue| < 1.
    pub stable: bool,
    /// q below the fixed-point threshold (else a slow point).
    pub fixed: bool,
}

/// Trajectories (grey lines, a dot at each start) and points (stable: filled blue; unstable:
/// filled red; slow points drawn hollow) in the top-3 PCA planes.
pub struct FixedPointFigure {
    /// Title.
    pub title: String,
    /// Each trajectory's states on PC1..PC3.
    pub trajectories: Vec<Vec<[f64; 3]>>,
    /// The points.
    pub points: Vec<Marked>,
    /// Fraction of the trajectories' variance on each PC.
    pub explained: [f64; 3],
}

const STABLE: RGBColor = RGBColor(0, 114, 178);
const UNSTABLE: RGBColor = RGBColor(213, 94, 0);
const TRAJ: RGBColor = RGBColor(190, 190, 190);

fn dot<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    at: (i32, i32),
    r: i32,
    colour: RGBColor,
    filled: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = if filled {
        colour.filled()
    } else {
        colour.stroke_width(2)
    };
    c.area.draw(&Circle::new(at, r, style)).map_err(plot_error)
}

impl Figure for FixedPointFigure {
    fn size(&self) -> (u32, u32) {
        (
            (LEFT + 3 * PANEL + 2 * GAP + 30) as u32,
            (TOP + PANEL + BOTTOM) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        ensure!(
            !self.trajectories.is_empty() || !self.points.is_empty(),
            "nothing to draw"
        );
        c.fill(&WHITE)?;
        let all = self
            .trajectories
            .iter()
            .flatten()
            .chain(self.points.iter().map(|p| &p.pc));
        let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        for v in all {
            for d in 0..3 {
                if v[d].is_finite() {
                    lo[d] = lo[d].min(v[d]);
                    hi[d] = hi[d].max(v[d]);
                }
            }
        }
        for d in 0..3 {
            if hi[d].is_nan() || lo[d].is_nan() || hi[d] <= lo[d] {
                let m = if lo[d].is_finite() { lo[d] } else { 0.0 };
                (lo[d], hi[d]) = (m - 1.0, m + 1.0);
            }
            let pad = 0.05 * (hi[d] - lo[d]);
            lo[d] -= pad;
            hi[d] += pad;
        }
        let centre: Anchor = (HPos::Center, VPos::Top);
        c.text(
            &self.title,
            17.0,
            ((LEFT + 3 * PANEL + 2 * GAP) / 2, 12),
            centre,
        )?;
        for (k, (dx, dy)) in [(0usize, 1usize), (0, 2), (1, 2)].into_iter().enumerate() {
            let x0 = LEFT + k as i32 * (PANEL + GAP);
            let (y0, y1) = (TOP, TOP + PANEL);
            let px = |v: &[f64; 3]| {
                let fx = (v[dx] - lo[dx]) / (hi[dx] - lo[dx]);
                let fy = (v[dy] - lo[dy]) / (hi[dy] - lo[dy]);
                (
                    x0 + (fx * f64::from(PANEL)).round() as i32,
                    y1 - (fy * f64::from(PANEL)).round() as i32,
                )
            };
            c.line(
                &[
                    (x0, y0),
                    (x0, y1),
                    (x0 + PANEL, y1),
                    (x0 + PANEL, y0),
                    (x0, y0),
                ],
                BLACK,
                1,
            )?;
            for tr in &self.trajectories {
                let pts: Vec<(i32, i32)> = tr.iter().map(px).collect();
                if pts.len() > 1 {
                    c.line(&pts, TRAJ, 1)?;
                }
                if let Some(&first) = pts.first() {
                    dot(c, first, 2, RGBColor(120, 120, 120), true)?;
                }
            }
            for p in &self.points {
                let colour = if p.stable { STABLE } else { UNSTABLE };
                dot(c, px(&p.pc), 5, colour, p.fixed)?;
            }
            let name = |d: usize| format!("PC{} ({:.0}%)", d + 1, 100.0 * self.explained[d]);
            c.text(&name(dx), 14.0, (x0 + PANEL / 2, y1 + 8), centre)?;
            c.text(&name(dy), 14.0, (x0, y0 - 20), (HPos::Left, VPos::Top))?;
        }
        // Legend.
        let y = TOP + PANEL + 45;
        let mut x = LEFT;
        let entries: [(&str, RGBColor, bool); 4] = [
            ("stable fixed point", STABLE, true),
            ("unstable fixed point", UNSTABLE, true),
            ("slow point (hollow)", UNSTABLE, false),
            ("trajectory start", RGBColor(120, 120, 120), true),
        ];
        for (label, colour, filled) in entries {
            dot(c, (x + 6, y + 8), 5, colour, filled)?;
            c.text(label, 13.0, (x + 16, y + 8), (HPos::Left, VPos::Center))?;
            x += 40 + super::text_width(label, 13.0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_png_and_svg() {
        let fig = FixedPointFigure {
            title: "test".into(),
            trajectories: vec![vec![[0.0, 0.0, 0.0], [1.0, 2.0, -1.0], [2.0, 1.0, 0.5]]],
            points: vec![
                Marked {
                    pc: [2.0, 1.0, 0.5],
                    stable: true,
                    fixed: true,
                },
                Marked {
                    pc: [0.5, 0.5, 0.0],
                    stable: false,
                    fixed: false,
                },
            ],
            explained: [0.6, 0.3, 0.05],
        };
        let dir = std::env::temp_dir().join(format!("gyrus-fp-plot-{}", std::process::id()));
        for ext in ["png", "svg"] {
            let path = dir.join(format!("fp.{ext}"));
            crate::plot::save(&fig, &path).unwrap();
            assert!(std::fs::metadata(&path).unwrap().len() > 1000);
        }
        let svg = std::fs::read_to_string(dir.join("fp.svg")).unwrap();
        assert!(svg.contains("PC3 (5%)") && svg.contains("stable fixed point"));
        let empty = FixedPointFigure {
            title: String::new(),
            trajectories: vec![],
            points: vec![],
            explained: [0.0; 3],
        };
        assert!(crate::plot::save(&empty, &dir.join("e.png")).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
