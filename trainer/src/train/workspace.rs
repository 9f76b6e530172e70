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
//! The forward and backward loops are written once; what differs between a dense W, a mask's
//! compressed rows and the frozen identity (the step's product, its gradient, the carry to the
//! step before, dW) is `Recurrence`'s.
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
use crate::model::{Csr, Layout, NetConfig, Network, Structure};

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

/// The recurrent weights as the passes use them, one variant per way of computing W h_{t-1}: the
/// forward and backward loops of [`Workspace`] are written once and call these methods for the
/// work that differs (the product of a step, its gradient, the carry to the step before, dW).
#[derive(Clone, Copy)]
enum Recurrence<'a> {
    /// A dense [N, N] W: unit-major h, f and g, one GEMM per step, dW = dA H_prev^T after the
    /// loop. `mask`: W holds a mask's weights scattered into a dense matrix
    /// ([`RecurrentKernel::DenseMasked`]), and dW keeps the mask's entries.
    Dense { w: &'a [f32], mask: Option<&'a Csr> },
    /// A mask's weights as compressed rows: step-major h and f, the fused kernels of `sparse.rs`
    /// (which also sum dW and dW_out inside the backward steps), no g.
    Masked(&'a Csr, &'a [f32]),
    /// The frozen identity: W h = h, no dW.
    Identity,
}

impl<'a> Recurrence<'a> {
    /// The recurrence of `net` computed with `kernel` (`w_dense` receives the scattered mask of
    /// [`RecurrentKernel::DenseMasked`]).
    fn new(net: &'a Network, kernel: RecurrentKernel, w_dense: &'a mut Vec<f32>) -> Self {
        match (net.structure(), kernel) {
            (Structure::Dense, _) => Recurrence::Dense {
                w: net.w_rec(),
                mask: None,
            },
            (Structure::FrozenIdentity, _) => Recurrence::Identity,
            (Structure::Sparse(m), RecurrentKernel::Auto) => Recurrence::Masked(m, net.w_rec()),
            (Structure::Sparse(m), RecurrentKernel::DenseMasked) => {
                w_dense.resize(m.n() * m.n(), 0.0);
                m.scatter(net.w_rec(), w_dense);
                Recurrence::Dense {
                    w: w_dense,
                    mask: Some(m),
                }
            }
        }
    }

    /// Whether h and f are kept step-major ([T+1, N, B] and [T, N, B]) rather than unit-major.
    fn step_major(self) -> bool {
        matches!(self, Recurrence::Masked(..))
    }

    /// Zeroes h_0 (block 0 of every unit's row, or the first [N, B] block when step-major).
    fn clear_h0(self, h: &mut [f32], n: usize, b: usize, ld_h: usize) {
        if self.step_major() {
            h[..n * b].fill(0.0);
        } else {
            for row in h.chunks_exact_mut(ld_h) {
                row[..b].fill(0.0);
            }
        }
    }

    /// Step `st` of the forward pass, with A_t = W_in x_t + b_h (+ noise) in `ws.a`: adds
    /// W h_{t-1}, writes h_t (and f_t); returns where h_t sits in `ws.h` as an [N, B] block.
    fn forward_step(self, ws: &mut Workspace, cfg: &NetConfig, st: Step) -> Mat {
        let (n, b, ld_h) = (ws.n, ws.b, st.ld_h);
        let Workspace {
            a,
            f,
            h,
            split,
            split_min_work,
            ..
        } = ws;
        match self {
            Recurrence::Dense { w, .. } => {
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
                Mat::new(st.off + b, n, b, ld_h)
            }
            Recurrence::Masked(m, w) => {
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
                Mat::new(st.off * n + nb, n, b, b)
            }
            Recurrence::Identity => {
                for (i, run) in a.chunks_exact_mut(b).enumerate() {
                    let rh = i * ld_h + st.off;
                    for (x, &v) in run.iter_mut().zip(&h[rh..rh + b]) {
                        *x += v;
                    }
                }
                step_forward(cfg.activation, cfg.alpha, n, st, a, f, h);
                Mat::new(st.off + b, n, b, ld_h)
            }
        }
    }

    /// Before the backward steps, with dY^T in `ws.yt`: dense and identity compute dW_out into
    /// `gw_out` (one product over all steps), G = W_out^T dY^T (dLoss/dh from the readout, [N,
    /// TB]) into `ws.g` and clear the carry; masks transpose W and W_out and clear the lane sums
    /// that their steps add dW and dW_out into. Returns the parts each masked step is split into
    /// (1 otherwise).
    fn backward_begin(self, ws: &mut Workspace, net: &Network, gw_out: &mut [f32]) -> usize {
        let (b, n, no) = (ws.b, ws.n, ws.n_out);
        let (tb, ld_h) = (ws.t * b, (ws.t + 1) * b);
        match self {
            Recurrence::Masked(m, w) => {
                ws.transposed.rebuild(m, w, net.w_out());
                ws.dw_lanes.reset(LANES * ws.transposed.nnz());
                ws.out_lanes.reset(LANES * n * no);
                unit_parts(ws.transposed.nnz(), b, ws.split, ws.split_min_work)
            }
            Recurrence::Dense { .. } | Recurrence::Identity => {
                let Workspace {
                    y,
                    yt,
                    h,
                    gw_out_t,
                    g,
                    carry,
                    split,
                    ..
                } = ws;
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
                transpose(gw_out_t, 0, n, no, no, gw_out, n);
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
                1
            }
        }
    }

    /// Step `s` (`st`) of the backward pass: dA_t from the readout's gradient, the carry from
    /// step t + 1 and phi'; masks also add this step's dW and dW_out lane sums.
    fn backward_step(self, ws: &mut Workspace, cfg: &NetConfig, st: Step, s: usize, parts: usize) {
        let (t, b, n, tb) = (ws.t, ws.b, ws.n, st.ld);
        match self {
            Recurrence::Masked(..) => {
                let Workspace {
                    f,
                    h,
                    yt,
                    dy_t,
                    step_prev,
                    step_next,
                    carry,
                    transposed,
                    dw_lanes,
                    out_lanes,
                    ..
                } = ws;
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
            }
            Recurrence::Dense { .. } | Recurrence::Identity => {
                let Workspace { f, h, g, carry, .. } = ws;
                let phi = if cfg.alpha == 1.0 {
                    Phi {
                        buf: h,
                        ld: st.ld_h,
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
            }
        }
    }

    /// Where [`Recurrence::backward_step`] left dA_t: (buffer, offset, row length) of N runs of
    /// B values (the step block `step_next` for masks, columns t*B.. of `g` otherwise).
    fn da<'w>(self, step_next: &'w [f32], g: &'w [f32], st: Step) -> (&'w [f32], usize, usize) {
        if self.step_major() {
            (step_next, 0, st.b)
        } else {
            (g, st.off, st.ld)
        }
    }

    /// After step `st` (t > 0): what step t - 1 needs of dA_t, W^T dA_t (into the carry; the
    /// masked step computed it already and keeps dA_t as the next step's previous block).
    fn carry(self, ws: &mut Workspace, cfg: &NetConfig, st: Step) {
        let (b, n, tb) = (ws.b, ws.n, st.ld);
        let Workspace {
            g,
            carry,
            step_prev,
            step_next,
            split,
            ..
        } = ws;
        match self {
            Recurrence::Dense { w, .. } => matmul(
                gemm_threads(*split, n * n * b),
                carry,
                View::rm(0, n, b, b),
                w,
                View::cm(0, n, n, n),
                g,
                View::rm(st.off, n, b, tb),
                cfg.alpha != 1.0,
            ),
            Recurrence::Identity => {
                for i in 0..n {
                    let r = i * tb + st.off;
                    let c = &mut carry[i * b..(i + 1) * b];
                    for (c, &v) in c.iter_mut().zip(&g[r..r + b]) {
                        *c += v;
                    }
                }
            }
            Recurrence::Masked(..) => std::mem::swap(step_prev, step_next),
        }
    }

    /// After the backward steps: dW = dA H_prev^T (one product over all steps; over the allowed
    /// entries only for masks), and for masks dW and dW_out reduced from the steps' lane sums.
    fn weight_grads(self, ws: &mut Workspace, layout: &Layout, grads: &mut [f32]) {
        let (n, tb, ld_h) = (ws.n, ws.t * ws.b, (ws.t + 1) * ws.b);
        let gw = &mut grads[layout.w_rec.clone()];
        match self {
            Recurrence::Dense { mask, .. } => {
                // A mask's dW is the dense product's allowed entries.
                let dst = match mask {
                    None => &mut *gw,
                    Some(_) => {
                        ws.gw_dense.resize(n * n, 0.0);
                        &mut ws.gw_dense[..]
                    }
                };
                matmul(
                    gemm_threads(ws.split, n * n * tb),
                    dst,
                    View::rm(0, n, n, n),
                    &ws.g,
                    View::rm(0, n, tb, tb),
                    &ws.h,
                    View::cm(0, tb, n, ld_h),
                    false,
                );
                if let Some(m) = mask {
                    m.gather(&ws.gw_dense, gw);
                }
            }
            Recurrence::Masked(..) => {
                // Summed by the backward steps.
                ws.transposed.reduce_weight_grad(&ws.dw_lanes, gw);
                ws.transposed
                    .reduce_out_grad(&ws.out_lanes, &mut grads[layout.w_out.clone()]);
            }
            Recurrence::Identity => {}
        }
    }
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
        self.inputs
            .rebuild_streams(inputs, t, streams.total, streams.first, b, ni);
        transpose(net.w_in(), 0, n, ni, ni, &mut self.w_in_t, n);
        // Taken out while the recurrence borrows it (put back below; no allocation).
        let mut w_dense = std::mem::take(&mut self.w_dense);
        let rec = Recurrence::new(net, kernel, &mut w_dense);
        // Masks keep h (and f) step-major, [T+1, N, B]; the rest unit-major, [N, (T+1) B].
        self.step_major = rec.step_major();
        rec.clear_h0(&mut self.h, n, b, ld_h);
        let noise = noise.filter(|&(_, sigma)| sigma > 0.0);
        for s in 0..t {
            let st = Step {
                b,
                ld: tb,
                ld_h,
                off: s * b,
            };
            // A_t = W_in x_t + b_h (+ noise), [N, B], used right away (over the nonzero inputs).
            self.inputs
                .project(s, &self.w_in_t, net.b_h(), n, &mut self.a);
            if let Some((seed, sigma)) = noise {
                // The draws of positions (i, t*B + b) of the whole batch's [N, T*B] noise buffer.
                let tb_all = t * streams.total;
                let first = s * streams.total + streams.first;
                add_noise_runs(seed, sigma, n * tb_all, first, tb_all, b, &mut self.a);
            }
            // h_t, and where it sits as an [N, B] block (for the readout).
            let h_view = rec.forward_step(self, cfg, st);
            // Y_t^T = W_out h_t + b_o, columns t*B.. of Y^T [O, TB], while h_t is in cache.
            nn(
                &mut self.yt,
                Mat::new(st.off, no, b, tb),
                net.w_out(),
                Mat::new(0, no, n, n),
                &self.h,
                h_view,
                Init::Bias(net.b_o()),
            );
        }
        self.w_dense = w_dense;
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
        let (t, b, n, ni) = (self.t, self.b, self.n, self.n_in);
        let (tb, ld_h) = (t * b, (t + 1) * b);
        let cfg = net.config();
        let layout = net.layout().clone();
        // yt holds dY^T, [O, TB]; db_o = row sums of dY^T.
        row_sums(&self.yt, tb, &mut grads[layout.b_o.clone()]);
        // dW_in = dA X (transposed, over the nonzero inputs) and db_h = row sums of dA, summed
        // step by step while dA_t is in cache.
        let gb_h = layout.b_h.clone();
        self.gw_in_t.fill(0.0);
        grads[gb_h.clone()].fill(0.0);
        // Taken out while the recurrence borrows it (put back below; no allocation).
        let mut w_dense = std::mem::take(&mut self.w_dense);
        let rec = Recurrence::new(net, kernel, &mut w_dense);
        let parts = rec.backward_begin(self, net, &mut grads[layout.w_out.clone()]);
        // Backward through time: dA_t, step by step.
        for s in (0..t).rev() {
            let st = Step {
                b,
                ld: tb,
                ld_h,
                off: s * b,
            };
            rec.backward_step(self, cfg, st, s, parts);
            let (da, off, ld) = rec.da(&self.step_next, &self.g, st);
            self.inputs
                .add_weight_grad(s, da, off, ld, n, &mut self.gw_in_t);
            add_run_sums(da, off, ld, b, &mut grads[gb_h.clone()]);
            if s > 0 {
                rec.carry(self, cfg, st);
            }
        }
        transpose(
            &self.gw_in_t,
            0,
            ni,
            n,
            n,
            &mut grads[layout.w_in.clone()],
            ni,
        );
        rec.weight_grads(self, &layout, grads);
        self.w_dense = w_dense;
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
