//! |w| against connection distance for the recurrent weights (Fig. 1f of Liu et al.): one dot per
//! allowed connection (about [`MAX_POINTS`] at most: a hashed subsample beyond), x = BIMT distance D
//! (jittered a little within its grid step so the columns of dots are visible), y = |w| on a log
//! scale; the mean |w| at each distance as a line, and the active threshold as a dashed line.

use super::{Canvas, Figure};
use crate::analysis::wiring::{weight_distance, ACTIVE};
use crate::model::Network;
use anyhow::{ensure, Result};
use gyrus_runtime::tasks::mix64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

const W: u32 = 860;
const H: u32 = 560;
const LEFT: i32 = 90;
const RIGHT: i32 = 40;
const TOP: i32 = 70;
const BOTTOM: i32 = 70;
/// Most dots drawn.
pub const MAX_POINTS: usize = 40_000;

/// Recurrent weight magnitudes against the distance their connection spans.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightDistanceFigure {
    /// (D, |w|) of every allowed connection.
    pub points: Vec<(f64, f32)>,
    /// Grid step of D (1 / max(R, C)).
    pub step: f64,
    /// Title above the axes.
    pub title: String,
}

impl WeightDistanceFigure {
    /// The figure of a network's recurrent weights.
    pub fn from_network(net: &Network, name: &str) -> Self {
        let s = net.config().sheet;
        WeightDistanceFigure {
            points: weight_distance(net),
            step: 1.0 / s.rows.max(s.cols).max(1) as f64,
            title: format!("Recurrent |w| against connection distance: {name}"),
        }
    }

    /// log10 range of the y axis: whole decades around the nonzero weights.
    fn y_range(&self) -> (i32, i32) {
        let nz = self.points.iter().map(|p| p.1).filter(|&w| w > 0.0);
        let lo = nz.clone().fold(f32::INFINITY, f32::min);
        let hi = nz.fold(0.0f32, f32::max);
        if !(lo.is_finite() && hi > 0.0) {
            return (-3, 0);
        }
        let lo = (f64::from(lo).log10().floor() as i32).max(-6);
        let hi = (f64::from(hi).log10().ceil() as i32).max(lo + 1);
        (lo, hi)
    }
}

/// A hash mapped to [0, 1).
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl Figure for WeightDistanceFigure {
    fn size(&self) -> (u32, u32) {
        (W.max(super::text_width(&self.title, 17.0) as u32 + 40), H)
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        ensure!(!self.points.is_empty(), "no recurrent connections to draw");
        ensure!(self.step > 0.0, "the distance step must be positive");
        c.fill(&WHITE)?;
        let (w, _) = self.size();
        let (x0, x1) = (LEFT, w as i32 - RIGHT);
        let (y0, y1) = (TOP, H as i32 - BOTTOM);
        let d_max = self
            .points
            .iter()
            .map(|p| p.0)
            .fold(0.0, f64::max)
            .max(self.step);
        let x_hi = d_max + self.step / 2.0;
        let x_lo = -self.step / 2.0;
        let px = |d: f64| x0 + ((d - x_lo) / (x_hi - x_lo) * f64::from(x1 - x0)).round() as i32;
        let (lo, hi) = self.y_range();
        let py = |v: f64| {
            let l = v.max(10f64.powi(lo)).log10();
            y1 - ((l - f64::from(lo)) / f64::from(hi - lo) * f64::from(y1 - y0)).round() as i32
        };
        let grey = RGBColor(230, 230, 230);
        let right = (HPos::Right, VPos::Center);
        let centre = (HPos::Center, VPos::Top);
        for e in lo..=hi {
            let y = py(10f64.powi(e));
            c.line(&[(x0, y), (x1, y)], grey, 1)?;
            c.text(&format!("1e{e}"), 13.0, (x0 - 8, y), right)?;
        }
        // Distance ticks: at every grid distance when there are few, else at round values.
        let steps = (d_max / self.step).round() as usize;
        let ticks: Vec<f64> = if steps <= 10 {
            (0..=steps).map(|k| k as f64 * self.step).collect()
        } else {
            let t = [0.05, 0.1, 0.2, 0.25, 0.5, 1.0]
                .into_iter()
                .find(|t| d_max / t <= 8.0)
                .unwrap_or(1.0);
            (0..=(d_max / t + 1e-9) as usize)
                .map(|k| k as f64 * t)
                .collect()
        };
        for &d in &ticks {
            c.line(&[(px(d), y1), (px(d), y1 + 5)], BLACK, 1)?;
            let label = format!("{d:.3}");
            let label = label.trim_end_matches('0').trim_end_matches('.');
            c.text(label, 13.0, (px(d), y1 + 9), centre)?;
        }
        let stride = self.points.len().div_ceil(MAX_POINTS);
        let dot = RGBColor(31, 119, 180).mix(0.35);
        let zero = self.points.iter().filter(|p| p.1 == 0.0).count();
        for (i, &(d, wv)) in self.points.iter().enumerate() {
            // A hashed (not strided) subsample: a stride would follow the row-major order.
            if wv == 0.0 || unit(mix64(i as u64 ^ 0x5355_4253)) * stride as f64 >= 1.0 {
                continue;
            }
            let jitter = unit(mix64(i as u64)) - 0.5;
            let (x, y) = (px(d + 0.6 * self.step * jitter), py(f64::from(wv)));
            c.area
                .draw(&Rectangle::new(
                    [(x - 1, y - 1), (x + 1, y + 1)],
                    dot.filled(),
                ))
                .map_err(super::plot_error)?;
        }
        // Mean |w| at each distance (grid steps).
        let bins = (d_max / self.step).round() as usize + 1;
        let mut sum = vec![(0.0f64, 0usize); bins];
        for &(d, wv) in &self.points {
            let b = ((d / self.step).round() as usize).min(bins - 1);
            sum[b].0 += f64::from(wv);
            sum[b].1 += 1;
        }
        let mean: Vec<(i32, i32)> = sum
            .iter()
            .enumerate()
            .filter(|(_, s)| s.1 > 0 && s.0 > 0.0)
            .map(|(b, s)| (px(b as f64 * self.step), py(s.0 / s.1 as f64)))
            .collect();
        let orange = RGBColor(213, 94, 0);
        if mean.len() > 1 {
            c.line(&mean, orange, 2)?;
        }
        // Active threshold, dashed.
        let ya = py(f64::from(ACTIVE));
        let mut x = x0;
        while x < x1 {
            c.line(&[(x, ya), ((x + 8).min(x1), ya)], RGBColor(90, 90, 90), 1)?;
            x += 14;
        }
        c.line(&[(x0, y0), (x0, y1), (x1, y1)], BLACK, 1)?;
        c.text(&self.title, 17.0, (w as i32 / 2, 12), centre)?;
        let mut sub = format!(
            "{} allowed connections{}; orange: mean |w| per distance; dashed: active threshold {ACTIVE}",
            self.points.len(),
            if stride > 1 { format!(", about 1 in {stride} drawn") } else { String::new() },
        );
        if zero > 0 {
            sub += &format!("; {zero} exact zeros not shown");
        }
        c.text_colour(&sub, 12.0, (w as i32 / 2, 38), centre, RGBColor(70, 70, 70))?;
        c.text(
            "connection distance D = (|di| + |dj|) / max(R, C)",
            14.0,
            ((x0 + x1) / 2, y1 + 32),
            centre,
        )?;
        c.text("|w|", 14.0, (x0 - 60, y0 - 24), (HPos::Left, VPos::Center))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_covers_the_weights_and_the_figure_draws() {
        let fig = WeightDistanceFigure {
            points: vec![(0.0, 0.5), (0.25, 0.003), (0.5, 0.0), (0.75, 2.0)],
            step: 0.25,
            title: "t".into(),
        };
        assert_eq!(fig.y_range(), (-3, 1));
        let dir = std::env::temp_dir().join(format!("gyrus-wd-{}", std::process::id()));
        crate::plot::save(&fig, &dir.join("w.svg")).unwrap();
        let svg = std::fs::read_to_string(dir.join("w.svg")).unwrap();
        // Three nonzero dots (and the colour-bar-free frame), one exact zero noted.
        assert!(svg.contains("1 exact zeros not shown"));
        assert_eq!(
            svg.matches("opacity=\"0.35\"").count(),
            3,
            "one dot per nonzero weight"
        );
        let empty = WeightDistanceFigure {
            points: vec![],
            ..fig
        };
        assert!(crate::plot::save(&empty, &dir.join("e.png")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
