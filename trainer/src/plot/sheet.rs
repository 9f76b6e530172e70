//! The connectivity of an exported network on its sheet (as Fig. 1a of Liu et al., BIMT): kept
//! units as dots at their sheet positions, pruned positions as faint dots, every recurrent
//! connection as a line between the two units (width ~ |w|, blue positive, red negative; a
//! self-connection as a ring around its unit).

use super::{Canvas, Figure};
use anyhow::{ensure, Result};
use gyrus_runtime::format::ModelView;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

const MARGIN: i32 = 40;
const TITLE: i32 = 40;
const MAX_WIDTH: f64 = 6.0;

/// A sheet and its recurrent connections.
#[derive(Clone, Debug, PartialEq)]
pub struct SheetFigure {
    /// Sheet rows.
    pub rows: u16,
    /// Sheet columns.
    pub cols: u16,
    /// Sheet position (row, column) of each kept unit.
    pub units: Vec<(u16, u16)>,
    /// Connections (receiving unit, sending unit, weight), indices into `units`.
    pub edges: Vec<(usize, usize, f32)>,
    /// Title above the sheet.
    pub title: String,
}

impl SheetFigure {
    /// The figure of an opened blob: its kept units and stored recurrent weights.
    pub fn from_model(model: &ModelView<'_>, title: &str) -> Self {
        let (rows, cols) = model.sheet();
        let rec = model.recurrent();
        let units: Vec<(u16, u16)> = (0..model.n_hidden())
            .filter_map(|u| model.position(u))
            .collect();
        let mut edges = Vec::with_capacity(rec.nnz());
        for r in 0..model.n_hidden() {
            rec.for_each_in_row(r, |c, w| edges.push((r, c, w)));
        }
        SheetFigure {
            rows,
            cols,
            units,
            edges,
            title: title.to_string(),
        }
    }

    /// The figure of a trainer network: every unit at its sheet position and the recurrent
    /// connections with |w| > `threshold` (the active ones, for the spec's 1e-2).
    pub fn from_network(net: &crate::model::Network, threshold: f32, title: &str) -> Self {
        let sheet = net.config().sheet;
        let n = sheet.n_units();
        let w = net.w_rec_dense();
        let units = (0..n)
            .map(|u| {
                let (r, c) = sheet.pos(u);
                (r as u16, c as u16)
            })
            .collect();
        let edges = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .filter_map(|(i, j)| {
                let v = w[i * n + j];
                (v.abs() > threshold).then_some((i, j, v))
            })
            .collect();
        SheetFigure {
            rows: sheet.rows as u16,
            cols: sheet.cols as u16,
            units,
            edges,
            title: title.to_string(),
        }
    }

    /// Pixels per sheet cell.
    fn cell(&self) -> i32 {
        let side = i32::from(self.rows.max(self.cols)).max(1);
        (640 / side).clamp(6, 120)
    }
}

impl Figure for SheetFigure {
    fn size(&self) -> (u32, u32) {
        let c = self.cell();
        (
            (2 * MARGIN + c * i32::from(self.cols))
                .max(super::text_width(&self.title, 16.0) + 2 * MARGIN) as u32,
            (2 * MARGIN + TITLE + c * i32::from(self.rows)) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, canvas: &Canvas<'_, DB>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        ensure!(
            self.units.len() <= usize::from(self.rows) * usize::from(self.cols),
            "more units than sheet positions"
        );
        canvas.fill(&WHITE)?;
        let (w, _) = self.size();
        canvas.text(
            &self.title,
            16.0,
            (w as i32 / 2, TITLE / 2),
            (HPos::Center, VPos::Center),
        )?;
        let cell = self.cell();
        let at = |(r, c): (u16, u16)| {
            (
                MARGIN + cell * i32::from(c) + cell / 2,
                MARGIN + TITLE + cell * i32::from(r) + cell / 2,
            )
        };
        let dot = (cell / 10).max(2);
        let faint = RGBColor(220, 220, 220);
        for r in 0..self.rows {
            for c in 0..self.cols {
                canvas
                    .area
                    .draw(&Circle::new(at((r, c)), dot, faint.filled()))
                    .map_err(super::plot_error)?;
            }
        }
        let w_max = self.edges.iter().map(|e| e.2.abs()).fold(0.0f32, f32::max);
        let mut edges: Vec<&(usize, usize, f32)> = self.edges.iter().collect();
        edges.sort_by(|a, b| a.2.abs().total_cmp(&b.2.abs()));
        for &&(to, from, wv) in &edges {
            if wv == 0.0 || w_max == 0.0 {
                continue;
            }
            let (Some(&p_to), Some(&p_from)) = (self.units.get(to), self.units.get(from)) else {
                continue;
            };
            let rel = f64::from(wv.abs() / w_max);
            let width = (rel * MAX_WIDTH).round().max(1.0) as u32;
            let base = if wv > 0.0 {
                RGBColor(33, 102, 172)
            } else {
                RGBColor(214, 39, 40)
            };
            let style = base.mix(0.25 + 0.6 * rel).stroke_width(width);
            if to == from {
                let ring = base
                    .mix(0.25 + 0.6 * rel)
                    .stroke_width((rel * 3.0).round().max(1.0) as u32);
                canvas
                    .area
                    .draw(&Circle::new(at(p_to), dot + 4, ring))
                    .map_err(super::plot_error)?;
            } else {
                canvas
                    .area
                    .draw(&PathElement::new(vec![at(p_from), at(p_to)], style))
                    .map_err(super::plot_error)?;
            }
        }
        for &u in &self.units {
            canvas
                .area
                .draw(&Circle::new(at(u), dot, BLACK.filled()))
                .map_err(super::plot_error)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_small_sheet_to_png_and_svg() {
        let fig = SheetFigure {
            rows: 3,
            cols: 4,
            units: vec![(0, 0), (1, 2), (2, 3)],
            edges: vec![(0, 1, 0.5), (1, 1, -0.2), (2, 0, -1.0), (5, 0, 1.0)],
            title: "test".into(),
        };
        let dir = std::env::temp_dir().join(format!("gyrus-sheet-{}", std::process::id()));
        let png = dir.join("s.png");
        let svg = dir.join("s.svg");
        crate::plot::save(&fig, &png).unwrap();
        crate::plot::save(&fig, &svg).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("<circle"), "no dots in the SVG");
        assert!(
            text.contains("<polyline") || text.contains("<path"),
            "no edges"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
