//! Learning curves: mean task performance against gradient step, one line per run.

use super::{Anchor, Canvas, Figure};
use anyhow::{ensure, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

const PLOT_W: i32 = 640;
const H: u32 = 560;
const LEFT: i32 = 80;
const LEGEND_GAP: i32 = 70;
const TOP: i32 = 80;
const BOTTOM: i32 = 70;

const COLOURS: [RGBColor; 7] = super::OKABE_ITO;

/// One curve: a label, (step, performance in [0, 1]) points and, for a mean over runs, the band
/// (lowest, highest) of the runs at each point.
pub struct Curve {
    /// Legend label.
    pub label: String,
    /// Points in step order.
    pub points: Vec<(f64, f64)>,
    /// Per point, the range over the runs averaged (empty for a single run).
    pub band: Vec<(f64, f64)>,
}

/// `colour` mixed with white: `t` = 0 keeps it, 1 gives white.
fn lighten(colour: RGBColor, t: f64) -> RGBColor {
    let mix = |c: u8| (f64::from(c) + (255.0 - f64::from(c)) * t).round() as u8;
    RGBColor(mix(colour.0), mix(colour.1), mix(colour.2))
}

/// Several runs' learning curves on one pair of axes.
pub struct CurvesFigure {
    /// The curves.
    pub curves: Vec<Curve>,
    /// Title above the axes.
    pub title: String,
    /// Label of the y axis.
    pub y_label: String,
}

impl CurvesFigure {
    fn legend_width(&self) -> i32 {
        self.curves
            .iter()
            .map(|c| super::text_width(&c.label, 13.0))
            .max()
            .unwrap_or(0)
    }

    fn x_max(&self) -> f64 {
        self.curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.0))
            .fold(1.0, f64::max)
    }
}

/// A "nice" tick step for a range: 1, 2 or 5 times a power of ten, about `n` ticks.
fn tick_step(range: f64, n: f64) -> f64 {
    let raw = range / n;
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

impl Figure for CurvesFigure {
    fn size(&self) -> (u32, u32) {
        (
            (LEFT + PLOT_W + LEGEND_GAP + self.legend_width() + 20) as u32,
            H,
        )
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        ensure!(!self.curves.is_empty(), "no curves to draw");
        c.fill(&WHITE)?;
        let (x0, x1) = (LEFT, LEFT + PLOT_W);
        let (y0, y1) = (TOP, H as i32 - BOTTOM);
        let x_max = self.x_max();
        let px = |x: f64| x0 + ((x / x_max) * f64::from(x1 - x0)).round() as i32;
        let py = |y: f64| y1 - ((y.clamp(0.0, 1.0)) * f64::from(y1 - y0)).round() as i32;
        let grey = RGBColor(225, 225, 225);
        let centre: Anchor = (HPos::Center, VPos::Top);
        let right: Anchor = (HPos::Right, VPos::Center);
        for k in 0..=10 {
            let y = f64::from(k) / 10.0;
            c.line(&[(x0, py(y)), (x1, py(y))], grey, 1)?;
            if k % 2 == 0 {
                c.text(&format!("{y:.1}"), 13.0, (x0 - 8, py(y)), right)?;
            }
        }
        let step = tick_step(x_max, 6.0);
        let mut x = 0.0;
        while x <= x_max + 1e-9 {
            c.line(&[(px(x), y1), (px(x), y1 + 5)], BLACK, 1)?;
            c.text(&format!("{x}"), 13.0, (px(x), y1 + 9), centre)?;
            x += step;
        }
        c.line(&[(x0, y0), (x0, y1), (x1, y1)], BLACK, 1)?;
        c.text("gradient step", 15.0, ((x0 + x1) / 2, y1 + 34), centre)?;
        c.text(
            &self.y_label,
            15.0,
            (x0 - 50, y0 - 30),
            (HPos::Left, VPos::Top),
        )?;
        c.text(&self.title, 17.0, ((x0 + x1) / 2, 12), centre)?;
        for (i, curve) in self.curves.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            if curve.band.len() == curve.points.len() && curve.points.len() > 1 {
                let upper = curve
                    .points
                    .iter()
                    .zip(&curve.band)
                    .map(|(p, b)| (px(p.0), py(b.1)));
                let lower = curve
                    .points
                    .iter()
                    .zip(&curve.band)
                    .rev()
                    .map(|(p, b)| (px(p.0), py(b.0)));
                let outline: Vec<(i32, i32)> = upper.chain(lower).collect();
                c.polygon(&outline, lighten(colour, 0.75))?;
            }
        }
        for (i, curve) in self.curves.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let pts: Vec<(i32, i32)> = curve.points.iter().map(|&(x, y)| (px(x), py(y))).collect();
            if pts.len() > 1 {
                c.line(&pts, colour, 2)?;
            }
            for &(x, y) in &pts {
                c.rect((x - 2, y - 2), (x + 2, y + 2), colour)?;
            }
            let ly = y0 + 10 + 24 * i as i32;
            c.line(&[(x1 + 16, ly), (x1 + 44, ly)], colour, 3)?;
            c.text(
                &curve.label,
                13.0,
                (x1 + 52, ly),
                (HPos::Left, VPos::Center),
            )?;
        }
        Ok(())
    }
}

/// The mean over runs (each a list of (step, performance)) at the steps every run has, with the
/// (lowest, highest) band; a single run gives its own points and no band. `--mean` of
/// `gyrus plot curves` and `gyrus repro report` draw these.
pub fn mean_curve(label: String, runs: &[Vec<(u64, f64)>]) -> Result<Curve> {
    if runs.len() == 1 {
        let points = runs[0].iter().map(|&(s, y)| (s as f64, y)).collect();
        return Ok(Curve {
            label,
            points,
            band: Vec::new(),
        });
    }
    let steps: Vec<u64> = runs[0]
        .iter()
        .map(|p| p.0)
        .filter(|s| runs.iter().all(|r| r.iter().any(|p| p.0 == *s)))
        .collect();
    if steps.is_empty() {
        anyhow::bail!("the runs of `{label}` share no evaluation step; they cannot be averaged");
    }
    let (mut points, mut band) = (Vec::new(), Vec::new());
    for s in steps {
        let ys: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.iter().find(|p| p.0 == s).map(|p| p.1))
            .collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        points.push((s as f64, mean));
        band.push((lo, hi));
    }
    Ok(Curve {
        label: format!("{label} (mean of {})", runs.len()),
        points,
        band,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(3000.0, 6.0), 500.0);
        assert_eq!(tick_step(100.0, 6.0), 20.0);
        assert_eq!(tick_step(7.0, 6.0), 2.0);
    }

    #[test]
    fn means_use_shared_steps() {
        let runs = vec![
            vec![(10, 0.2), (20, 0.4), (30, 0.9)],
            vec![(10, 0.4), (20, 0.8)],
        ];
        let c = mean_curve("x".into(), &runs).unwrap();
        assert_eq!(c.points.len(), 2);
        assert!((c.points[1].1 - 0.6).abs() < 1e-12);
        assert_eq!(c.band[0], (0.2, 0.4));
        assert!(mean_curve("y".into(), &[vec![(1, 0.1)], vec![(2, 0.2)]]).is_err());
        let single = mean_curve("z".into(), &runs[..1]).unwrap();
        assert!(single.band.is_empty() && single.points.len() == 3);
    }
}
