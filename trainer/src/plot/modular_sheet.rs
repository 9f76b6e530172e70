//! The sheet coloured by functional cluster (Fig. 1c of Liu et al.): each important unit a disc in
//! its cluster's colour, unimportant units light grey, a legend with the cluster sizes.

use super::{Canvas, Figure};
use crate::analysis::Analysis;
use anyhow::{ensure, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

const MARGIN: i32 = 30;
const TITLE: i32 = 62;
const LEGEND: i32 = 190;
const UNIMPORTANT: RGBColor = RGBColor(225, 225, 225);

/// Thirty distinguishable colours (tab10 without its grey, then tab20's light shades and a set of
/// darker ones), for clusters 0, 1, ...; cycled beyond.
pub fn cluster_colour(c: usize) -> RGBColor {
    const PALETTE: [(u8, u8, u8); 30] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (188, 189, 34),
        (23, 190, 207),
        (0, 0, 0),
        (174, 199, 232),
        (255, 187, 120),
        (152, 223, 138),
        (255, 152, 150),
        (197, 176, 213),
        (196, 156, 148),
        (247, 182, 210),
        (219, 219, 141),
        (158, 218, 229),
        (57, 59, 121),
        (99, 121, 57),
        (140, 109, 49),
        (132, 60, 57),
        (123, 65, 115),
        (82, 84, 163),
        (181, 207, 107),
        (231, 186, 82),
        (214, 97, 107),
        (206, 109, 189),
        (0, 90, 50),
    ];
    let (r, g, b) = PALETTE[c % PALETTE.len()];
    RGBColor(r, g, b)
}

/// A sheet whose units are coloured by cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ModularSheetFigure {
    /// Sheet rows.
    pub rows: usize,
    /// Sheet columns.
    pub cols: usize,
    /// Cluster of each unit (row-major), None for an unimportant unit.
    pub labels: Vec<Option<usize>>,
    /// Title above the sheet.
    pub title: String,
    /// A second line under the title (e.g. the modularity numbers).
    pub subtitle: String,
}

impl ModularSheetFigure {
    /// The figure of an analysis.
    pub fn from_analysis(a: &Analysis, name: &str) -> Self {
        let subtitle = match (&a.clustering, &a.modularity, &a.baseline) {
            (Some(c), Some(m), b) => {
                let mut s = format!(
                    "k = {} clusters, isolated {:.2}, group size {:.2}",
                    c.k, m.isolated_fraction, m.mean_group_size
                );
                if let Some(b) = b {
                    s += &format!(
                        " (shuffled {:.2}, {:.2})",
                        b.isolated_fraction.mean, b.mean_group_size.mean
                    );
                }
                s
            }
            _ => format!("{} important units: too few to cluster", a.important.len()),
        };
        ModularSheetFigure {
            rows: a.sheet.rows,
            cols: a.sheet.cols,
            labels: a.unit_clusters(),
            title: format!("Functional clusters on the sheet: {name}"),
            subtitle,
        }
    }

    fn cell(&self) -> i32 {
        let side = self.rows.max(self.cols).max(1) as i32;
        (640 / side).clamp(6, 60)
    }

    fn k(&self) -> usize {
        self.labels.iter().flatten().max().map_or(0, |m| m + 1)
    }
}

impl Figure for ModularSheetFigure {
    fn size(&self) -> (u32, u32) {
        let c = self.cell();
        let sheet_w = c * self.cols as i32;
        let text_w =
            super::text_width(&self.title, 17.0).max(super::text_width(&self.subtitle, 13.0));
        let w = (2 * MARGIN + sheet_w + LEGEND).max(2 * MARGIN + text_w);
        let legend_h = 22 * (self.k() as i32 + 1) + 10;
        let h = TITLE + MARGIN + (c * self.rows as i32).max(legend_h);
        (w as u32, h as u32)
    }

    fn draw<DB: DrawingBackend>(&self, canvas: &Canvas<'_, DB>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        ensure!(
            self.labels.len() == self.rows * self.cols,
            "{} labels for a {}x{} sheet",
            self.labels.len(),
            self.rows,
            self.cols
        );
        canvas.fill(&WHITE)?;
        let (w, _) = self.size();
        let top = (HPos::Center, VPos::Top);
        canvas.text(&self.title, 17.0, (w as i32 / 2, 10), top)?;
        canvas.text_colour(
            &self.subtitle,
            13.0,
            (w as i32 / 2, 36),
            top,
            RGBColor(70, 70, 70),
        )?;
        let cell = self.cell();
        let radius = (cell * 2 / 5).max(2);
        for (u, label) in self.labels.iter().enumerate() {
            let (r, c) = (u / self.cols, u % self.cols);
            let centre = (
                MARGIN + cell * c as i32 + cell / 2,
                TITLE + cell * r as i32 + cell / 2,
            );
            let colour = label.map_or(UNIMPORTANT, cluster_colour);
            canvas
                .area
                .draw(&Circle::new(centre, radius, colour.filled()))
                .map_err(super::plot_error)?;
        }
        let mut counts = vec![0usize; self.k()];
        for l in self.labels.iter().flatten() {
            counts[*l] += 1;
        }
        let x = 2 * MARGIN + cell * self.cols as i32;
        let left = (HPos::Left, VPos::Center);
        let mut y = TITLE + 10;
        for (c, n) in counts.iter().enumerate() {
            canvas.rect((x, y - 7), (x + 14, y + 7), cluster_colour(c))?;
            canvas.text(
                &format!("cluster {} (n = {n})", c + 1),
                13.0,
                (x + 22, y),
                left,
            )?;
            y += 22;
        }
        let unimportant = self.labels.iter().filter(|l| l.is_none()).count();
        canvas.rect((x, y - 7), (x + 14, y + 7), UNIMPORTANT)?;
        canvas.text(
            &format!("unimportant ({unimportant})"),
            13.0,
            (x + 22, y),
            left,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_differ_and_the_figure_draws() {
        let colours: Vec<RGBColor> = (0..30).map(cluster_colour).collect();
        for i in 0..30 {
            assert_ne!(colours[i], UNIMPORTANT);
            for j in i + 1..30 {
                assert_ne!(colours[i], colours[j], "{i} and {j}");
            }
        }
        let fig = ModularSheetFigure {
            rows: 2,
            cols: 3,
            labels: vec![Some(0), Some(0), None, Some(1), None, Some(2)],
            title: "t".into(),
            subtitle: "s".into(),
        };
        assert_eq!(fig.k(), 3);
        let dir = std::env::temp_dir().join(format!("gyrus-modsheet-{}", std::process::id()));
        let svg = dir.join("m.svg");
        crate::plot::save(&fig, &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert_eq!(text.matches("<circle").count(), 6);
        assert!(text.contains("cluster 3 (n = 1)"));
        assert!(text.contains("unimportant (2)"));
        let bad = ModularSheetFigure {
            labels: vec![None; 5],
            ..fig
        };
        assert!(crate::plot::save(&bad, &dir.join("bad.png")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
