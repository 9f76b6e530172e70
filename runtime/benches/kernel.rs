//! Host step time of the sparse kernel vs the dense kernel of the same network: N = 625 units on a
//! 25 x 25 sheet, local connectivity of radius 2 (13 incoming weights per interior unit), 53 inputs
//! (cog20), 17 outputs, random weights, tanh. Prints both times and their ratio, measured in the
//! same run, the recurrent sparse product alone (`kernel::phase::recurrent`) per stored weight,
//! the recurrent product over the diagonal layout against the lane groups (the same weights,
//! timed in turns), then criterion's figures for sparse f32, sparse int8 and dense.
//!
//! `cargo bench -p gyrus-runtime --bench kernel` (about 30 s).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use gyrus_runtime::aligned::AlignedCopy;
use gyrus_runtime::format::{
    Activation, CsrRepr, MatrixRepr, ModelRepr, ModelView, Readout, RecLayout,
};
use gyrus_runtime::kernel::{self, dense, phase, State};
use gyrus_runtime::tasks::Rng;

const SIDE: u16 = 25;
const N_IN: usize = 53;
const N_OUT: usize = 17;

fn model(layout: RecLayout) -> Vec<u8> {
    let mut rng = Rng::new(1);
    let mut u = |a: f32| (2.0 * rng.uniform() - 1.0) * a;
    let n = usize::from(SIDE) * usize::from(SIDE);
    let pos: Vec<(u16, u16)> = (0..n).map(|k| ((k / 25) as u16, (k % 25) as u16)).collect();
    let mut w = vec![0.0f32; n * n];
    for (i, &(a, b)) in pos.iter().enumerate() {
        for (j, &(c, d)) in pos.iter().enumerate() {
            let (dr, dc) = (f32::from(a) - f32::from(c), f32::from(b) - f32::from(d));
            if dr * dr + dc * dc <= 4.0 {
                w[i * n + j] = u(0.3);
            }
        }
    }
    let w_in: Vec<f32> = (0..n * N_IN).map(|_| u(0.2)).collect();
    let w_out: Vec<f32> = (0..N_OUT * n).map(|_| u(0.1)).collect();
    let mut m = ModelRepr {
        n_inputs: N_IN,
        n_hidden: n,
        n_outputs: N_OUT,
        sheet_rows: SIDE,
        sheet_cols: SIDE,
        pitch: 1.0,
        positions: pos,
        recurrent: CsrRepr::from_dense(n, n, &w, |x| x != 0.0),
        input: MatrixRepr::compact(n, N_IN, &w_in),
        output: MatrixRepr::compact(N_OUT, n, &w_out),
        b_h: (0..n).map(|_| u(0.1)).collect(),
        b_o: vec![0.0; N_OUT],
        activation: Activation::Tanh,
        alpha: 1.0,
        readout: Readout::Argmax,
        tasks: vec![],
        wiring_length: 0.0,
        active_connections: 0,
        seed: 1,
        int8: None,
        weights: gyrus_runtime::format::Weights::F32,
        layout,
    };
    m.quantize_int8(1.0);
    m.to_bytes().expect("valid benchmark model")
}

/// Median time per step over `rounds` batches of `steps` steps.
fn time(mut f: impl FnMut(), steps: u32, rounds: usize) -> Duration {
    let mut v: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..steps {
                f();
            }
            t.elapsed() / steps
        })
        .collect();
    v.sort();
    v[rounds / 2]
}

fn bench(c: &mut Criterion) {
    let blob = model(RecLayout::Rows);
    // A 4-aligned copy, as firmware embeds it, so the kernel reads zero-copy.
    let aligned = AlignedCopy::new(&blob);
    let bytes = aligned.bytes();
    let view = ModelView::from_bytes(bytes).unwrap();
    assert!(view.is_zero_copy());
    let n = view.n_hidden();
    let mut dbuf = vec![0.0; dense::Dense::buffer_len(&view)];
    let dm = dense::Dense::expand(&view, &mut dbuf).unwrap();
    let input: Vec<f32> = (0..N_IN).map(|i| (i % 5) as f32 * 0.2).collect();
    let mut out = vec![0.0; N_OUT];
    let len = State::buffer_len(n);
    let (mut b1, mut b2, mut b3) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
    let mut s_sparse = State::new(n, &mut b1).unwrap();
    let mut s_int8 = State::new(n, &mut b2).unwrap();
    let mut s_dense = State::new(n, &mut b3).unwrap();

    let sparse_t = time(
        || kernel::step(&view, &mut s_sparse, black_box(&input), &mut out).unwrap(),
        200,
        15,
    );
    let dense_t = time(
        || dense::step_dense(&dm, &mut s_dense, black_box(&input), &mut out).unwrap(),
        20,
        15,
    );
    let int8_t = time(
        || kernel::step_int8(&view, &mut s_int8, black_box(&input), &mut out).unwrap(),
        200,
        15,
    );
    println!(
        "N={n}, recurrent nnz={} ({:.1}% of N^2), inputs {N_IN}, outputs {N_OUT}, blob {} bytes",
        view.recurrent().nnz(),
        100.0 * view.recurrent().nnz() as f64 / (n * n) as f64,
        blob.len()
    );
    println!(
        "median step time: sparse f32 {:.2} us, sparse int8 {:.2} us, dense f32 {:.2} us; dense/sparse = {:.1}x",
        sparse_t.as_secs_f64() * 1e6,
        int8_t.as_secs_f64() * 1e6,
        dense_t.as_secs_f64() * 1e6,
        dense_t.as_secs_f64() / sparse_t.as_secs_f64()
    );

    // The recurrent sparse product alone (kernel::phase), per stored recurrent weight.
    let nnz = view.recurrent().nnz();
    let (h, mut acc) = (s_sparse.hidden().to_vec(), vec![0.0f32; n]);
    let mut hq = vec![0i16; n + 1];
    for int8 in [false, true] {
        let t = time(
            || {
                let scratch = if int8 { Some(&mut hq[..]) } else { None };
                phase::recurrent(&view, black_box(&h), &mut acc, scratch).unwrap()
            },
            200,
            15,
        );
        println!(
            "recurrent product ({}): {:.2} us = {:.2} ns per stored recurrent weight; {:.0}% of the sparse step",
            if int8 { "int8" } else { "f32" },
            t.as_secs_f64() * 1e6,
            t.as_secs_f64() * 1e9 / nnz as f64,
            100.0 * t.as_secs_f64() / if int8 { int8_t } else { sparse_t }.as_secs_f64()
        );
    }

    // The f32 recurrent product over the diagonal layout (what `gyrus export --layout auto` picks
    // for this local mask) against the lane groups, on the same padded state, timed in turns;
    // the ratio is the median of the per-turn ratios.
    let diag_blob = model(RecLayout::Diagonal);
    let diag_aligned = AlignedCopy::new(&diag_blob);
    let diag = ModelView::from_bytes(diag_aligned.bytes()).unwrap();
    let mut b4 = vec![0.0; len];
    let mut s_diag = State::new(n, &mut b4).unwrap();
    for _ in 0..5 {
        kernel::step(&diag, &mut s_diag, &input, &mut out).unwrap();
    }
    let (hp, next, _) = s_diag.padded_parts();
    let (mut t_rows, mut t_diag, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..15 {
        let r = time(
            || phase::recurrent_padded(&view, black_box(hp), next, None).unwrap(),
            200,
            1,
        );
        let d = time(
            || phase::recurrent_padded(&diag, black_box(hp), next, None).unwrap(),
            200,
            1,
        );
        t_rows.push(r.as_secs_f64() * 1e6);
        t_diag.push(d.as_secs_f64() * 1e6);
        ratio.push(r.as_secs_f64() / d.as_secs_f64());
    }
    for v in [&mut t_rows, &mut t_diag, &mut ratio] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "recurrent product (f32), lane groups {:.2} us, diagonals {:.2} us ({} vs {} blob bytes); rows / diagonals = {:.2}x (median of {} turns)",
        t_rows[t_rows.len() / 2],
        t_diag[t_diag.len() / 2],
        blob.len(),
        diag_blob.len(),
        ratio[ratio.len() / 2],
        ratio.len()
    );

    // The input product (with the bias) over the nonzero inputs only: an input with 20% nonzero
    // entries (cog20's trials have about 20%) against one with none zero (every weight of the
    // dense input matrix used), timed in turns; the ratio is the median of the per-turn ratios.
    let few: Vec<f32> = (0..N_IN)
        .map(|i| if i % 5 == 0 { 0.7 } else { 0.0 })
        .collect();
    let all: Vec<f32> = (0..N_IN).map(|i| 0.1 + (i % 5) as f32 * 0.2).collect();
    for int8 in [false, true] {
        let (mut t_few, mut t_all, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..15 {
            let a = time(
                || phase::input(&view, black_box(&few), &mut acc, int8).unwrap(),
                200,
                1,
            );
            let b = time(
                || phase::input(&view, black_box(&all), &mut acc, int8).unwrap(),
                200,
                1,
            );
            t_few.push(a);
            t_all.push(b);
            ratio.push(b.as_secs_f64() / a.as_secs_f64());
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let us = |v: &[Duration]| {
            let mut x: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e6).collect();
            median(&mut x)
        };
        println!(
            "input product ({}), {N_IN} inputs: {:.0}% nonzero {:.2} us, none zero {:.2} us; none zero / nonzero only = {:.1}x (median of {} turns)",
            if int8 { "int8" } else { "f32" },
            100.0 * few.iter().filter(|x| **x != 0.0).count() as f64 / N_IN as f64,
            us(&t_few),
            us(&t_all),
            median(&mut ratio),
            ratio.len()
        );
    }

    // The int8 input product and readout on integers (kernel::qio) against the f32 ones, on the
    // same vectors, timed in turns; the ratio is the median of the per-turn ratios.
    let h = s_sparse.hidden().to_vec();
    let mut o = vec![0.0f32; N_OUT];
    let (mut r_in, mut r_out) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let mut t = |int8: bool| {
            time(
                || phase::input(&view, black_box(&few), &mut acc, int8).unwrap(),
                200,
                1,
            )
            .as_secs_f64()
        };
        r_in.push(t(false) / t(true));
        let f = time(
            || phase::readout(&view, black_box(&h), &mut o, None).unwrap(),
            200,
            1,
        );
        let q = time(
            || phase::readout(&view, black_box(&h), &mut o, Some(&mut hq[..])).unwrap(),
            200,
            1,
        );
        r_out.push(f.as_secs_f64() / q.as_secs_f64());
    }
    for v in [&mut r_in, &mut r_out] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "int8 on integers vs f32 (time f32 / time int8, median of {} turns): input product {:.2}x, readout {:.2}x",
        r_in.len(),
        r_in[r_in.len() / 2],
        r_out[r_out.len() / 2]
    );

    let mut g = c.benchmark_group("step_n625_r2");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    g.bench_function("sparse_f32", |b| {
        b.iter(|| kernel::step(&view, &mut s_sparse, black_box(&input), &mut out).unwrap())
    });
    g.bench_function("sparse_int8", |b| {
        b.iter(|| kernel::step_int8(&view, &mut s_int8, black_box(&input), &mut out).unwrap())
    });
    g.bench_function("dense_f32", |b| {
        b.iter(|| dense::step_dense(&dm, &mut s_dense, black_box(&input), &mut out).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
