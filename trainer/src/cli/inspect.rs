//! `gyrus inspect model.gyrus [--out sheet.png]`: what a blob holds (header, sizes, densities,
//! measures recomputed by the runtime, footprint) and, with `--out`, its connectivity on the sheet.

use crate::plot::sheet::SheetFigure;
use anyhow::{Context, Result};
use clap::Args;
use gyrus_runtime::format::{ModelView, Precision, WeightsView, VERSION};
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

/// One matrix: its layout in the blob and how many weights it stores.
fn matrix_line(w: &WeightsView<'_>, layout: &str) -> String {
    format!("{layout}, {}", density(w.nnz(), w.rows(), w.cols()))
}

fn layout_of(w: &WeightsView<'_>, recurrent: bool) -> &'static str {
    match (recurrent, w.is_int8(), w.stored() == w.rows() * w.cols()) {
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
                s += &format!("{label:<20}{}\n", matrix_line(&w, layout_of(&w, rec)));
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
    Ok(())
}
