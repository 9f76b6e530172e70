//! A population's SVCCA distance matrix as a heat map (left) and its 2-D classical MDS embedding
//! coloured by connectivity family (right).

use super::{plot_error, viridis, Anchor, Canvas, Figure};
use anyhow::{ensure, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

const MAP: i32 = 400;
const TOP: i32 = 60;
const GAP: i32 = 90;
const BAR: i32 = 16;
const BOTTOM: i32 = 40;

const COLOURS: [RGBColor; 7] = super::OKABE_ITO;

/// The distance matrix of networks `labels` with their `families`, and its MDS embedding.
pub struct SimilarityFigure {
    /// Title.
    pub title: String,
    /// One label per network (drawn beside the rows when there are at most 40).
    pub labels: Vec<String>,
    /// One family name per network (the MDS colours).
    pub families: Vec<String>,
    /// Distances [n, n] row-major.
    pub distance: Vec<f64>,
    /// MDS coordinates, one per network.
    pub embedding: Vec<[f64; 2]>,
}

impl SimilarityFigure {
    fn label_width(&self) -> i32 {
        if self.labels.len() > 40 {
            return 10;
        }
        self.labels
            .iter()
            .map(|l| super::text_width(l, self.font()))
            .max()
            .unwrap_or(0)
            + 10
    }

    fn font(&self) -> f64 {
        if self.labels.len() > 20 {
            9.0
        } else {
            12.0
        }
    }

    fn family_list(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for f in &self.families {
            if !out.contains(&f.as_str()) {
                out.push(f);
            }
        }
        out
    }

    fn legend_width(&self) -> i32 {
        self.family_list()
            .iter()
            .map(|f| super::text_width(f, 13.0))
            .max()
            .unwrap_or(0)
            + 30
    }
}

impl Figure for SimilarityFigure {
    fn size(&self) -> (u32, u32) {
        let w = self.label_width() + MAP + 20 + BAR + GAP + MAP + 20 + self.legend_width() + 10;
        (w as u32, (TOP + MAP + BOTTOM) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let n = self.labels.len();
        ensure!(n > 0, "no networks to draw");
        ensure!(
            self.distance.len() == n * n && self.families.len() == n && self.embedding.len() == n,
            "distance matrix, families and embedding do not match {n} networks"
        );
        c.fill(&WHITE)?;
        let centre: Anchor = (HPos::Center, VPos::Top);
        let (w, _) = self.size();
        c.text(&self.title, 17.0, (w as i32 / 2, 10), centre)?;
        // Heat map.
        let x0 = self.label_width();
        let cell = f64::from(MAP) / n as f64;
        let max = self.distance.iter().copied().fold(0.0, f64::max).max(1e-12);
        let at = |k: usize| (f64::from(x0) + k as f64 * cell).round() as i32;
        let yt = |k: usize| (f64::from(TOP) + k as f64 * cell).round() as i32;
        for i in 0..n {
            for j in 0..n {
                let colour = viridis(self.distance[i * n + j] / max);
                c.rect((at(j), yt(i)), (at(j + 1), yt(i + 1)), colour)?;
            }
            if n <= 40 {
                let y = (yt(i) + yt(i + 1)) / 2;
                c.text(
                    &self.labels[i],
                    self.font(),
                    (x0 - 5, y),
                    (HPos::Right, VPos::Center),
                )?;
            }
        }
        c.text(
            "SVCCA distance (1 - mean canonical correlation)",
            13.0,
            (x0 + MAP / 2, TOP + MAP + 8),
            centre,
        )?;
        // Colour bar.
        let bx = x0 + MAP + 20;
        for k in 0..MAP {
            let v = 1.0 - f64::from(k) / f64::from(MAP);
            c.rect((bx, TOP + k), (bx + BAR, TOP + k + 1), viridis(v))?;
        }
        c.text(
            &format!("{max:.3}"),
            11.0,
            (bx + BAR / 2, TOP - 4),
            (HPos::Center, VPos::Bottom),
        )?;
        c.text("0", 11.0, (bx + BAR / 2, TOP + MAP + 4), centre)?;
        // MDS.
        let mx = bx + BAR + GAP;
        let (y0, y1) = (TOP, TOP + MAP);
        c.line(
            &[(mx, y0), (mx, y1), (mx + MAP, y1), (mx + MAP, y0), (mx, y0)],
            BLACK,
            1,
        )?;
        let ext = self
            .embedding
            .iter()
            .flat_map(|p| p.iter().map(|v| v.abs()))
            .fold(0.0, f64::max)
            .max(1e-9)
            * 1.1;
        let px = |p: &[f64; 2]| {
            (
                mx + ((p[0] / ext + 1.0) * 0.5 * f64::from(MAP)).round() as i32,
                y1 - ((p[1] / ext + 1.0) * 0.5 * f64::from(MAP)).round() as i32,
            )
        };
        let fams = self.family_list();
        let colour =
            |f: &str| COLOURS[fams.iter().position(|g| *g == f).unwrap_or(0) % COLOURS.len()];
        for (p, f) in self.embedding.iter().zip(&self.families) {
            c.area
                .draw(&Circle::new(px(p), 6, colour(f.as_str()).filled()))
                .map_err(plot_error)?;
        }
        c.text(
            "classical MDS of the distances",
            13.0,
            (mx + MAP / 2, y1 + 8),
            centre,
        )?;
        let lx = mx + MAP + 20;
        for (k, f) in fams.iter().enumerate() {
            let y = TOP + 10 + 22 * k as i32;
            c.area
                .draw(&Circle::new((lx + 6, y), 6, colour(f).filled()))
                .map_err(plot_error)?;
            c.text(f, 13.0, (lx + 18, y), (HPos::Left, VPos::Center))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_png_and_svg_and_checks_shapes() {
        let fig = SimilarityFigure {
            title: "population".into(),
            labels: vec!["a".into(), "b".into(), "c".into()],
            families: vec!["dense".into(), "local".into(), "dense".into()],
            distance: vec![0.0, 0.4, 0.1, 0.4, 0.0, 0.3, 0.1, 0.3, 0.0],
            embedding: vec![[0.1, 0.0], [-0.2, 0.1], [0.1, -0.1]],
        };
        let dir = std::env::temp_dir().join(format!("gyrus-sim-plot-{}", std::process::id()));
        for ext in ["png", "svg"] {
            let path = dir.join(format!("s.{ext}"));
            crate::plot::save(&fig, &path).unwrap();
            assert!(std::fs::metadata(&path).unwrap().len() > 1000);
        }
        let svg = std::fs::read_to_string(dir.join("s.svg")).unwrap();
        assert!(svg.contains("local") && svg.contains("0.400"));
        let bad = SimilarityFigure {
            distance: vec![0.0; 4],
            ..fig
        };
        assert!(crate::plot::save(&bad, &dir.join("b.png")).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
