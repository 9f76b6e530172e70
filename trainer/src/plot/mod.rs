//! Figures, one function (or one [`Figure`] type) each, drawn with `plotters`.
//!
//! This module holds what every figure shares: the embedded font (DejaVu Sans, so that no system
//! font is needed), the output format chosen from the file extension ([`Format`]), [`save`] which
//! renders a [`Figure`] to PNG or SVG, a [`Canvas`] with pixel-coordinate drawing helpers (text,
//! rectangles, lines) and a colour map ([`viridis`]).
//!
//! Text: in SVG it is written as `<text>` elements (font family [`FONT`], registered with plotters);
//! in PNG the [`Canvas`] rasterizes glyphs itself with `ab_glyph`, because plotters 0.3.7's
//! `ab_glyph` text drops each glyph's side bearing (letters then sit unevenly).
//!
//! Figures: [`trial`] (one task trial: inputs, periods, targets), [`curves`] (learning curves),
//! [`pareto`] (a sweep's test error against active neurons and wiring length),
//! [`modular_sheet`], [`variance_matrix`], [`weight_distance`] (`gyrus analyze`: clusters on the
//! sheet, clustered task variance, |w| against distance).

pub mod curves;
pub mod fixed_points;
pub mod mesh;
pub mod modular_sheet;
pub mod pareto;
pub mod sheet;
pub mod similarity;
pub mod trial;
pub mod variance_matrix;
pub mod weight_distance;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use anyhow::{anyhow, bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// The font family name every figure uses; [`register_font`] backs it with the embedded font.
pub const FONT: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The embedded font, parsed once.
pub(crate) fn embedded_font() -> Result<&'static FontRef<'static>> {
    static FONT_REF: std::sync::OnceLock<Option<FontRef<'static>>> = std::sync::OnceLock::new();
    FONT_REF
        .get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
        .ok_or_else(|| anyhow!("the embedded font could not be loaded"))
}

/// Registers the embedded DejaVu Sans as [`FONT`] with plotters (idempotent; [`save`] calls it).
pub fn register_font() -> Result<()> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        embedded_font().map(|_| ())
    } else {
        Err(anyhow!("the embedded font could not be loaded"))
    }
}

/// Colour-blind-safe line and category colours (Okabe-Ito), to be cycled.
pub const OKABE_ITO: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// An output image format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Raster image (`.png`).
    Png,
    /// Vector image (`.svg`).
    Svg,
}

impl Format {
    /// The format of a path's extension (`.png` or `.svg`, any case).
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => bail!(
                "cannot tell the image format of {}: the file name must end in .png or .svg",
                path.display()
            ),
        }
    }
}

/// A figure that can be drawn on any plotters backend.
pub trait Figure {
    /// Size in pixels (width, height).
    fn size(&self) -> (u32, u32);
    /// Draws the figure on `canvas`, which has the size [`Figure::size`].
    fn draw<DB: DrawingBackend>(&self, canvas: &Canvas<'_, DB>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// Renders `figure` to `path`, as PNG or SVG by the extension; creates missing parent folders.
///
/// The figure is rendered in memory and written through [`crate::fsio::write_atomic`]: a failure
/// (drawing or writing) names the file and leaves an existing file at `path` as it was.
pub fn save<F: Figure>(figure: &F, path: &Path) -> Result<()> {
    let format = Format::from_path(path)?;
    register_font()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create folder {}", dir.display()))?;
    }
    let bytes =
        render(figure, format).with_context(|| format!("cannot draw {}", path.display()))?;
    crate::fsio::write_atomic(path, bytes)
}

/// Renders `figure` in memory: the bytes of a PNG or SVG file.
pub fn render<F: Figure>(figure: &F, format: Format) -> Result<Vec<u8>> {
    register_font()?;
    let size = figure.size();
    match format {
        Format::Png => {
            let (w, h) = size;
            let len = (w as usize)
                .checked_mul(h as usize)
                .and_then(|n| n.checked_mul(3))
                .ok_or_else(|| anyhow!("a figure of {w} x {h} pixels is too large"))?;
            let mut pixels = vec![0u8; len];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
                let canvas = Canvas {
                    area: &root,
                    vector: false,
                };
                figure.draw(&canvas)?;
                root.present().map_err(plot_error)?;
            }
            let mut png = Vec::new();
            image::ImageEncoder::write_image(
                image::codecs::png::PngEncoder::new(&mut png),
                &pixels,
                w,
                h,
                image::ColorType::Rgb8,
            )?;
            Ok(png)
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                let canvas = Canvas {
                    area: &root,
                    vector: true,
                };
                figure.draw(&canvas)?;
                root.present().map_err(plot_error)?;
            }
            Ok(svg.into_bytes())
        }
    }
}

/// Turns a plotters error into an `anyhow` error.
pub fn plot_error<E: std::error::Error + Send + Sync + 'static>(
    e: DrawingAreaErrorKind<E>,
) -> anyhow::Error {
    anyhow!("{e}")
}

/// Where a text's anchor point sits on the text: horizontal and vertical.
pub type Anchor = (HPos, VPos);

/// A drawing surface in pixel coordinates (origin top left) with the figure helpers.
pub struct Canvas<'a, DB: DrawingBackend> {
    /// The plotters drawing area, for charts and elements the helpers lack.
    pub area: &'a DrawingArea<DB, Shift>,
    /// True for vector output (SVG): text is written as text rather than pixels.
    pub vector: bool,
}

impl<DB: DrawingBackend> Canvas<'_, DB>
where
    DB::ErrorType: 'static,
{
    /// Fills the whole canvas.
    pub fn fill(&self, colour: &RGBColor) -> Result<()> {
        self.area.fill(colour).map_err(plot_error)
    }

    /// A filled rectangle from corner `a` to corner `b`.
    pub fn rect(&self, a: (i32, i32), b: (i32, i32), colour: RGBColor) -> Result<()> {
        self.area
            .draw(&Rectangle::new([a, b], colour.filled()))
            .map_err(plot_error)
    }

    /// A polyline of `width` pixels.
    pub fn line(&self, points: &[(i32, i32)], colour: RGBColor, width: u32) -> Result<()> {
        self.area
            .draw(&PathElement::new(
                points.to_vec(),
                colour.stroke_width(width),
            ))
            .map_err(plot_error)
    }

    /// A filled polygon.
    pub fn polygon(&self, points: &[(i32, i32)], colour: RGBColor) -> Result<()> {
        self.area
            .draw(&Polygon::new(points.to_vec(), colour.filled()))
            .map_err(plot_error)
    }

    /// Width and height in pixels of `text` at font size `size` (the em size, as in CSS).
    pub fn text_size(&self, text: &str, size: f64) -> Result<(i32, i32)> {
        let (w, ascent, descent) = layout(text, size)?;
        Ok((w.ceil() as i32, (ascent - descent).ceil() as i32))
    }

    /// Draws `text` in black at font size `size` (em, pixels) with its `anchor` at `at`.
    pub fn text(&self, text: &str, size: f64, at: (i32, i32), anchor: Anchor) -> Result<()> {
        self.text_colour(text, size, at, anchor, BLACK)
    }

    /// Draws `text` like [`Canvas::text`], in `colour`.
    pub fn text_colour(
        &self,
        text: &str,
        size: f64,
        at: (i32, i32),
        anchor: Anchor,
        colour: RGBColor,
    ) -> Result<()> {
        if self.vector {
            // plotters writes `font-size` as size / 1.24; undo that so sizes match the PNG.
            let style = TextStyle::from((FONT, size * 1.24).into_font())
                .color(&colour)
                .pos(Pos::new(anchor.0, anchor.1));
            return self.area.draw_text(text, &style, at).map_err(plot_error);
        }
        let font = embedded_font()?;
        let scale = px_scale(font, size);
        let scaled = font.as_scaled(scale);
        let (width, ascent, descent) = layout(text, size)?;
        let x0 = f64::from(at.0)
            - match anchor.0 {
                HPos::Left => 0.0,
                HPos::Center => width / 2.0,
                HPos::Right => width,
            };
        let baseline = f64::from(at.1)
            + match anchor.1 {
                VPos::Top => ascent,
                VPos::Center => (ascent + descent) / 2.0,
                VPos::Bottom => descent,
            };
        let mut x = x0 as f32;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                x += scaled.kern(p, id);
            }
            prev = Some(id);
            let glyph = id.with_scale_and_position(scale, ab_glyph::point(x, baseline as f32));
            x += scaled.h_advance(id);
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                let mut result = Ok(());
                outline.draw(|gx, gy, coverage| {
                    if coverage <= 0.0 || result.is_err() {
                        return;
                    }
                    let px = bounds.min.x as i32 + gx as i32;
                    let py = bounds.min.y as i32 + gy as i32;
                    let pixel = colour.mix(f64::from(coverage.min(1.0)));
                    result = self.area.draw_pixel((px, py), &pixel);
                });
                result.map_err(plot_error)?;
            }
        }
        Ok(())
    }
}

/// Width in pixels of `text` at font size `size` (0 if the font cannot be loaded).
pub fn text_width(text: &str, size: f64) -> i32 {
    layout(text, size).map_or(0, |(w, _, _)| w.ceil() as i32)
}

/// The ab_glyph scale of em size `size` for `font`.
pub(crate) fn px_scale(font: &FontRef<'_>, size: f64) -> PxScale {
    let units = font.units_per_em().unwrap_or(2048.0);
    PxScale::from(size as f32 * font.height_unscaled() / units)
}

/// Advance width, ascent and descent (negative) of `text` at em size `size`.
fn layout(text: &str, size: f64) -> Result<(f64, f64, f64)> {
    let font = embedded_font()?;
    let scaled = font.as_scaled(px_scale(font, size));
    let mut width = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            width += scaled.kern(p, id);
        }
        width += scaled.h_advance(id);
        prev = Some(id);
    }
    Ok((
        f64::from(width),
        f64::from(scaled.ascent()),
        f64::from(scaled.descent()),
    ))
}

/// The viridis colour map at `x` in [0, 1] (clamped; NaN maps to 0).
pub fn viridis(x: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let x = if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
    let pos = x * (STOPS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f64;
    let lerp = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(
            Format::from_path(Path::new("a/b.PNG")).unwrap(),
            Format::Png
        );
        assert_eq!(Format::from_path(Path::new("b.svg")).unwrap(), Format::Svg);
        let err = Format::from_path(Path::new("b.jpg"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(".png or .svg"), "{err}");
        assert!(Format::from_path(Path::new("noext")).is_err());
    }

    #[test]
    fn viridis_ends_and_clamps() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }

    #[test]
    fn the_embedded_font_loads_and_measures_text() {
        register_font().unwrap();
        register_font().unwrap();
        let (w1, a, d) = layout("fixation", 13.0).unwrap();
        let (w2, _, _) = layout("fixationfixation", 13.0).unwrap();
        assert!(w1 > 30.0 && w1 < 80.0, "{w1}");
        assert!((w2 - 2.0 * w1).abs() < 1.0);
        assert!(a > 8.0 && d < 0.0);
    }
}
