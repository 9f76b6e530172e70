//! The kernels against a straightforward dense f64 reference computed here, the dense f32
//! kernel, and the int8 variant; plus the size checks.

mod common;

use common::{random_model, Spec};
use gyrus_runtime::format::{Activation, ModelRepr, ModelView, RecLayout};
use gyrus_runtime::kernel::{self, dense, KernelError, State};
use gyrus_runtime::tasks::Rng;

/// h' = (1 - a) h + a phi(W h + W_in u + b_h), o = W_out h' + b_o, in f64.
struct Reference {
    m: ModelRepr,
    w: Vec<f32>,
    w_in: Vec<f32>,
    w_out: Vec<f32>,
    h: Vec<f64>,
}

impl Reference {
    fn new(m: &ModelRepr) -> Self {
        Reference {
            w: m.recurrent.to_dense(),
            w_in: m.input.to_dense(),
            w_out: m.output.to_dense(),
            h: vec![0.0; m.n_hidden],
            m: m.clone(),
        }
    }

    fn phi(&self, x: f64) -> f64 {
        match self.m.activation {
            Activation::Relu => x.max(0.0),
            Activation::Tanh => x.tanh(),
            Activation::Softplus => (1.0 + x.exp()).ln(),
        }
    }

    fn step(&mut self, u: &[f32]) -> Vec<f64> {
        let (n, ni, a) = (self.m.n_hidden, self.m.n_inputs, f64::from(self.m.alpha));
        let next: Vec<f64> = (0..n)
            .map(|i| {
                let mut x = f64::from(self.m.b_h[i]);
                x += (0..n)
                    .map(|j| f64::from(self.w[i * n + j]) * self.h[j])
                    .sum::<f64>();
                x += (0..ni)
                    .map(|k| f64::from(self.w_in[i * ni + k]) * f64::from(u[k]))
                    .sum::<f64>();
                (1.0 - a) * self.h[i] + a * self.phi(x)
            })
            .collect();
        self.h = next;
        (0..self.m.n_outputs)
            .map(|r| {
                f64::from(self.m.b_o[r])
                    + (0..n)
                        .map(|j| f64::from(self.w_out[r * n + j]) * self.h[j])
                        .sum::<f64>()
            })
            .collect()
    }
}

fn max_diff(a: &[f32], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - y).abs())
        .fold(0.0, f64::max)
}

fn inputs(seed: u64, steps: usize, n: usize) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    (0..steps)
        .map(|_| (0..n).map(|_| common::uniform(&mut rng, 1.0)).collect())
        .collect()
}

#[test]
fn sparse_and_dense_kernels_match_the_f64_reference() {
    let specs = [
        Spec::default(),
        Spec {
            activation: Activation::Relu,
            alpha: 0.3,
            out_zero_fraction: 0.9,
            ..Spec::default()
        },
        Spec {
            activation: Activation::Softplus,
            alpha: 0.7,
            rows: 5,
            cols: 5,
            radius: 2.0,
            ..Spec::default()
        },
        Spec {
            activation: Activation::Softplus,
            alpha: 0.7,
            rows: 5,
            cols: 5,
            radius: 2.0,
            layout: RecLayout::Diagonal,
            ..Spec::default()
        },
    ];
    for (k, spec) in specs.into_iter().enumerate() {
        // The last spec is the one before it in diagonals: the same seed, so the same weights.
        let repr = random_model(100 + k.min(2) as u64, spec);
        let blob = repr.emit();
        let view = ModelView::from_bytes(&blob).unwrap();
        let n = repr.n_hidden;
        let mut reference = Reference::new(&repr);
        let (mut b1, mut b2) = (
            vec![0.0; State::buffer_len(n)],
            vec![0.0; State::buffer_len(n)],
        );
        let mut sparse = State::new(n, &mut b1).unwrap();
        let mut dense_state = State::new(n, &mut b2).unwrap();
        let mut dbuf = vec![0.0; dense::Dense::buffer_len(&view)];
        let dense_model = dense::Dense::expand(&view, &mut dbuf).unwrap();
        let (mut o1, mut o2) = (vec![0.0; 17], vec![0.0; 17]);
        let mut worst = 0.0f64;
        for u in inputs(k as u64, 30, repr.n_inputs) {
            let want = reference.step(&u);
            kernel::step(&view, &mut sparse, &u, &mut o1).unwrap();
            dense::step_dense(&dense_model, &mut dense_state, &u, &mut o2).unwrap();
            for (got_h, got_o) in [(sparse.hidden(), &o1), (dense_state.hidden(), &o2)] {
                worst = worst
                    .max(max_diff(got_h, &reference.h))
                    .max(max_diff(got_o, &want));
            }
        }
        assert!(worst < 1e-5, "spec {k}: max |diff| = {worst}");
        // The reference really moves: outputs are not all zero.
        assert!(o1.iter().any(|&x| x.abs() > 1e-3));
    }
}

#[test]
fn int8_kernel_stays_close_to_f32() {
    let repr = random_model(
        7,
        Spec {
            int8: true,
            rows: 5,
            cols: 5,
            radius: 2.0,
            ..Spec::default()
        },
    );
    let blob = repr.emit();
    let view = ModelView::from_bytes(&blob).unwrap();
    let n = repr.n_hidden;
    let (mut b1, mut b2) = (
        vec![0.0; State::buffer_len(n)],
        vec![0.0; State::buffer_len(n)],
    );
    let (mut s1, mut s2) = (
        State::new(n, &mut b1).unwrap(),
        State::new(n, &mut b2).unwrap(),
    );
    let (mut o1, mut o2) = (vec![0.0; 17], vec![0.0; 17]);
    let (mut worst, mut scale) = (0.0f32, 0.0f32);
    let mut any_diff = false;
    for u in inputs(3, 20, repr.n_inputs) {
        kernel::step(&view, &mut s1, &u, &mut o1).unwrap();
        kernel::step_int8(&view, &mut s2, &u, &mut o2).unwrap();
        for (a, b) in o1
            .iter()
            .zip(&o2)
            .chain(s1.hidden().iter().zip(s2.hidden()))
        {
            worst = worst.max((a - b).abs());
            scale = scale.max(a.abs());
            any_diff |= a != b;
        }
    }
    // Per-weight rounding error is at most max|w|/254 per row, ~0.2%: outputs agree to ~1%.
    assert!(
        worst < 0.02 * scale,
        "int8 vs f32: max |diff| {worst}, max |value| {scale}"
    );
    assert!(
        any_diff,
        "the int8 path must actually use the quantised weights"
    );
}

#[test]
fn sizes_are_checked() {
    let with = random_model(
        8,
        Spec {
            int8: true,
            ..Spec::default()
        },
    );
    let without = random_model(8, Spec::default());
    let (b1, b2) = (with.emit(), without.emit());
    let (v1, v2) = (
        ModelView::from_bytes(&b1).unwrap(),
        ModelView::from_bytes(&b2).unwrap(),
    );
    let n = with.n_hidden;
    let len = State::buffer_len(n);
    assert_eq!(len, 2 * n + 3 * State::PAD + (n + 2) / 2 + n.div_ceil(2));
    let mut small = vec![0.0; len - 1];
    assert_eq!(
        State::new(n, &mut small).unwrap_err(),
        KernelError::StateBuffer {
            needed: len,
            got: len - 1
        }
    );
    let mut buf = vec![0.0; len + 10];
    let mut s = State::new(n, &mut buf).unwrap();
    let mut out = vec![0.0; 17];
    assert_eq!(
        kernel::step(&v1, &mut s, &[0.0; 3], &mut out).unwrap_err(),
        KernelError::Input { needed: 35, got: 3 }
    );
    assert_eq!(
        kernel::step(&v1, &mut s, &[0.0; 35], &mut out[..4]).unwrap_err(),
        KernelError::Output { needed: 17, got: 4 }
    );
    assert_eq!(
        kernel::step_int8(&v2, &mut s, &[0.0; 35], &mut out).unwrap_err(),
        KernelError::NoInt8
    );
    let mut other_buf = vec![0.0; State::buffer_len(2)];
    let mut other = State::new(2, &mut other_buf).unwrap();
    assert_eq!(
        kernel::step(&v1, &mut other, &[0.0; 35], &mut out).unwrap_err(),
        KernelError::Hidden { needed: n, got: 2 }
    );
    kernel::step_int8(&v1, &mut s, &[0.0; 35], &mut out).unwrap();
    assert!(
        s.hidden().iter().any(|&h| h != 0.0),
        "the bias drives h away from 0"
    );
    s.reset();
    assert!(s.hidden().iter().all(|&h| h == 0.0));
}

/// The int8 recurrent product is exactly its documented integer arithmetic, written out here from
/// the public view: `hq = sat16(trunc(h 2^f))` (the scratch holds it, `hq[n] = 0`), each row's
/// `S = sum q hq` exact, and `acc = (S as f32 * 2^-f) * s`; on models with partial groups and
/// relu and tanh formats, aligned and misaligned blobs, and hidden values that saturate.
#[test]
fn int8_recurrent_product_is_the_documented_integer_sum() {
    use gyrus_runtime::kernel::phase;
    for (k, activation) in [Activation::Tanh, Activation::Relu].into_iter().enumerate() {
        let repr = random_model(
            20 + k as u64,
            Spec {
                int8: true,
                rows: 5,
                cols: 7,
                radius: 2.3,
                activation,
                ..Spec::default()
            },
        );
        let blob = repr.emit();
        let (al, mis) = (
            gyrus_runtime::aligned::AlignedCopy::new(&blob),
            common::Misaligned::new(&blob),
        );
        for view in [
            ModelView::from_bytes(al.bytes()).unwrap(),
            ModelView::from_bytes(mis.bytes()).unwrap(),
        ] {
            let n = view.n_hidden();
            assert!(n % 4 != 0, "a partial group");
            let q = view.int8().unwrap();
            let f = q.act_frac_bits;
            let top = 32768.0 / (1u32 << f) as f32;
            // From below -top to above top: saturating at both ends.
            let h: Vec<f32> = (0..n)
                .map(|j| (j as f32 / (n - 1) as f32 * 2.4 - 1.2) * top)
                .collect();
            let want_hq: Vec<i16> = h
                .iter()
                .map(|&x| (x * (1u32 << f) as f32).trunc().clamp(-32768.0, 32767.0) as i16)
                .chain([0])
                .collect();
            assert!(want_hq.contains(&32767) && want_hq.contains(&-32768));
            // The integer sum over the stored codes q (compressed rows of the int8 layout).
            let rec = ModelRepr::parse(&view).int8.unwrap().recurrent;
            let want: Vec<u32> = (0..n)
                .map(|r| {
                    let (s, e) = (rec.row_ptr[r] as usize, rec.row_ptr[r + 1] as usize);
                    let sum: i64 = (s..e)
                        .map(|i| {
                            i64::from(rec.values[i])
                                * i64::from(want_hq[usize::from(rec.col_idx[i])])
                        })
                        .sum();
                    let d = 1.0 / (1u32 << f) as f32;
                    ((sum as i32 as f32) * d * q.rec_scale.get(r).unwrap()).to_bits()
                })
                .collect();
            let mut hq = vec![7i16; n + 1];
            let mut acc = vec![f32::NAN; n];
            phase::recurrent(&view, &h, &mut acc, Some(&mut hq)).unwrap();
            assert_eq!(hq, want_hq);
            let got: Vec<u32> = acc.iter().map(|x| x.to_bits()).collect();
            assert_eq!(got, want);
            assert!(acc.iter().any(|&x| x != 0.0));
        }
    }
}

/// `q[r][c]` of an int8 matrix as stored (dense or compressed rows), 0 where none is stored.
fn q_at(m: &gyrus_runtime::format::MatrixRepr<i8>, r: usize, c: usize) -> i64 {
    use gyrus_runtime::format::MatrixRepr;
    i64::from(match m {
        MatrixRepr::Dense { cols, values, .. } => values[r * cols + c],
        MatrixRepr::Csr(m) => {
            let (s, e) = (m.row_ptr[r] as usize, m.row_ptr[r + 1] as usize);
            (s..e)
                .find(|&k| usize::from(m.col_idx[k]) == c)
                .map_or(0, |k| m.values[k])
        }
    })
}

/// The int8 input and output products are exactly their documented integer arithmetic
/// (`kernel::qio`), written out here from the public view: inputs quantised with
/// `f_u = 14 - floor(log2 max |u|)`, `x = trunc(u 2^f_u)`, `acc + s ((sum q x) as f32 2^-f_u) + b`;
/// the readout quantises `h` with the blob's format and gives `((sum q hq) as f32 2^-f) s + b`.
/// On a dense input matrix with the nonzero-input list and one too wide for it, dense and
/// compressed output matrices, aligned and misaligned blobs, a partial group of 4 units.
#[test]
fn int8_input_and_readout_are_the_documented_integer_sums() {
    use gyrus_runtime::format::Precision;
    use gyrus_runtime::kernel::phase;
    let specs = [
        Spec {
            int8: true,
            rows: 5,
            cols: 7,
            ..Spec::default()
        },
        Spec {
            int8: true,
            rows: 6,
            cols: 6,
            n_inputs: 300,
            out_zero_fraction: 0.8,
            prune_every: 0,
            ..Spec::default()
        },
    ];
    let mut rng = Rng::new(5);
    for (k, spec) in specs.into_iter().enumerate() {
        let blob = random_model(40 + k as u64, spec).emit();
        let (al, mis) = (
            gyrus_runtime::aligned::AlignedCopy::new(&blob),
            common::Misaligned::new(&blob),
        );
        for view in [
            ModelView::from_bytes(al.bytes()).unwrap(),
            ModelView::from_bytes(mis.bytes()).unwrap(),
        ] {
            let (n, ni, no) = (view.n_hidden(), view.n_inputs(), view.n_outputs());
            let q = view.int8().unwrap();
            let w_in = view.input_weights_of(Precision::Int8).unwrap().q_matrix();
            let w_out = view.output_weights_of(Precision::Int8).unwrap().q_matrix();
            if k == 1 {
                assert!(n % 4 == 0 && matches!(w_out, gyrus_runtime::format::MatrixRepr::Csr(_)));
            } else {
                assert!(n % 4 != 0);
            }
            // Input: a third zero, the rest of mixed magnitudes.
            let u: Vec<f32> = (0..ni)
                .map(|j| match j % 3 {
                    0 => 0.0,
                    1 => common::uniform(&mut rng, 3.0),
                    _ => common::uniform(&mut rng, 0.01),
                })
                .collect();
            let big = u.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let fu = 14 - (big as f64).log2().floor() as i32;
            let scale_u = (fu as f64).exp2() as f32;
            let x: Vec<i64> = u.iter().map(|&v| (v * scale_u).trunc() as i64).collect();
            assert!(x.iter().all(|v| v.abs() < 32768) && x.iter().any(|v| v.abs() >= 16384));
            let acc0: Vec<f32> = (0..n).map(|_| common::uniform(&mut rng, 1.0)).collect();
            let want: Vec<u32> = (0..n)
                .map(|i| {
                    let s: i64 = (0..ni).map(|j| q_at(&w_in, i, j) * x[j]).sum();
                    let d = (-fu as f64).exp2() as f32;
                    let b = view.hidden_bias().get(i).unwrap();
                    (acc0[i] + q.in_scale.get(i).unwrap() * (s as f32 * d) + b).to_bits()
                })
                .collect();
            let mut acc = acc0.clone();
            phase::input(&view, &u, &mut acc, true).unwrap();
            let got: Vec<u32> = acc.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "input product, spec {k}");

            // Readout: hidden values past the format's range at both ends.
            let f = q.act_frac_bits;
            let top = 32768.0 / (1u32 << f) as f32;
            let h: Vec<f32> = (0..n)
                .map(|_| common::uniform(&mut rng, 1.1 * top))
                .collect();
            let hq: Vec<i64> = h
                .iter()
                .map(|&v| (v * (1u32 << f) as f32).trunc().clamp(-32768.0, 32767.0) as i64)
                .collect();
            let want: Vec<u32> = (0..no)
                .map(|r| {
                    let s: i64 = (0..n).map(|c| q_at(&w_out, r, c) * hq[c]).sum();
                    let d = 1.0 / (1u32 << f) as f32;
                    let b = view.output_bias().get(r).unwrap();
                    ((s as f32 * d) * q.out_scale.get(r).unwrap() + b).to_bits()
                })
                .collect();
            let mut out = vec![f32::NAN; no];
            let mut scratch = vec![0i16; n + 1];
            phase::readout(&view, &h, &mut out, Some(&mut scratch)).unwrap();
            let got: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "readout, spec {k}");
        }
    }
}

/// The diagonal layout steps like the lane groups: on random local masks (sheets whose unit count
/// is below 16, a multiple of 16, or neither, so whole and partial groups; pruned cells; several
/// radii; the int8 weights alongside) every hidden value and output of 25 steps is equal as a
/// float (the sums differ at most in the sign of a zero, see `kernel::diag`), with aligned and
/// misaligned blobs; the product on a plain `h` (bounds-checked reads) and on a padded one give
/// the same bits; and the state's pads stay zero.
#[test]
fn diagonal_layout_steps_like_the_rows_layout() {
    use gyrus_runtime::kernel::phase;
    let cases = [
        (3u16, 4u16, 1.5f32, 7usize),
        (4, 8, 2.0, 0),
        (6, 7, 2.3, 5),
        (7, 9, 1.0, 4),
    ];
    for (k, &(rows, cols, radius, prune_every)) in cases.iter().enumerate() {
        let spec = |layout| Spec {
            rows,
            cols,
            radius,
            prune_every,
            int8: true,
            activation: Activation::Relu,
            alpha: 0.6,
            layout,
            ..Spec::default()
        };
        let (a, b) = (
            random_model(40 + k as u64, spec(RecLayout::Rows)),
            random_model(40 + k as u64, spec(RecLayout::Diagonal)),
        );
        assert_eq!(a.recurrent, b.recurrent);
        let (ba, bb) = (a.to_bytes().unwrap(), b.to_bytes().unwrap());
        assert_ne!(ba, bb, "case {k}: the layouts differ");
        let (al, mis) = (
            gyrus_runtime::aligned::AlignedCopy::new(&bb),
            common::Misaligned::new(&bb),
        );
        let rows_view = ModelView::from_bytes(&ba).unwrap();
        let n = a.n_hidden;
        for view in [
            ModelView::from_bytes(al.bytes()).unwrap(),
            ModelView::from_bytes(mis.bytes()).unwrap(),
        ] {
            let (mut b1, mut b2) = (
                vec![0.0; State::buffer_len(n)],
                vec![0.0; State::buffer_len(n)],
            );
            let (mut s1, mut s2) = (
                State::new(n, &mut b1).unwrap(),
                State::new(n, &mut b2).unwrap(),
            );
            let (mut o1, mut o2) = (vec![0.0; 17], vec![0.0; 17]);
            for u in inputs(k as u64, 25, a.n_inputs) {
                kernel::step(&rows_view, &mut s1, &u, &mut o1).unwrap();
                kernel::step(&view, &mut s2, &u, &mut o2).unwrap();
                assert_eq!(s1.hidden(), s2.hidden(), "case {k}");
                assert_eq!(o1, o2, "case {k}");
                // Plain and padded products, same bits; the rows layout equal as floats.
                let (hp, next, _) = s2.padded_parts();
                let p = State::PAD;
                assert!(hp[..p].iter().chain(&hp[p + n..]).all(|x| x.to_bits() == 0));
                assert_eq!(hp.len(), n + 2 * p);
                let h = hp[p..p + n].to_vec();
                phase::recurrent_padded(&view, hp, next, None).unwrap();
                let padded = next.to_vec();
                let mut plain = vec![f32::NAN; n];
                phase::recurrent(&view, &h, &mut plain, None).unwrap();
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&plain), bits(&padded), "case {k}");
                let mut by_rows = vec![f32::NAN; n];
                phase::recurrent(&rows_view, &h, &mut by_rows, None).unwrap();
                assert_eq!(by_rows, plain, "case {k}");
            }
            assert!(s2.hidden().iter().any(|&x| x != 0.0));
            // The int8 weights are untouched by the f32 layout.
            kernel::step_int8(&rows_view, &mut s1, &[0.5; 35], &mut o1).unwrap();
            kernel::step_int8(&view, &mut s2, &[0.5; 35], &mut o2).unwrap();
            assert_eq!(o1, o2);
        }
    }
}
