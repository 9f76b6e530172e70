//! Writes the deterministic test model the firmware embeds by default
//! (`firmware/models/default.gyrus`) until a trained export replaces it:
//!
//! ```sh
//! cargo run -p gyrus-tests --example firmware_test_model -- firmware/models/default.gyrus
//! ```
//!
//! A 16 x 16 sheet with 6 units pruned away (250 kept), local recurrent wiring (grid distance
//! <= 2), dense input and output weights, relu with leak alpha 0.5, the cog20 task list, f32 and
//! int8 weights; all drawn from a fixed seed. Its task performance is chance level: it exists for
//! bit-parity and cost measurements, not for accuracy.

use gyrus_runtime::format::{Activation, CsrRepr, MatrixRepr, ModelRepr, Readout, RecLayout};
use gyrus_runtime::tasks::{n_inputs, Collection, Rng, N_CLASSES};

const ROWS: u16 = 16;
const COLS: u16 = 16;
const RADIUS2: i32 = 4;
const SEED: u64 = 20_240_611;

fn uniform(rng: &mut Rng, bound: f32) -> f32 {
    (2.0 * rng.uniform() - 1.0) * bound
}

fn model() -> ModelRepr {
    let mut rng = Rng::new(SEED);
    let tasks: Vec<String> = Collection::Cog20.iter().map(|t| t.to_string()).collect();
    let n_in = n_inputs(tasks.len());
    // Prune a few units: every 41st sheet cell is gone.
    let positions: Vec<(u16, u16)> = (0..ROWS * COLS)
        .filter(|k| k % 41 != 7)
        .map(|k| (k / COLS, k % COLS))
        .collect();
    let n = positions.len();
    let mut w = vec![0.0f32; n * n];
    for (r, &(i, j)) in positions.iter().enumerate() {
        for (c, &(m, l)) in positions.iter().enumerate() {
            let (di, dj) = (i32::from(i) - i32::from(m), i32::from(j) - i32::from(l));
            if di * di + dj * dj <= RADIUS2 {
                // Some weights fall below the 1e-2 activity threshold on purpose; none is exactly 0.
                let v = uniform(&mut rng, 0.25);
                w[r * n + c] = if v == 0.0 { 1e-3 } else { v };
            }
        }
    }
    let recurrent = CsrRepr::from_dense(n, n, &w, |x| x != 0.0);
    let w_in: Vec<f32> = (0..n * n_in)
        .map(|_| uniform(&mut rng, 1.0 / (n_in as f32).sqrt()))
        .collect();
    let w_out: Vec<f32> = (0..N_CLASSES * n)
        .map(|_| uniform(&mut rng, 1.0 / (n as f32).sqrt()))
        .collect();
    let b_h: Vec<f32> = (0..n).map(|_| uniform(&mut rng, 0.1)).collect();
    let b_o: Vec<f32> = (0..N_CLASSES).map(|_| uniform(&mut rng, 0.1)).collect();
    // Wiring length and active connections as the trainer defines them (spec/models.md).
    let s = f64::from(ROWS.max(COLS));
    let (mut active, mut wiring) = (0u32, 0.0f64);
    for r in 0..n {
        for c in 0..n {
            if w[r * n + c].abs() > 1e-2 {
                let ((i, j), (m, l)) = (positions[r], positions[c]);
                active += 1;
                wiring += f64::from(i.abs_diff(m) + j.abs_diff(l)) / s;
            }
        }
    }
    let mut m = ModelRepr {
        n_inputs: n_in,
        n_hidden: n,
        n_outputs: N_CLASSES,
        sheet_rows: ROWS,
        sheet_cols: COLS,
        pitch: 1.0,
        positions,
        recurrent,
        input: MatrixRepr::compact(n, n_in, &w_in),
        output: MatrixRepr::compact(N_CLASSES, n, &w_out),
        b_h,
        b_o,
        activation: Activation::Relu,
        alpha: 0.5,
        readout: Readout::Argmax,
        tasks,
        wiring_length: wiring,
        active_connections: active,
        seed: SEED,
        int8: None,
        weights: gyrus_runtime::format::Weights::F32,
        layout: RecLayout::Rows,
    };
    // The activation format is calibrated on the model's own trials, as the exporter does.
    let act_max = gyrus_trainer::export::calibrate_activation(&m)
        .unwrap_or_else(|e| panic!("calibration failed: {e}"));
    m.quantize_int8(gyrus_trainer::export::CALIBRATION_HEADROOM * act_max);
    m.layout = RecLayout::choose(&m.recurrent);
    m
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "firmware/models/default.gyrus".into());
    let m = model();
    let blob = m
        .to_bytes()
        .unwrap_or_else(|e| panic!("the test model does not open: {e}"));
    std::fs::write(&path, &blob).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
    println!(
        "{path}: {} bytes, {} hidden, {} recurrent weights ({} active), wiring length {:.3}",
        blob.len(),
        m.n_hidden,
        m.recurrent.nnz(),
        m.active_connections,
        m.wiring_length
    );
}
