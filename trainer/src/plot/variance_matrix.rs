//! The clustered normalised task-variance matrix (Fig. 1b of Liu et al., Fig. 2b of Yang et al.):
//! one row per important unit, sorted by functional cluster (and by dendrogram order within
//! one), one column per task, colour = task variance divided by the unit's maximum over tasks.
//! A colour strip on the left marks the clusters; task names stand vertically under the columns.

use super::modular_sheet::cluster_colour;
use super::{viridis, Canvas, Figure};
use crate::analysis::Analysis;
use ab_glyph::{Font, ScaleFont};
use anyhow::{ensure, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;

const LEFT: i32 = 90;
const TOP: i32 = 60;
const RIGHT: i32 = 110;
const LABEL_SIZE: f64 = 12.0;

/// Normalised task variance of the important units, grouped by cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct VarianceMatrixFigure {
    /// Task names (the columns).
    pub tasks: Vec<String>,
    /// One row per unit, in display order, values in [0, 1].
    pub rows: Vec<Vec<f64>>,
    /// The cluster of each row (rows of one cluster are adjacent).
    pub clusters: Vec<usize>,
    /// Title above the matrix.
    pub title: String,
}

impl VarianceMatrixFigure {
    /// The figure of an analysis; None without clusters.
    pub fn from_analysis(a: &Analysis, name: &str) -> Option<Self> {
        let cl = a.clustering.as_ref()?;
        let k = a.variance.tasks.len();
        let mut pos = vec![0; cl.labels.len()];
        for (p, &i) in cl.leaf_order.iter().enumerate() {
            pos[i] = p;
        }
        let mut order: Vec<usize> = (0..cl.labels.len()).collect();
        order.sort_by_key(|&i| (cl.labels[i], pos[i]));
        Some(VarianceMatrixFigure {
            tasks: a.variance.tasks.clone(),
            rows: order
                .iter()
                .map(|&i| a.normalised[i * k..(i + 1) * k].to_vec())
                .collect(),
            clusters: order.iter().map(|&i| cl.labels[i]).collect(),
            title: format!("Normalised task variance: {name}"),
        })
    }

    fn col_width(&self) -> i32 {
        (640 / self.tasks.len().max(1) as i32).clamp(14, 40)
    }

    fn map_height(&self) -> i32 {
        (self.rows.len() as i32 * 6).clamp(240, 760)
    }

    fn label_height(&self) -> i32 {
        self.tasks
            .iter()
            .map(|t| super::text_width(t, LABEL_SIZE))
            .max()
            .unwrap_or(0)
            + 40
    }
}

/// Draws `text` rotated a quarter turn counter-clockwise (reading upwards), its end at `top`
/// and its height centred on `x`.
fn text_up<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    text: &str,
    size: f64,
    x: i32,
    top: i32,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    if c.vector {
        let style = TextStyle::from((super::FONT, size * 1.24).into_font())
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Right, VPos::Center));
        return c
            .area
            .draw_text(text, &style, (x, top))
            .map_err(super::plot_error);
    }
    let font = super::embedded_font()?;
    let scale = super::px_scale(font, size);
    let scaled = font.as_scaled(scale);
    let width = f64::from(super::text_width(text, size));
    // Local frame: x along the text from 0, y down from the baseline; canvas = (ox + y, oy - x).
    let ox = f64::from(x) + f64::from(scaled.ascent() + scaled.descent()) / 2.0;
    let oy = f64::from(top) + width;
    let mut pen = 0.0f32;
    let mut prev = None;
    for ch in text.chars() {
        let id = scaled.glyph_id(ch);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        prev = Some(id);
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(pen, 0.0));
        pen += scaled.h_advance(id);
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            let mut result = Ok(());
            outline.draw(|gx, gy, cov| {
                if cov <= 0.0 || result.is_err() {
                    return;
                }
                let lx = f64::from(b.min.x) + f64::from(gx);
                let ly = f64::from(b.min.y) + f64::from(gy);
                let p = ((ox + ly).round() as i32, (oy - lx).round() as i32);
                result = c.area.draw_pixel(p, &BLACK.mix(f64::from(cov.min(1.0))));
            });
            result.map_err(super::plot_error)?;
        }
    }
    Ok(())
}

impl Figure for VarianceMatrixFigure {
    fn size(&self) -> (u32, u32) {
        let w = LEFT + self.col_width() * self.tasks.len() as i32 + RIGHT;
        let w = w.max(super::text_width(&self.title, 17.0) + 40);
        let h = TOP + self.map_height() + self.label_height();
        (w as u32, h as u32)
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let k = self.tasks.len();
        ensure!(
            !self.rows.is_empty() && k > 0,
            "no units or no tasks to draw"
        );
        ensure!(
            self.rows.iter().all(|r| r.len() == k) && self.clusters.len() == self.rows.len(),
            "every row needs one value per task and a cluster"
        );
        c.fill(&WHITE)?;
        let (w, _) = self.size();
        c.text(
            &self.title,
            17.0,
            (w as i32 / 2, 12),
            (HPos::Center, VPos::Top),
        )?;
        let cw = self.col_width();
        let mh = self.map_height();
        let n = self.rows.len() as i32;
        let x0 = LEFT;
        let y_of = |r: i32| TOP + ((i64::from(r) * i64::from(mh)) / i64::from(n)) as i32;
        for (r, row) in self.rows.iter().enumerate() {
            let (ya, yb) = (y_of(r as i32), y_of(r as i32 + 1).max(y_of(r as i32) + 1));
            for (t, &v) in row.iter().enumerate() {
                let xa = x0 + cw * t as i32;
                c.rect((xa, ya), (xa + cw, yb), viridis(v))?;
            }
            c.rect(
                (x0 - 18, ya),
                (x0 - 6, yb),
                cluster_colour(self.clusters[r]),
            )?;
        }
        // Cluster boundaries and numbers.
        let x1 = x0 + cw * k as i32;
        let mut start = 0usize;
        for r in 1..=self.rows.len() {
            if r == self.rows.len() || self.clusters[r] != self.clusters[start] {
                let (ya, yb) = (y_of(start as i32), y_of(r as i32));
                if r < self.rows.len() {
                    c.line(&[(x0 - 18, yb), (x1, yb)], WHITE, 1)?;
                }
                if yb - ya >= 12 {
                    c.text(
                        &format!("{}", self.clusters[start] + 1),
                        12.0,
                        (x0 - 24, (ya + yb) / 2),
                        (HPos::Right, VPos::Center),
                    )?;
                }
                start = r;
            }
        }
        c.line(
            &[
                (x0, TOP),
                (x1, TOP),
                (x1, TOP + mh),
                (x0, TOP + mh),
                (x0, TOP),
            ],
            BLACK,
            1,
        )?;
        for (t, name) in self.tasks.iter().enumerate() {
            text_up(
                c,
                name,
                LABEL_SIZE,
                x0 + cw * t as i32 + cw / 2,
                TOP + mh + 6,
            )?;
        }
        c.text(
            &format!("units ({}) by cluster", self.rows.len()),
            13.0,
            (12, TOP - 8),
            (HPos::Left, VPos::Bottom),
        )?;
        // Colour bar.
        let (bx, bh) = (x1 + 24, mh.min(240));
        for p in 0..bh {
            let v = 1.0 - f64::from(p) / f64::from(bh - 1);
            c.rect((bx, TOP + p), (bx + 16, TOP + p + 1), viridis(v))?;
        }
        let left = (HPos::Left, VPos::Center);
        c.text("1", 12.0, (bx + 22, TOP + 4), left)?;
        c.text("0", 12.0, (bx + 22, TOP + bh - 4), left)?;
        c.text("norm.", 12.0, (bx, TOP + bh + 14), left)?;
        c.text("variance", 12.0, (bx, TOP + bh + 30), left)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_png_and_svg_with_vertical_labels() {
        let fig = VarianceMatrixFigure {
            tasks: vec!["go".into(), "dlydm1".into(), "dms".into()],
            rows: vec![
                vec![1.0, 0.2, 0.0],
                vec![0.9, 0.1, 0.3],
                vec![0.0, 1.0, 0.5],
            ],
            clusters: vec![0, 0, 1],
            title: "test".into(),
        };
        let dir = std::env::temp_dir().join(format!("gyrus-varmat-{}", std::process::id()));
        crate::plot::save(&fig, &dir.join("v.png")).unwrap();
        let bytes = std::fs::read(dir.join("v.png")).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        crate::plot::save(&fig, &dir.join("v.svg")).unwrap();
        let svg = std::fs::read_to_string(dir.join("v.svg")).unwrap();
        assert!(svg.contains("dlydm1"), "task labels are written");
        assert!(svg.contains("rotate(270"), "task labels stand vertically");
        let bad = VarianceMatrixFigure {
            clusters: vec![0],
            ..fig
        };
        assert!(crate::plot::save(&bad, &dir.join("bad.png")).is_err());
        // A figure that fails leaves no file behind, and an existing one as it was.
        assert!(!dir.join("bad.png").exists());
        let e = crate::plot::save(&bad, &dir.join("v.png")).unwrap_err();
        assert!(format!("{e:#}").contains("v.png"), "{e:#}");
        assert_eq!(std::fs::read(dir.join("v.png")).unwrap(), bytes);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
