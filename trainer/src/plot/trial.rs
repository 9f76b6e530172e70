//! One task trial at a glance: the inputs as a heat map over time (fixation, ring 1, ring 2, rule
//! units), the periods as vertical lines named on top, and the target class per step below.

use super::{text_width, viridis, Anchor, Canvas, Figure};
use anyhow::{ensure, Result};
use gyrus_runtime::tasks::{Trial, N_CLASSES, N_SENSORY, RING_UNITS};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

const LEFT: i32 = 200;
const RIGHT: i32 = 150;
const TOP: i32 = 98;
const PERIOD_BAND: i32 = 26;
const SENSORY_ROW: f64 = 8.0;
const GAP: i32 = 34;
const TARGET_ROW: f64 = 10.0;
const BOTTOM: i32 = 64;
/// Colour of period boundaries.
const BOUNDARY: RGBColor = RGBColor(230, 60, 40);
/// Colour of the target cells.
const TARGET_ON: RGBColor = RGBColor(20, 20, 20);
const TARGET_OFF: RGBColor = RGBColor(238, 238, 238);

/// The trial figure's data: a trial, its inputs and targets as written by [`Trial::write`], and
/// the names that label it.
pub struct TrialFigure<'a> {
    trial: &'a Trial,
    inputs: &'a [f32],
    targets: &'a [u8],
    rule_name: String,
    context: String,
    dt_ms: u16,
    cell_w: f64,
    rule_row: f64,
}

impl<'a> TrialFigure<'a> {
    /// A figure of `trial` with its `inputs` (`len * n_inputs`, time-major) and `targets` (`len`).
    /// `context` names where it comes from (e.g. `rule 2 of cog20, seed 0`); `dt_ms` is the step.
    pub fn new(
        trial: &'a Trial,
        inputs: &'a [f32],
        targets: &'a [u8],
        context: impl Into<String>,
        dt_ms: u16,
    ) -> Result<Self> {
        let len = trial.len();
        ensure!(len > 0, "empty trial");
        ensure!(
            inputs.len() == len * trial.n_inputs() && targets.len() == len,
            "trial figure: inputs/targets do not match the trial's size"
        );
        let n_rules = f64::from(trial.n_rules.max(1));
        Ok(TrialFigure {
            trial,
            inputs,
            targets,
            rule_name: trial.task.to_string(),
            context: context.into(),
            dt_ms,
            cell_w: (900.0 / len as f64).clamp(6.0, 48.0).floor(),
            rule_row: (200.0 / n_rules).min(SENSORY_ROW),
        })
    }

    fn plot_w(&self) -> i32 {
        (self.cell_w * self.trial.len() as f64).round() as i32
    }

    /// Top edge (pixels) of input row `i` (i may equal n_inputs for the bottom edge).
    fn input_row_y(&self, i: usize) -> i32 {
        let y0 = f64::from(TOP + PERIOD_BAND);
        let y = if i <= N_SENSORY {
            y0 + SENSORY_ROW * i as f64
        } else {
            y0 + SENSORY_ROW * N_SENSORY as f64 + self.rule_row * (i - N_SENSORY) as f64
        };
        y.round() as i32
    }

    fn target_top(&self) -> i32 {
        self.input_row_y(self.trial.n_inputs()) + GAP
    }

    fn target_row_y(&self, class: usize) -> i32 {
        (f64::from(self.target_top()) + TARGET_ROW * class as f64).round() as i32
    }

    fn x(&self, step: usize) -> i32 {
        LEFT + (self.cell_w * step as f64).round() as i32
    }

    /// The lines under the title: the answer, then the stimuli, one line per ring.
    fn description(&self) -> Vec<String> {
        let t = self.trial;
        let deg = |unit: u8| f64::from(unit) * 360.0 / RING_UNITS as f64;
        let mut answer = match t.answer {
            Some(a) => format!("answer: respond toward unit {a} ({:.1}°)", deg(a)),
            None => "answer: keep fixating".to_string(),
        };
        let mut extra = Vec::new();
        match t.matched {
            Some(true) => extra.push("test matches".to_string()),
            Some(false) => extra.push("test does not match".to_string()),
            None => {}
        }
        if let Some(d) = t.interval_ms {
            extra.push(format!("interval delay {d} ms"));
        }
        if !extra.is_empty() {
            answer = format!("{answer} ({})", extra.join(", "));
        }
        let mut lines = vec![answer];
        for ring in 0..2u8 {
            let shown: Vec<String> = t
                .stimuli()
                .iter()
                .filter(|s| s.ring == ring)
                .map(|s| {
                    format!(
                        "unit {} ({:.1}°) s={:.2} in {}",
                        s.dir,
                        deg(s.dir),
                        s.strength,
                        s.period.name()
                    )
                })
                .collect();
            if !shown.is_empty() {
                lines.push(format!("ring {} stimuli: {}", ring + 1, shown.join(", ")));
            }
        }
        lines
    }
}

impl Figure for TrialFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let text_w = self
            .description()
            .iter()
            .map(|line| text_width(line, 13.0))
            .max()
            .unwrap_or(0);
        let w = (LEFT + self.plot_w() + RIGHT).max(text_w + 28);
        let h = self.target_row_y(N_CLASSES) + BOTTOM;
        (w.max(760) as u32, h as u32)
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        const LEFT_MID: Anchor = (HPos::Right, VPos::Center);
        c.fill(&WHITE)?;
        let trial = self.trial;
        let (len, n_in) = (trial.len(), trial.n_inputs());
        let (plot_l, plot_r) = (LEFT, LEFT + self.plot_w());
        let (bracket_x, label_x) = (plot_l - 52, plot_l - 60);

        // Title.
        let title = format!("{}  ({})", self.rule_name, self.context);
        let top_left = (HPos::Left, VPos::Top);
        c.text(&title, 20.0, (14, 8), top_left)?;
        for (k, line) in self.description().iter().enumerate() {
            c.text(line, 13.0, (14, 36 + 19 * k as i32), top_left)?;
        }

        // Input heat map.
        for t in 0..len {
            let (x0, x1) = (self.x(t), self.x(t + 1));
            for i in 0..n_in {
                let (y0, y1) = (self.input_row_y(i), self.input_row_y(i + 1));
                if y1 > y0 {
                    let v = f64::from(self.inputs[t * n_in + i]);
                    c.rect((x0, y0), (x1, y1), viridis(v))?;
                }
            }
        }
        // Row groups: separators, brackets, names, unit angles.
        let groups: [(&str, usize, usize); 4] = [
            ("fixation", 0, 1),
            ("ring 1", 1, 1 + RING_UNITS),
            ("ring 2", 1 + RING_UNITS, N_SENSORY),
            ("rules", N_SENSORY, n_in),
        ];
        for (name, a, b) in groups {
            let (ya, yb) = (self.input_row_y(a), self.input_row_y(b));
            if a > 0 {
                c.line(&[(plot_l, ya), (plot_r, ya)], WHITE, 2)?;
            }
            if b - a > 1 {
                let (y0, y1) = (ya + 1, yb - 1);
                c.line(
                    &[
                        (bracket_x + 4, y0),
                        (bracket_x, y0),
                        (bracket_x, y1),
                        (bracket_x + 4, y1),
                    ],
                    BLACK,
                    1,
                )?;
            }
            let label = if name == "rules" {
                format!("rules ({})", trial.n_rules)
            } else {
                name.to_string()
            };
            let ym = if name == "rules" {
                ya + 10
            } else {
                (ya + yb) / 2
            };
            c.text(&label, 14.0, (label_x, ym), LEFT_MID)?;
            if name.starts_with("ring") {
                for unit in [0usize, 4, 8, 12] {
                    let y = (self.input_row_y(a + unit) + self.input_row_y(a + unit + 1)) / 2;
                    let deg = format!("{}°", unit * 360 / RING_UNITS);
                    c.text(&deg, 11.0, (plot_l - 6, y), LEFT_MID)?;
                }
            }
        }
        // The active rule unit.
        let rule_i = N_SENSORY + usize::from(trial.rule);
        let yr = (self.input_row_y(rule_i) + self.input_row_y(rule_i + 1)) / 2;
        c.polygon(
            &[
                (plot_r + 3, yr),
                (plot_r + 12, yr - 5),
                (plot_r + 12, yr + 5),
            ],
            BLACK,
        )?;
        c.text(
            &format!("rule {}: {}", trial.rule, self.rule_name),
            12.0,
            (plot_r + 16, yr),
            (HPos::Left, VPos::Center),
        )?;

        // Colour bar, beside ring 1 (clear of the rule label).
        let (cb_x, cb_top) = (plot_r + 40, self.input_row_y(1));
        let cb_h = (self.input_row_y(1 + RING_UNITS) - cb_top).max(1);
        for k in 0..cb_h {
            let v = 1.0 - f64::from(k) / f64::from(cb_h);
            c.rect((cb_x, cb_top + k), (cb_x + 14, cb_top + k + 1), viridis(v))?;
        }
        for (v, s) in [(1.0, "≥ 1"), (0.5, "0.5"), (0.0, "≤ 0")] {
            let y = cb_top + ((1.0 - v) * f64::from(cb_h)).round() as i32;
            c.text(s, 11.0, (cb_x + 19, y), (HPos::Left, VPos::Center))?;
        }
        c.text(
            "input",
            12.0,
            (cb_x + 7, cb_top - 5),
            (HPos::Center, VPos::Bottom),
        )?;

        // Targets: one-hot over the 17 classes.
        for t in 0..len {
            let (x0, x1) = (self.x(t), self.x(t + 1));
            for class in 0..N_CLASSES {
                let on = usize::from(self.targets[t]) == class;
                let colour = if on { TARGET_ON } else { TARGET_OFF };
                c.rect(
                    (x0, self.target_row_y(class)),
                    (x1, self.target_row_y(class + 1)),
                    colour,
                )?;
            }
        }
        let (tt, tb) = (self.target_top(), self.target_row_y(N_CLASSES));
        let sep = self.target_row_y(1);
        c.line(&[(plot_l, sep), (plot_r, sep)], WHITE, 2)?;
        c.line(
            &[
                (bracket_x + 4, tt + 1),
                (bracket_x, tt + 1),
                (bracket_x, tb - 1),
                (bracket_x + 4, tb - 1),
            ],
            BLACK,
            1,
        )?;
        c.text("target", 14.0, (label_x, (tt + tb) / 2), LEFT_MID)?;
        let class_mid = |k: usize| (self.target_row_y(k) + self.target_row_y(k + 1)) / 2;
        c.text("fixate", 11.0, (plot_l - 6, class_mid(0)), LEFT_MID)?;
        for unit in [0usize, 4, 8, 12] {
            let label = format!("{}°", unit * 360 / RING_UNITS);
            c.text(&label, 11.0, (plot_l - 6, class_mid(unit + 1)), LEFT_MID)?;
        }

        // Periods: boundaries across both panels and names on top.
        let top = TOP + 2;
        c.line(&[(plot_l, top), (plot_r, top)], BLACK, 1)?;
        for p in trial.periods() {
            let (s, e) = (usize::from(p.start), usize::from(p.end));
            if s > 0 {
                let x = self.x(s);
                c.line(&[(x, top), (x, tb + 4)], BOUNDARY, 2)?;
            }
            if e > s {
                let span = self.x(e) - self.x(s);
                let name = p.kind.name();
                let short = format!("{}.", &name[..3]);
                let candidates = [(name, 14.0), (name, 11.0), (short.as_str(), 11.0)];
                for (text, size) in candidates {
                    if c.text_size(text, size)?.0 + 4 <= span {
                        let xm = (self.x(s) + self.x(e)) / 2;
                        let at = (xm, TOP + PERIOD_BAND / 2);
                        c.text(text, size, at, (HPos::Center, VPos::Center))?;
                        break;
                    }
                }
            }
        }

        // Time axis.
        let axis_y = tb + 6;
        let every = match len {
            0..=20 => 2,
            21..=60 => 5,
            61..=150 => 10,
            _ => 50,
        };
        for t in (0..=len).step_by(every) {
            let x = self.x(t);
            c.line(&[(x, axis_y), (x, axis_y + 5)], BLACK, 1)?;
            c.text(
                &t.to_string(),
                12.0,
                (x, axis_y + 8),
                (HPos::Center, VPos::Top),
            )?;
        }
        c.text(
            &format!("time (steps of {} ms)", self.dt_ms),
            14.0,
            ((plot_l + plot_r) / 2, axis_y + 28),
            (HPos::Center, VPos::Top),
        )?;
        Ok(())
    }
}
