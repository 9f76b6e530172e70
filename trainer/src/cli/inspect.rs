//! `gyrus inspect model.gyrus [--out sheet.png] [--npz weights.npz]`: what a blob holds (header,
//! sizes, densities, measures recomputed by the runtime, footprint), with `--out` its
//! connectivity on the sheet, and with `--npz` its weights as dense NumPy arrays.

use crate::npz::{self, Array};
use crate::plot::sheet::SheetFigure;
use anyhow::{Context, Result};
use clap::Args;
use gyrus_runtime::format::{ModelView, Precision, RecLayout, WeightsView};
use gyrus_runtime::measure;
use std::path::PathBuf;

/// Arguments of `gyrus inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The blob (`.gyrus`).
    pub model: PathBuf,
    /// Draw the kept units and their recurrent connections on the sheet (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the blob's weights for NumPy: dense matrices (zeros where pruned), biases, positions
    /// and metadata (see README).
    #[arg(long, value_name = "FILE")]
    pub npz: Option<PathBuf>,
}

/// A blob's f32 weights as dense row-major arrays (zeros where nothing is stored).
pub struct DenseWeights {
    /// W [n, n], row = receiving unit.
    pub w_rec: Vec<f32>,
    /// W_in [n, I].
    pub w_in: Vec<f32>,
    /// b_h \[n\].
    pub b_h: Vec<f32>,
    /// W_out [O, n].
    pub w_out: Vec<f32>,
    /// b_o \[O\].
    pub b_o: Vec<f32>,
}

/// The one place that reads a blob's weights for `--npz`, through [`ModelView`]'s accessors (in
/// the blob's own precision: an int8-only blob gives its dequantised weights).
pub fn dense_weights(model: &ModelView<'_>) -> DenseWeights {
    DenseWeights {
        w_rec: model.recurrent().to_dense_vec(),
        w_in: model.input_weights().to_dense_vec(),
        b_h: model.hidden_bias().iter().collect(),
        w_out: model.output_weights().to_dense_vec(),
        b_o: model.output_bias().iter().collect(),
    }
}

/// The arrays `--npz` writes: `w_rec` \[n, n\], `w_in` \[n, I\], `b_h` \[n\], `w_out` \[O, n\], `b_o`
/// \[O\] (float32), `positions` \[n, 2\] (int64 sheet row, column), `tasks` (names in rule order),
/// `activation` (one string), `alpha`, `pitch` (float32 scalars), `sheet` (int64 rows, columns),
/// and `metadata` (one string: a JSON object with these and the seed, readout, format version,
/// wiring length and active connections).
pub fn npz_arrays(model: &ModelView<'_>) -> Result<Vec<(&'static str, Array)>> {
    let (n, i, o) = (model.n_hidden(), model.n_inputs(), model.n_outputs());
    let w = dense_weights(model);
    let positions: Vec<i64> = (0..n)
        .flat_map(|u| {
            let (r, c) = model.position(u).unwrap_or((0, 0));
            [i64::from(r), i64::from(c)]
        })
        .collect();
    let (rows, cols) = model.sheet();
    let tasks: Vec<&str> = model.task_names().collect();
    let meta = serde_json::json!({
        "format_version": model.version(),
        "n_inputs": i, "n_hidden": n, "n_outputs": o,
        "sheet": [rows, cols], "pitch": model.pitch(),
        "activation": model.activation().name(), "alpha": model.alpha(),
        "readout": "argmax", "seed": model.seed(), "tasks": tasks,
        "wiring_length": model.trained_wiring_length(),
        "active_connections": model.trained_active_connections(),
        "int8": model.int8().is_some(),
    });
    Ok(vec![
        ("w_rec", Array::new(&[n, n], &w.w_rec)?),
        ("w_in", Array::new(&[n, i], &w.w_in)?),
        ("b_h", Array::new(&[n], &w.b_h)?),
        ("w_out", Array::new(&[o, n], &w.w_out)?),
        ("b_o", Array::new(&[o], &w.b_o)?),
        ("positions", Array::new(&[n, 2], &positions)?),
        ("tasks", Array::strings(&tasks)),
        ("activation", Array::strings(&[model.activation().name()])),
        ("alpha", Array::new(&[], &[model.alpha()])?),
        ("pitch", Array::new(&[], &[model.pitch()])?),
        (
            "sheet",
            Array::new(&[2], &[i64::from(rows), i64::from(cols)])?,
        ),
        ("metadata", Array::strings(&[meta.to_string()])),
    ])
}

fn density(stored: usize, rows: usize, cols: usize) -> String {
    let all = rows * cols;
    let d = if all == 0 {
        0.0
    } else {
        100.0 * stored as f64 / all as f64
    };
    format!("{rows} x {cols}, {stored} stored ({d:.1}%)")
}

/// One matrix: its layout in the blob and how many weights it stores.
fn matrix_line(w: &WeightsView<'_>, layout: &str) -> String {
    format!("{layout}, {}", density(w.nnz(), w.rows(), w.cols()))
}

fn layout_of(model: &ModelView<'_>, w: &WeightsView<'_>, recurrent: bool) -> &'static str {
    match (recurrent, w.is_int8(), w.stored() == w.rows() * w.cols()) {
        (true, false, _) if model.rec_layout() == Some(RecLayout::Diagonal) => {
            "sparse (f32 diagonals)"
        }
        (true, false, _) => "sparse (f32 lane groups)",
        (true, true, _) => "sparse (int8 pair groups)",
        (false, _, true) => "dense",
        (false, _, false) => "sparse (compressed rows)",
    }
}

/// The text report of an opened blob.
pub fn describe(model: &ModelView<'_>) -> String {
    let m = measure::measure(model);
    let (rows, cols) = model.sheet();
    let mut s = format!("gyrus model, format version {}\n", model.version());
    s += &format!("seed                {}\n", model.seed());
    let names: Vec<&str> = model.task_names().collect();
    let label = format!("tasks ({})", names.len());
    s += &format!("{label:<20}{}\n", names.join(","));
    s += &format!(
        "sizes               {} inputs, {} hidden, {} outputs\n",
        model.n_inputs(),
        model.n_hidden(),
        model.n_outputs()
    );
    s += &format!(
        "sheet               {rows} x {cols} (pitch {}), {} of {} positions kept\n",
        model.pitch(),
        model.n_hidden(),
        usize::from(rows) * usize::from(cols)
    );
    s += &format!(
        "activation          {}, alpha {}, readout argmax\n",
        model.activation().name(),
        model.alpha()
    );
    s += &format!(
        "weights             {}\n",
        match (model.has_f32(), model.int8().is_some()) {
            (true, true) => "f32 and int8",
            (false, true) => "int8 only",
            _ => "f32 only",
        }
    );
    let mut weights = 0;
    for p in [Precision::F32, Precision::Int8] {
        let name = if p == Precision::F32 { "f32" } else { "int8" };
        let mats = [
            ("recurrent W", model.recurrent_of(p), true),
            ("input W_in", model.input_weights_of(p), false),
            ("output W_out", model.output_weights_of(p), false),
        ];
        for (label, w, rec) in mats {
            if let Some(w) = w {
                let label = format!("{name} {label}");
                s += &format!(
                    "{label:<20}{}\n",
                    matrix_line(&w, layout_of(model, &w, rec))
                );
                if p == model.precision() {
                    weights += w.nnz();
                }
            }
        }
    }
    s += &format!(
        "int8 variant        {}\n",
        match model.int8() {
            Some(q) => format!(
                "yes (hidden state quantised with {} fraction bits)",
                q.act_frac_bits
            ),
            None => "no".into(),
        }
    );
    s += &format!(
        "active connections  {} (runtime), {} (trainer)\n",
        m.active_connections,
        model.trained_active_connections()
    );
    s += &format!(
        "wiring length       {:.4} (runtime), {:.4} (trainer)\n",
        m.wiring_length,
        model.trained_wiring_length()
    );
    s += &format!(
        "flash bytes         {} ({:.2} bytes per weight, {} nonzero weights)\n",
        m.flash_bytes,
        m.flash_bytes as f64 / weights.max(1) as f64,
        weights
    );
    s += &format!("RAM bytes           {}\n", m.ram_bytes);
    s += "sections (bytes, share of the blob)\n";
    let sections = model.sections();
    let listed: usize = sections.iter().map(|(_, b)| b.len()).sum();
    let share = |b: usize| 100.0 * b as f64 / m.flash_bytes.max(1) as f64;
    for (name, range) in &sections {
        let bytes = range.len();
        s += &format!("  {name:<32}{bytes:>9} {:>5.1}%\n", share(bytes));
    }
    let rest = m.flash_bytes.saturating_sub(listed);
    s += &format!(
        "  {:<32}{rest:>9} {:>5.1}%\n",
        "header, metadata, framing, CRC",
        share(rest)
    );
    s
}

/// Runs `gyrus inspect`.
pub fn run(args: InspectArgs) -> Result<()> {
    let blob = std::fs::read(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?;
    let model = ModelView::from_bytes(&blob)
        .map_err(|e| anyhow::anyhow!("{} is not a valid gyrus model: {e}", args.model.display()))?;
    print!("{}", describe(&model));
    if let Some(out) = &args.out {
        let title = format!(
            "{}: {} units, {} recurrent connections",
            args.model
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            model.n_hidden(),
            model.recurrent().nnz()
        );
        crate::plot::save(&SheetFigure::from_model(&model, &title), out)?;
        eprintln!("wrote {}", out.display());
    }
    if let Some(path) = &args.npz {
        let arrays = npz_arrays(&model)?;
        let refs: Vec<(&str, &Array)> = arrays.iter().map(|(n, a)| (*n, a)).collect();
        crate::fsio::write_atomic_with(path, |w| npz::write_npz(w, &refs))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
