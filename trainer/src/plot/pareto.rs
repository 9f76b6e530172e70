//! Pareto plots of a sweep (as Fig. 1g,h of Liu et al., BIMT): test error against active neurons
//! (left) and against wiring length (right), every point as a marker, one frontier line per
//! family (filled markers on the frontier, hollow ones off it), log x axes when the range is wide.

use super::{Anchor, Canvas, Figure};
use crate::sweep::results::{families, pareto_front, PointMeasures};
use anyhow::{ensure, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

const PANEL_W: i32 = 520;
const H: i32 = 520;
const LEFT: i32 = 80;
const RIGHT: i32 = 30;
const TOP: i32 = 70;
const BOTTOM: i32 = 70;
const LEGEND_W: i32 = 190;

/// Colours (Okabe-Ito) for the families after bimt, l1 and dense.
const OTHERS: [RGBColor; 4] = [
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

/// Legend label and colour of a family.
fn style(family: &str, k: usize) -> (String, RGBColor) {
    match family {
        "bimt" => ("BIMT".into(), RGBColor(0, 114, 178)),
        "l1" => ("L1 (A = 0)".into(), RGBColor(213, 94, 0)),
        "dense" => ("none (λ = 0)".into(), RGBColor(90, 90, 90)),
        f => (f.to_string(), OTHERS[k % OTHERS.len()]),
    }
}

/// The two-panel Pareto figure of a sweep's finished points.
pub struct ParetoFigure {
    /// The points.
    pub points: Vec<PointMeasures>,
    /// Title above the panels.
    pub title: String,
}

/// An x axis: linear or log, over [lo, hi].
#[derive(Clone, Copy, Debug, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    /// Log if every value is positive and they span a factor of 10 or more.
    fn fit(values: &[f64]) -> Axis {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lo > 0.0 && hi / lo >= 10.0 {
            let lo = 10f64.powf(lo.log10().floor());
            let p = 10f64.powf(hi.log10().floor());
            let hi = [1.0, 2.0, 5.0, 10.0]
                .iter()
                .map(|m| m * p)
                .find(|&x| x >= hi * 0.999)
                .unwrap_or(10.0 * p);
            return Axis { lo, hi, log: true };
        }
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 1.0, hi + 1.0)
        };
        let step = nice_step(hi - lo, 5.0);
        Axis {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
            log: false,
        }
    }

    /// Position of `x` in [0, 1].
    fn frac(&self, x: f64) -> f64 {
        if self.log {
            (x.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (x - self.lo) / (self.hi - self.lo)
        }
    }

    /// Tick values.
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (
                self.lo.log10().round() as i32,
                self.hi.log10().ceil() as i32,
            );
            let mults: &[f64] = if b - a <= 3 { &[1.0, 2.0, 5.0] } else { &[1.0] };
            (a..=b)
                .flat_map(|e| mults.iter().map(move |m| m * 10f64.powi(e)))
                .filter(|&x| x <= self.hi * 1.0001)
                .collect()
        } else {
            let step = nice_step(self.hi - self.lo, 5.0);
            let n = ((self.hi - self.lo) / step).round() as i64;
            (0..=n).map(|k| self.lo + k as f64 * step).collect()
        }
    }
}

/// 1, 2 or 5 times a power of ten, about `n` steps over `range`.
fn nice_step(range: f64, n: f64) -> f64 {
    let raw = (range / n).max(1e-12);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * p)
}

/// A short tick label: integers as such, else up to 3 significant digits.
fn label(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if x.abs() >= 1e5 || x.abs() < 1e-3 {
        return format!("{x:.0e}");
    }
    if (x - x.round()).abs() < 1e-9 {
        return format!("{}", x.round() as i64);
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl ParetoFigure {
    fn panel<DB: DrawingBackend>(
        &self,
        c: &Canvas<'_, DB>,
        x_off: i32,
        x_label: &str,
        x_of: fn(&PointMeasures) -> f64,
        y_hi: f64,
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let xs: Vec<f64> = self.points.iter().map(x_of).collect();
        let ax = Axis::fit(&xs);
        let (x0, x1) = (x_off + LEFT, x_off + PANEL_W - RIGHT);
        let (y0, y1) = (TOP, H - BOTTOM);
        let px = |x: f64| x0 + (ax.frac(x) * f64::from(x1 - x0)).round() as i32;
        let py = |y: f64| y1 - ((y / y_hi).clamp(0.0, 1.0) * f64::from(y1 - y0)).round() as i32;
        let grey = RGBColor(228, 228, 228);
        let centre: Anchor = (HPos::Center, VPos::Top);
        let right: Anchor = (HPos::Right, VPos::Center);
        let y_step = nice_step(y_hi, 5.0);
        let mut y = 0.0;
        while y <= y_hi + 1e-9 {
            c.line(&[(x0, py(y)), (x1, py(y))], grey, 1)?;
            c.text(&label(y), 13.0, (x0 - 8, py(y)), right)?;
            y += y_step;
        }
        for t in ax.ticks() {
            c.line(&[(px(t), y0), (px(t), y1)], grey, 1)?;
            c.line(&[(px(t), y1), (px(t), y1 + 5)], BLACK, 1)?;
            c.text(&label(t), 13.0, (px(t), y1 + 9), centre)?;
        }
        c.line(&[(x0, y0), (x0, y1), (x1, y1)], BLACK, 1)?;
        let x_text = if ax.log {
            format!("{x_label} (log scale)")
        } else {
            x_label.to_string()
        };
        c.text(&x_text, 15.0, ((x0 + x1) / 2, y1 + 34), centre)?;
        c.text(
            "test error",
            15.0,
            (x0 - 60, y0 - 26),
            (HPos::Left, VPos::Center),
        )?;
        for (k, fam) in families(&self.points).iter().enumerate() {
            let (_, colour) = style(fam, k);
            let pts: Vec<(f64, f64)> = self
                .points
                .iter()
                .filter(|p| &p.family == fam)
                .map(|p| (x_of(p), p.error))
                .collect();
            let on = pareto_front(&pts);
            let mut front: Vec<(f64, f64)> = pts
                .iter()
                .zip(&on)
                .filter(|(_, o)| **o)
                .map(|(p, _)| *p)
                .collect();
            front.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
            let line: Vec<(i32, i32)> = front.iter().map(|&(x, y)| (px(x), py(y))).collect();
            if line.len() > 1 {
                c.line(&line, colour, 2)?;
            }
            for (&(x, y), &o) in pts.iter().zip(&on) {
                let at = (px(x), py(y));
                let style = if o {
                    colour.filled()
                } else {
                    colour.stroke_width(2)
                };
                c.area
                    .draw(&Circle::new(at, if o { 5 } else { 4 }, style))
                    .map_err(super::plot_error)?;
            }
        }
        Ok(())
    }
}

impl Figure for ParetoFigure {
    fn size(&self) -> (u32, u32) {
        ((2 * PANEL_W + LEGEND_W) as u32, H as u32)
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        ensure!(!self.points.is_empty(), "no finished points to plot");
        c.fill(&WHITE)?;
        let max_err = self.points.iter().map(|p| p.error).fold(0.0, f64::max);
        let y_hi = (nice_step(max_err.max(0.05), 5.0) * 5.0)
            .min(if max_err <= 1.0 { 1.0 } else { f64::MAX })
            .max(max_err);
        c.text(&self.title, 17.0, (PANEL_W, 12), (HPos::Center, VPos::Top))?;
        self.panel(c, 0, "active neurons", |p| p.active_units as f64, y_hi)?;
        self.panel(c, PANEL_W, "wiring length", |p| p.wiring_length, y_hi)?;
        let lx = 2 * PANEL_W + 10;
        let mut ly = TOP + 10;
        c.text("family", 14.0, (lx, ly), (HPos::Left, VPos::Center))?;
        for (k, fam) in families(&self.points).iter().enumerate() {
            ly += 26;
            let (name, colour) = style(fam, k);
            let n = self.points.iter().filter(|p| &p.family == fam).count();
            c.line(&[(lx, ly), (lx + 30, ly)], colour, 2)?;
            c.area
                .draw(&Circle::new((lx + 15, ly), 5, colour.filled()))
                .map_err(super::plot_error)?;
            c.text(
                &format!("{name} ({n})"),
                13.0,
                (lx + 40, ly),
                (HPos::Left, VPos::Center),
            )?;
        }
        ly += 40;
        c.area
            .draw(&Circle::new((lx + 15, ly), 5, BLACK.filled()))
            .map_err(super::plot_error)?;
        c.text(
            "on its frontier",
            13.0,
            (lx + 40, ly),
            (HPos::Left, VPos::Center),
        )?;
        ly += 24;
        c.area
            .draw(&Circle::new((lx + 15, ly), 4, BLACK.stroke_width(2)))
            .map_err(super::plot_error)?;
        c.text("dominated", 13.0, (lx + 40, ly), (HPos::Left, VPos::Center))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_go_log_when_the_range_is_wide() {
        let a = Axis::fit(&[3.0, 250.0]);
        assert!(a.log);
        assert_eq!((a.lo, a.hi), (1.0, 500.0));
        assert_eq!(
            a.ticks(),
            [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
        );
        assert!((a.frac(10.0) - 1.0 / 500f64.log10()).abs() < 1e-12);
        let a = Axis::fit(&[3.0, 25000.0]);
        assert_eq!(a.ticks(), [1.0, 10.0, 100.0, 1000.0, 10000.0]);
        let a = Axis::fit(&[0.0, 7.0]);
        assert!(!a.log);
        assert_eq!((a.lo, a.hi), (0.0, 8.0));
        let a = Axis::fit(&[5.0, 5.0]);
        assert!(a.lo <= 4.0 && a.hi >= 6.0 && !a.log);
        assert_eq!(label(0.25), "0.25");
        assert_eq!(label(100.0), "100");
        assert_eq!(label(1e-5), "1e-5");
    }
}
