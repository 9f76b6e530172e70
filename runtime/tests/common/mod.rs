//! Shared helpers of the runtime's integration tests: small random models.
#![allow(dead_code)]

use gyrus_runtime::format::{
    Activation, CsrRepr, MatrixRepr, ModelRepr, ModelView, Readout, RecLayout,
};
use gyrus_runtime::kernel::{self, State};
use gyrus_runtime::tasks::Rng;

/// Options of [`random_model`].
#[derive(Clone, Copy)]
pub struct Spec {
    pub rows: u16,
    pub cols: u16,
    /// Local connectivity radius on the sheet (Euclidean, grid units).
    pub radius: f32,
    pub n_inputs: usize,
    pub n_outputs: usize,
    /// Every `prune_every`-th cell has no unit (0 = keep all).
    pub prune_every: usize,
    pub activation: Activation,
    pub alpha: f32,
    /// Fraction of output weights set to zero (makes the output matrix sparse).
    pub out_zero_fraction: f32,
    pub int8: bool,
    /// Layout of the f32 recurrent weights.
    pub layout: RecLayout,
}

impl Spec {
    /// A pruned, int8-carrying local model on a 6 x 7 sheet stored in diagonals: 42 units, so its
    /// groups of 16 rows end in a partial one (the corruption and round-trip tests share it).
    pub fn partial_diagonals() -> Self {
        Spec {
            rows: 6,
            cols: 7,
            radius: 2.0,
            prune_every: 5,
            int8: true,
            layout: RecLayout::Diagonal,
            ..Spec::default()
        }
    }
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            rows: 4,
            cols: 5,
            radius: 1.5,
            n_inputs: 35,
            n_outputs: 17,
            prune_every: 7,
            activation: Activation::Tanh,
            alpha: 1.0,
            out_zero_fraction: 0.0,
            int8: false,
            layout: RecLayout::Rows,
        }
    }
}

pub fn uniform(rng: &mut Rng, a: f32) -> f32 {
    (2.0 * rng.uniform() - 1.0) * a
}

/// A random local network on a sheet with some cells pruned.
pub fn random_model(seed: u64, s: Spec) -> ModelRepr {
    let mut rng = Rng::new(seed);
    let positions: Vec<(u16, u16)> = (0..usize::from(s.rows) * usize::from(s.cols))
        .filter(|k| s.prune_every == 0 || k % s.prune_every != s.prune_every - 1)
        .map(|k| {
            (
                (k / usize::from(s.cols)) as u16,
                (k % usize::from(s.cols)) as u16,
            )
        })
        .collect();
    let n = positions.len();
    let mut w = vec![0.0f32; n * n];
    for (i, &(ri, ci)) in positions.iter().enumerate() {
        for (j, &(rj, cj)) in positions.iter().enumerate() {
            let (dr, dc) = (f32::from(ri) - f32::from(rj), f32::from(ci) - f32::from(cj));
            if (dr * dr + dc * dc).sqrt() <= s.radius {
                w[i * n + j] = uniform(&mut rng, 0.6);
            }
        }
    }
    let w_in: Vec<f32> = (0..n * s.n_inputs)
        .map(|_| uniform(&mut rng, 0.5))
        .collect();
    let w_out: Vec<f32> = (0..s.n_outputs * n)
        .map(|_| {
            let v = uniform(&mut rng, 0.5);
            if rng.uniform() < s.out_zero_fraction {
                0.0
            } else {
                v
            }
        })
        .collect();
    let mut m = ModelRepr {
        n_inputs: s.n_inputs,
        n_hidden: n,
        n_outputs: s.n_outputs,
        sheet_rows: s.rows,
        sheet_cols: s.cols,
        pitch: 1.0,
        positions,
        recurrent: CsrRepr::from_dense(n, n, &w, |x| x != 0.0),
        input: MatrixRepr::compact(n, s.n_inputs, &w_in),
        output: MatrixRepr::compact(s.n_outputs, n, &w_out),
        b_h: (0..n).map(|_| uniform(&mut rng, 0.1)).collect(),
        b_o: (0..s.n_outputs).map(|_| uniform(&mut rng, 0.1)).collect(),
        activation: s.activation,
        alpha: s.alpha,
        readout: Readout::Argmax,
        // Two tasks need 35 inputs and 17 outputs; other shapes carry no task list.
        tasks: if (s.n_inputs, s.n_outputs) == (35, 17) {
            vec!["go".into(), "dlyanti".into()]
        } else {
            Vec::new()
        },
        wiring_length: 1.25,
        active_connections: 7,
        seed,
        int8: None,
        weights: gyrus_runtime::format::Weights::F32,
        layout: s.layout,
    };
    if s.int8 {
        // tanh stays within [-1, 1]; the random relu/softplus networks here stay well below 4.
        m.quantize_int8(if s.activation == Activation::Tanh {
            1.0
        } else {
            4.0
        });
    }
    m
}

/// A copy of `bytes` at an address that is 1 mod 4.
pub struct Misaligned(Vec<u32>, usize);

impl Misaligned {
    pub fn new(bytes: &[u8]) -> Self {
        let mut words = vec![0u32; bytes.len().div_ceil(4) + 1];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[1..1 + bytes.len()].copy_from_slice(bytes);
        Misaligned(words, bytes.len())
    }
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u32, u8>(&self.0)[1..1 + self.1]
    }
}

/// The int8 recurrent pair-group layout of `m` (`format::pairs`), written out from its documented
/// rule with plain vectors: the nonzero `q` of the int8 recurrent matrix, rows in groups of 4
/// consecutive rows; each row's columns cut into pairs
/// `(c, c + 1)` from the left (`q_{c+1} = 0` when `c + 1` is not stored); per group the degree
/// `max(1, most pairs)`, then per step the byte offsets `2 c` of lanes 0|1 and 2|3 (u16 halves,
/// padding 0), then for lanes 0|1 and 2|3 one word of the bytes `q_c(a), q_c(b), q_{c+1}(a),
/// q_{c+1}(b)` (i8; format version 4).
pub fn pair_words(m: &ModelRepr) -> Vec<u32> {
    let rec = &m.int8.as_ref().unwrap().recurrent;
    let q = &rec.values;
    let pairs = |r: usize| -> Vec<(u16, i8, i8)> {
        let (s, e) = (rec.row_ptr[r] as usize, rec.row_ptr[r + 1] as usize);
        let mut out = Vec::new();
        let mut i = s;
        while i < e {
            let c = rec.col_idx[i];
            if i + 1 < e && rec.col_idx[i + 1] == c + 1 {
                out.push((c, q[i], q[i + 1]));
                i += 2;
            } else {
                out.push((c, q[i], 0));
                i += 1;
            }
        }
        out
    };
    let mut words = Vec::new();
    for g in 0..rec.rows.div_ceil(4) {
        let lanes: Vec<Vec<(u16, i8, i8)>> = (0..4)
            .map(|l| {
                let r = 4 * g + l;
                if r < rec.rows {
                    pairs(r)
                } else {
                    Vec::new()
                }
            })
            .collect();
        let d = lanes.iter().map(Vec::len).max().unwrap().max(1);
        words.push(d as u32);
        for k in 0..d {
            let at = |l: usize| lanes[l].get(k).copied();
            let off = |l: usize| at(l).map_or(0, |(c, _, _)| 2 * u32::from(c));
            words.push(off(0) | off(1) << 16);
            words.push(off(2) | off(3) << 16);
            let q = |l: usize| at(l).map_or((0, 0), |(_, a, b)| (a as u8, b as u8));
            for l in [0, 2] {
                let ((a0, a1), (b0, b1)) = (q(l), q(l + 1));
                words.push(u32::from_le_bytes([a0, b0, a1, b1]));
            }
        }
    }
    words
}

/// Steps `a` and `b` from `h = 0` on the same `inputs` (`kernel::step_int8` with `int8`, else
/// `kernel::step`; every step must succeed) and asserts that each step's outputs and new states
/// are the same bit for bit (`what` names the case in a failure).
pub fn assert_same_steps(
    a: &ModelView<'_>,
    b: &ModelView<'_>,
    int8: bool,
    inputs: impl IntoIterator<Item = Vec<f32>>,
    what: &str,
) {
    let (n, n_out) = (a.n_hidden(), a.n_outputs());
    let step = if int8 {
        kernel::step_int8
    } else {
        kernel::step
    };
    let (mut b1, mut b2) = (
        vec![0.0; State::buffer_len(n)],
        vec![0.0; State::buffer_len(n)],
    );
    let (mut s1, mut s2) = (
        State::new(n, &mut b1).unwrap(),
        State::new(n, &mut b2).unwrap(),
    );
    let (mut o1, mut o2) = (vec![0.0; n_out], vec![0.0; n_out]);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (t, u) in inputs.into_iter().enumerate() {
        step(a, &mut s1, &u, &mut o1).unwrap();
        step(b, &mut s2, &u, &mut o2).unwrap();
        assert_eq!(bits(&o1), bits(&o2), "{what}, int8 {int8}, step {t}");
        assert_eq!(
            bits(s1.hidden()),
            bits(s2.hidden()),
            "{what}, int8 {int8}, step {t}"
        );
    }
}
