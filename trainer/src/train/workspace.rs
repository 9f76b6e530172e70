//! Preallocated buffers for one (T, B) window and the hand-written forward and backward passes.
//!
//! One step of one unit is a contiguous run of B values (vectorised element-wise and sparse
//! updates). Dense and frozen-autapse networks keep phi outputs `f` (only when alpha < 1; else
//! h_t = phi(a_t) holds them) and gradients `g` unit-major, [N, T*B] (row i holds unit i at every
//! step and trial, column t*B + b), and hidden states `h` as [N, (T+1)*B] with block 0 = h_0 = 0,
//! so that dW is one GEMM over all steps. Masks keep `h` and `f` step-major, [T+1, N, B] and
//! [T, N, B]: every step reads and writes contiguous [N, B] blocks, and need no `g` at all.
//!
//! Everything else is done step by step, while the step's blocks are in cache (the input products
//! over the nonzero inputs in `inputs.rs`, the readout in `skinny.rs`):
//! - forward: A_t = W_in x_t + b_h + noise_t (into the [N, B] block `a`); then
//!   A_t += W h_{t-1} and h_t = phi(A_t) (one [N,N] x [N,B] GEMM, or `sparse.rs`); then the
//!   readout Y_t^T = W_out h_t + b_o ([O,N] x [N,B], into Y^T [O, T*B]);
//! - loss: on Y^T in place (dY^T);
//! - backward: dA_t from dh = W_out^T dy_t + (1-alpha) dh_{t+1} + W^T dA_{t+1}; then
//!   dW_in += dA_t x_t (summed transposed, [I, N]) and db_h += the row sums of dA_t;
//! - dense dW = dA H_prev^T and dW_out = dY^T H^T: one product each over all steps; masks sum dW
//!   and dW_out inside the backward steps instead (`sparse.rs`).
//!
//! The noise of step t is drawn where it is added, with the values `add_noise` puts at positions
//! (i, t*B + b) of an [N, T*B] buffer.
//!
//! A workspace may hold one chunk of a batch ([`Streams`]): its B streams are streams
//! `first..first + B` of the batch the inputs and targets come from, and it draws the noise of
//! those streams' positions in the whole batch's buffer, so a chunk computes exactly what the same
//! streams compute in a workspace for the whole batch (the trainer runs the chunks in parallel).

use super::aligned::AlignedVec;
use super::inputs::SparseInputs;
use super::kernels::gemm::{matmul, View};
use super::kernels::skinny::{nn, Init, Mat};
use super::kernels::sparse::{
    backward_parts, forward_parts, unit_parts, Bwd, Fwd, Rows, Transposed, LANES, SPLIT_MIN_WORK,
};
use super::kernels::step::{add_run_sums, row_sums, step_backward, step_forward, Phi, Step};
use super::kernels::transpose::transpose;
use super::loss::cross_entropy_columns;
use super::noise::add_noise_runs;
use crate::model::{Csr, Network, Structure};

/// Least multiply-adds of a dense product before it runs on more than one thread: below it the
/// hand-off costs more than it saves (measured: the per-step product of a dense N = 256 network
/// over 64 streams, 4.2 M, ran slower on two threads than on one).
const GEMM_SPLIT_MIN: usize = 1 << 24;

/// The threads a dense product of `work` multiply-adds may use, out of `split`.
fn gemm_threads(split: usize, work: usize) -> usize {
    if work < GEMM_SPLIT_MIN {
        1
    } else {
        split
    }
}

/// How the per-step recurrent product is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecurrentKernel {
    /// Dense GEMM for dense structures, compressed rows for masks, identity for frozen-autapse.
    Auto,
    /// For masks: scatter the allowed weights into a dense N x N matrix, use dense GEMMs and keep
    /// only the allowed entries of dW (the "dense times mask" reference, for benchmarks/tests).
    DenseMasked,
}

/// Where a workspace's B streams sit in the batch its inputs and targets come from: streams
/// `first..first + B` of `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Streams {
    /// Index of the first stream in the batch.
    pub first: usize,
    /// Streams in the batch.
    pub total: usize,
}

impl Streams {
    /// The whole batch of `b` streams.
    pub fn all(b: usize) -> Self {
        Streams { first: 0, total: b }
    }
}

enum Rec<'a> {
    Dense(&'a [f32]),
    Sparse(&'a Csr, &'a [f32]),
    Identity,
}

/// Buffers for training or evaluating on windows of `seq_len` steps and `batch` trials.
#[derive(Clone, Debug)]
pub struct Workspace {
    t: usize,
    b: usize,
    n: usize,
    n_in: usize,
    n_out: usize,
    a: AlignedVec,
    f: AlignedVec,
    h: AlignedVec,
    /// dLoss/dlogits, [T*B, O] (dense backward).
    y: AlignedVec,
    /// The window's inputs as sparse rows and columns (built by the forward pass).
    inputs: SparseInputs,
    /// This workspace's targets, [T, B] (copied from the batch's by [`Workspace::loss`]).
    targets: Vec<u8>,
    /// W_in transposed, [I, N].
    w_in_t: Vec<f32>,
    /// dW_in transposed, [I, N] (summed over the backward steps).
    gw_in_t: Vec<f32>,
    /// The logits, then dLoss/dlogits, transposed: [O, T*B].
    yt: AlignedVec,
    /// dW_out transposed, [N, O].
    gw_out_t: Vec<f32>,
    g: AlignedVec,
    carry: AlignedVec,
    w_dense: Vec<f32>,
    gw_dense: Vec<f32>,
    transposed: Transposed,
    /// Two contiguous [N, B] blocks for the masked recurrence (previous and current step).
    step_prev: AlignedVec,
    step_next: AlignedVec,
    /// One step's dLoss/dlogits transposed, [O, B] (masked backward).
    dy_t: AlignedVec,
    /// Whether the last forward pass kept h and f step-major ([T+1, N, B], masks) rather than
    /// unit-major.
    step_major: bool,
    /// Weight-gradient lane sums of the masked backward (16 per connection, and per readout
    /// weight).
    dw_lanes: AlignedVec,
    out_lanes: AlignedVec,
    /// Threads of the current pool that may help one step of this workspace (1: none): masked
    /// steps are split by units, dense products run on `gemm`'s threads. Never changes a bit.
    split: usize,
    /// Least work of a masked step (connections x streams) before it is split.
    split_min_work: usize,
}

impl Workspace {
    /// Buffers for `net`'s shapes and windows of `seq_len` x `batch`.
    pub fn new(net: &Network, seq_len: usize, batch: usize) -> anyhow::Result<Self> {
        if seq_len == 0 || batch == 0 {
            anyhow::bail!(
                "sequence length and batch size must be positive, got T = {seq_len}, B = {batch}"
            );
        }
        let cfg = net.config();
        let (n, n_in, n_out) = (cfg.n_hidden(), cfg.n_inputs, cfg.n_outputs);
        let tb = seq_len * batch;
        Ok(Workspace {
            t: seq_len,
            b: batch,
            n,
            n_in,
            n_out,
            a: AlignedVec::zeros(n * batch),
            // phi(a) is kept apart from h only with a leak (alpha < 1).
            f: if cfg.alpha == 1.0 {
                AlignedVec::default()
            } else {
                AlignedVec::zeros(n * tb)
            },
            h: AlignedVec::zeros(n * (tb + batch)),
            y: AlignedVec::zeros(tb * n_out),
            inputs: SparseInputs::default(),
            targets: vec![0; tb],
            w_in_t: vec![0.0; n_in * n],
            gw_in_t: vec![0.0; n_in * n],
            yt: AlignedVec::zeros(tb * n_out),
            gw_out_t: vec![0.0; n * n_out],
            g: AlignedVec::zeros(n * tb),
            carry: AlignedVec::zeros(n * batch),
            w_dense: Vec::new(),
            gw_dense: Vec::new(),
            transposed: Transposed::default(),
            step_prev: AlignedVec::zeros(n * batch),
            step_next: AlignedVec::zeros(n * batch),
            dy_t: AlignedVec::zeros(n_out * batch),
            step_major: false,
            dw_lanes: AlignedVec::default(),
            out_lanes: AlignedVec::default(),
            split: 1,
            split_min_work: SPLIT_MIN_WORK,
        })
    }

    /// Lets up to `parts` threads of the current rayon pool help each step: masked steps are
    /// split by units once a step has at least `min_work` connections x streams
    /// ([`SPLIT_MIN_WORK`] by default), dense products run on `gemm`'s threads (above its own
    /// threshold). The numbers do not depend on it.
    pub(crate) fn set_split(&mut self, parts: usize, min_work: Option<usize>) {
        self.split = parts.max(1);
        if let Some(w) = min_work {
            self.split_min_work = w;
        }
    }

    /// Sequence length T.
    pub fn seq_len(&self) -> usize {
        self.t
    }

    /// Batch size B.
    pub fn batch(&self) -> usize {
        self.b
    }

    /// Checks that `net` has the shapes these buffers were made for, and the input length of a
    /// batch whose streams `streams` are.
    pub(crate) fn check(
        &self,
        net: &Network,
        inputs: &[f32],
        streams: Streams,
    ) -> anyhow::Result<()> {
        let cfg = net.config();
        if (cfg.n_hidden(), cfg.n_inputs, cfg.n_outputs) != (self.n, self.n_in, self.n_out) {
            anyhow::bail!("network shapes differ from the workspace's");
        }
        if (cfg.alpha == 1.0) != self.f.is_empty() {
            anyhow::bail!("the workspace was made for a network with a different leak alpha");
        }
        if streams.first + self.b > streams.total {
            anyhow::bail!(
                "streams {}..{} are not in a batch of {}",
                streams.first,
                streams.first + self.b,
                streams.total
            );
        }
        let need = self.t * streams.total * self.n_in;
        if inputs.len() != need {
            anyhow::bail!(
                "inputs have {} values, T*B*I = {need} expected",
                inputs.len()
            );
        }
        Ok(())
    }

    fn rec<'a>(net: &'a Network, kernel: RecurrentKernel, w_dense: &'a mut Vec<f32>) -> Rec<'a> {
        match (net.structure(), kernel) {
            (Structure::Dense, _) => Rec::Dense(net.w_rec()),
            (Structure::FrozenIdentity, _) => Rec::Identity,
            (Structure::Sparse(m), RecurrentKernel::Auto) => Rec::Sparse(m, net.w_rec()),
            (Structure::Sparse(m), RecurrentKernel::DenseMasked) => {
                w_dense.resize(m.n() * m.n(), 0.0);
                m.scatter(net.w_rec(), w_dense);
                Rec::Dense(w_dense)
            }
        }
    }

    /// Forward pass over the window of the streams `streams` of `inputs` ([T, streams.total, I]):
    /// fills f, h and the transposed logits yt (the pre-activations a only one step at a time).
    /// `noise` = (seed, sigma) adds sigma * N(0,1) to every pre-activation (the draws of these
    /// streams' positions in the whole batch's noise buffer).
    pub(crate) fn forward(
        &mut self,
        net: &Network,
        inputs: &[f32],
        streams: Streams,
        kernel: RecurrentKernel,
        noise: Option<(u64, f32)>,
    ) {
        let (t, b, n, ni, no) = (self.t, self.b, self.n, self.n_in, self.n_out);
        let (tb, ld_h) = (t * b, (t + 1) * b);
        let cfg = net.config();
        let Workspace {
            a,
            f,
            h,
            yt,
            inputs: sparse_in,
            w_in_t,
            w_dense,
            step_major,
            split,
            split_min_work,
            ..
        } = self;
        sparse_in.rebuild_streams(inputs, t, streams.total, streams.first, b, ni);
        transpose(net.w_in(), 0, n, ni, ni, w_in_t, n);
        let rec = Self::rec(net, kernel, w_dense);
        // Masks keep h (and f) step-major, [T+1, N, B]; the rest unit-major, [N, (T+1) B].
        *step_major = matches!(rec, Rec::Sparse(..));
        if *step_major {
            h[..n * b].fill(0.0);
        } else {
            for row in h.chunks_exact_mut(ld_h) {
                row[..b].fill(0.0);
            }
        }
        let noise = noise.filter(|&(_, sigma)| sigma > 0.0);
        for s in 0..t {
            let st = Step {
                b,
                ld: tb,
                ld_h,
                off: s * b,
            };
            // A_t = W_in x_t + b_h (+ noise), [N, B], used right away (over the nonzero inputs).
            sparse_in.project(s, w_in_t, net.b_h(), n, a);
            if let Some((seed, sigma)) = noise {
                // The draws of positions (i, t*B + b) of the whole batch's [N, T*B] noise buffer.
                let tb_all = t * streams.total;
                let first = s * streams.total + streams.first;
                add_noise_runs(seed, sigma, n * tb_all, first, tb_all, b, a);
            }
            // h_t, and where it sits as an [N, B] block (for the readout).
            let (h_t, h_view) = match rec {
                Rec::Dense(w) => {
                    matmul(
                        gemm_threads(*split, n * n * b),
                        a,
                        View::rm(0, n, b, b),
                        w,
                        View::rm(0, n, n, n),
                        h,
                        View::rm(st.off, n, b, ld_h),
                        true,
                    );
                    step_forward(cfg.activation, cfg.alpha, n, st, a, f, h);
                    (&h[..], Mat::new(st.off + b, n, b, ld_h))
                }
                Rec::Sparse(m, w) => {
                    // Fused with the activation; the pre-activations are not stored. Step-major
                    // h and f: h_{t-1} and h_t are contiguous [N, B] blocks.
                    let rows = Rows {
                        ptr: m.row_ptr(),
                        cols: m.cols(),
                        w,
                    };
                    let nb = n * b;
                    let (done, rest) = h.split_at_mut(st.off * n + nb);
                    let f_t = if f.is_empty() {
                        &mut f[..]
                    } else {
                        &mut f[st.off * n..st.off * n + nb]
                    };
                    let io = Fwd {
                        a,
                        f: f_t,
                        prev: &done[st.off * n..],
                        next: &mut rest[..nb],
                        base: 0,
                    };
                    let parts = unit_parts(m.nnz(), b, *split, *split_min_work);
                    forward_parts(cfg.activation, cfg.alpha, rows, st, io, parts);
                    (&h[..], Mat::new(st.off * n + nb, n, b, b))
                }
                Rec::Identity => {
                    for (i, run) in a.chunks_exact_mut(b).enumerate() {
                        let rh = i * ld_h + st.off;
                        for (x, &v) in run.iter_mut().zip(&h[rh..rh + b]) {
                            *x += v;
                        }
                    }
                    step_forward(cfg.activation, cfg.alpha, n, st, a, f, h);
                    (&h[..], Mat::new(st.off + b, n, b, ld_h))
                }
            };
            // Y_t^T = W_out h_t + b_o, columns t*B.. of Y^T [O, TB], while h_t is in cache.
            nn(
                yt,
                Mat::new(st.off, no, b, tb),
                net.w_out(),
                Mat::new(0, no, n, n),
                h_t,
                h_view,
                Init::Bias(net.b_o()),
            );
        }
    }

    /// The sum of the cross-entropies of this workspace's T*B steps, given the batch's targets
    /// ([T, streams.total], checked by the caller); turns the logits into d(mean loss)/dlogits,
    /// the mean over all T * streams.total steps of the batch.
    pub(crate) fn loss(&mut self, targets: &[u8], streams: Streams) -> f64 {
        let b = self.b;
        for (dst, src) in self
            .targets
            .chunks_exact_mut(b)
            .zip(targets.chunks_exact(streams.total))
        {
            dst.copy_from_slice(&src[streams.first..streams.first + b]);
        }
        let rows = self.t * streams.total;
        cross_entropy_columns(&mut self.yt, self.n_out, &self.targets, rows)
    }

    /// Backward pass after [`Workspace::forward`] and [`Workspace::loss`] (it uses the inputs the
    /// forward pass was given): writes the gradient of the mean cross-entropy into `grads` (the
    /// network's parameter layout; every entry written).
    pub(crate) fn backward(&mut self, net: &Network, kernel: RecurrentKernel, grads: &mut [f32]) {
        let (t, b, n, ni, no) = (self.t, self.b, self.n, self.n_in, self.n_out);
        let (tb, ld_h) = (t * b, (t + 1) * b);
        let cfg = net.config();
        let layout = net.layout().clone();
        let Workspace {
            f,
            h,
            y,
            yt,
            gw_out_t,
            g,
            carry,
            w_dense,
            gw_dense,
            transposed,
            step_prev,
            step_next,
            dy_t,
            dw_lanes,
            out_lanes,
            inputs: sparse_in,
            gw_in_t,
            split,
            split_min_work,
            ..
        } = self;
        // yt holds dY^T, [O, TB]; db_o = row sums of dY^T.
        row_sums(yt, tb, &mut grads[layout.b_o.clone()]);
        // dW_in = dA X (transposed, over the nonzero inputs) and db_h = row sums of dA, summed
        // step by step while dA_t is in cache.
        let gb_h = layout.b_h.clone();
        gw_in_t.fill(0.0);
        grads[gb_h.clone()].fill(0.0);
        // Backward through time; g becomes dLoss/da.
        let rec = Self::rec(net, kernel, w_dense);
        if let Rec::Sparse(m, w) = rec {
            transposed.rebuild(m, w, net.w_out());
            dw_lanes.reset(LANES * transposed.nnz());
            out_lanes.reset(LANES * n * no);
            let parts = unit_parts(transposed.nnz(), b, *split, *split_min_work);
            for s in (0..t).rev() {
                let st = Step {
                    b,
                    ld: tb,
                    ld_h,
                    off: s * b,
                };
                for (o, dst) in dy_t.chunks_exact_mut(b).enumerate() {
                    dst.copy_from_slice(&yt[o * tb + s * b..o * tb + (s + 1) * b]);
                }
                // Step-major h and f (see forward).
                let nb = n * b;
                let (phi, phi_off) = if cfg.alpha == 1.0 {
                    (&h[..], st.off * n + nb)
                } else {
                    (&f[..], st.off * n)
                };
                let io = Bwd {
                    phi,
                    phi_ld: b,
                    phi_off,
                    dy: dy_t,
                    prev: (s + 1 < t).then_some(&step_prev[..]),
                    next: step_next,
                    dh: carry,
                    hs: h,
                    hs_ld: b,
                    hs_off: st.off * n + nb,
                    lanes: dw_lanes,
                    out_lanes,
                    base: 0,
                };
                backward_parts(cfg.activation, cfg.alpha, transposed, st, io, parts);
                sparse_in.add_weight_grad(s, step_next, 0, b, n, gw_in_t);
                add_run_sums(step_next, 0, b, b, &mut grads[gb_h.clone()]);
                std::mem::swap(step_prev, step_next);
            }
            transposed.reduce_out_grad(out_lanes, &mut grads[layout.w_out.clone()]);
        } else {
            // dW_out^T = H dY (then transposed).
            transpose(yt, 0, no, tb, tb, y, no);
            nn(
                gw_out_t,
                Mat::new(0, n, no, no),
                h,
                Mat::new(b, n, tb, ld_h),
                y,
                Mat::new(0, tb, no, no),
                Init::Zero,
            );
            transpose(gw_out_t, 0, n, no, no, &mut grads[layout.w_out.clone()], n);
            // G = W_out^T dY^T: dLoss/dh from the readout, [N, TB].
            matmul(
                gemm_threads(*split, n * no * tb),
                g,
                View::rm(0, n, tb, tb),
                net.w_out(),
                View::cm(0, n, no, n),
                yt,
                View::rm(0, no, tb, tb),
                false,
            );
            carry.fill(0.0);
            for s in (0..t).rev() {
                let st = Step {
                    b,
                    ld: tb,
                    ld_h,
                    off: s * b,
                };
                let phi = if cfg.alpha == 1.0 {
                    Phi {
                        buf: h,
                        ld: ld_h,
                        off: st.off + b,
                    }
                } else {
                    Phi {
                        buf: f,
                        ld: tb,
                        off: st.off,
                    }
                };
                step_backward(cfg.activation, cfg.alpha, n, st, phi, g, carry);
                sparse_in.add_weight_grad(s, g, st.off, tb, n, gw_in_t);
                add_run_sums(g, st.off, tb, b, &mut grads[gb_h.clone()]);
                if s == 0 {
                    break;
                }
                match rec {
                    Rec::Dense(w) => matmul(
                        gemm_threads(*split, n * n * b),
                        carry,
                        View::rm(0, n, b, b),
                        w,
                        View::cm(0, n, n, n),
                        g,
                        View::rm(st.off, n, b, tb),
                        cfg.alpha != 1.0,
                    ),
                    Rec::Identity => {
                        for i in 0..n {
                            let r = i * tb + st.off;
                            let c = &mut carry[i * b..(i + 1) * b];
                            for (c, &v) in c.iter_mut().zip(&g[r..r + b]) {
                                *c += v;
                            }
                        }
                    }
                    Rec::Sparse(..) => unreachable!("masks take the fused path above"),
                }
            }
        }
        transpose(gw_in_t, 0, ni, n, n, &mut grads[layout.w_in.clone()], ni);
        // dW = dA H_prev^T (over the allowed entries only for masks).
        let gw = &mut grads[layout.w_rec.clone()];
        match (net.structure(), kernel) {
            (Structure::Dense, _) => matmul(
                gemm_threads(*split, n * n * tb),
                gw,
                View::rm(0, n, n, n),
                g,
                View::rm(0, n, tb, tb),
                h,
                View::cm(0, tb, n, ld_h),
                false,
            ),
            // Summed by the backward steps.
            (Structure::Sparse(_), RecurrentKernel::Auto) => {
                transposed.reduce_weight_grad(dw_lanes, gw)
            }
            (Structure::Sparse(m), RecurrentKernel::DenseMasked) => {
                gw_dense.resize(n * n, 0.0);
                matmul(
                    gemm_threads(*split, n * n * tb),
                    gw_dense,
                    View::rm(0, n, n, n),
                    g,
                    View::rm(0, n, tb, tb),
                    h,
                    View::cm(0, tb, n, ld_h),
                    false,
                );
                m.gather(gw_dense, gw);
            }
            (Structure::FrozenIdentity, _) => {}
        }
    }

    /// Writes the logits of the last forward pass as [T*B, O] time-major (valid before
    /// [`Workspace::loss`]).
    pub(crate) fn logits_into(&self, out: &mut [f32]) {
        let tb = self.t * self.b;
        transpose(&self.yt, 0, self.n_out, tb, tb, out, self.n_out);
    }

    /// Writes the hidden states of the last forward pass as [T, B, N] time-major.
    pub(crate) fn hidden_time_major(&self, out: &mut [f32]) {
        let (t, b, n) = (self.t, self.b, self.n);
        let tb = t * b;
        if self.step_major {
            // Block s + 1 of h is h_s as [N, B]; out's rows s*B.. are its transpose.
            for (s, dst) in out[..tb * n].chunks_exact_mut(b * n).enumerate() {
                transpose(&self.h, (s + 1) * n * b, n, b, b, dst, n);
            }
            return;
        }
        // Unit-major [N, (T+1) B] from column B on (block 0 is h_0).
        transpose(&self.h, b, n, tb, (t + 1) * b, out, n);
    }
}
