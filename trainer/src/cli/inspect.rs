//! `gyrus inspect model.gyrus [--out sheet.png] [--npz weights.npz]`: what a blob holds (header,
//! sizes, densities, measures recomputed by the runtime, footprint), with `--out` its
//! connectivity on the sheet, and with `--npz` its weights as dense NumPy arrays.

use crate::npz::{self, Array};
use crate::plot::sheet::SheetFigure;
use anyhow::{Context, Result};
use clap::Args;
use gyrus_runtime::format::{Matrix, ModelView, VERSION};
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
    /// b_h [n].
    pub b_h: Vec<f32>,
    /// W_out [O, n].
    pub w_out: Vec<f32>,
    /// b_o [O].
    pub b_o: Vec<f32>,
}

/// The one place that reads a blob's weights for `--npz`, through [`ModelView`]'s accessors.
pub fn dense_weights(model: &ModelView<'_>) -> DenseWeights {
    let (n, i, o) = (model.n_hidden(), model.n_inputs(), model.n_outputs());
    let mut w_rec = vec![0.0f32; n * n];
    let rec = model.recurrent();
    for r in 0..n {
        for (c, v) in rec.row(r) {
            w_rec[r * n + c] = v;
        }
    }
    let dense = |m: &gyrus_runtime::format::MatrixView<'_>, rows: usize, cols: usize| {
        (0..rows * cols)
            .map(|k| m.get(k / cols, k % cols))
            .collect()
    };
    DenseWeights {
        w_rec,
        w_in: dense(&model.input_weights(), n, i),
        b_h: model.hidden_bias().iter().collect(),
        w_out: dense(&model.output_weights(), o, n),
        b_o: model.output_bias().iter().collect(),
    }
}

/// The arrays `--npz` writes: `w_rec` [n, n], `w_in` [n, I], `b_h` [n], `w_out` [O, n], `b_o`
/// [O] (float32), `positions` [n, 2] (int64 sheet row, column), `tasks` (names in rule order),
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
        "format_version": VERSION,
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

/// The text report of an opened blob.
pub fn describe(model: &ModelView<'_>) -> String {
    let m = measure::measure(model);
    let (rows, cols) = model.sheet();
    let mut s = format!("gyrus model, format version {VERSION}\n");
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
    let rec = model.recurrent();
    s += &format!(
        "recurrent W         sparse, {}\n",
        density(rec.nnz(), rec.rows, rec.cols)
    );
    let nonzero =
        |v: &gyrus_runtime::format::LeSlice<'_, f32>| v.iter().filter(|x| *x != 0.0).count();
    s += &format!(
        "input W_in          {}\n",
        matrix_view_line(&model.input_weights(), &nonzero)
    );
    s += &format!(
        "output W_out        {}\n",
        matrix_view_line(&model.output_weights(), &nonzero)
    );
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
    s += &format!("flash bytes         {}\n", m.flash_bytes);
    s += &format!("RAM bytes           {}\n", m.ram_bytes);
    s
}

fn matrix_view_line(
    m: &gyrus_runtime::format::MatrixView<'_>,
    nonzero: &dyn Fn(&gyrus_runtime::format::LeSlice<'_, f32>) -> usize,
) -> String {
    match m {
        Matrix::Dense { rows, cols, values } => {
            format!("dense, {}", density(nonzero(values), *rows, *cols))
        }
        Matrix::Csr(c) => format!("sparse, {}", density(c.nnz(), c.rows, c.cols)),
    }
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
