//! `gyrus inspect model.gyrus [--out sheet.png]`: what a blob holds (header, sizes, densities,
//! measures recomputed by the runtime, footprint) and, with `--out`, its connectivity on the sheet.

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
    Ok(())
}
