//! [`DeviceTrainer`]: one gradient step of models.md as candle tensor operations on a device.
//!
//! The graph is the candle oracle's (`train::oracle`), batch-major, one step at a time:
//! pre_t = x_t W_in^T + b_h + h_{t-1} W_eff^T (+ noise_t), h_t = (1 - alpha) h_{t-1} + alpha
//! phi(pre_t); the hidden states of all steps are stacked once and read out by one product, and
//! the loss is the mean cross-entropy over all T x B steps (log-sum-exp shifted by the row
//! maximum, so f32 does not overflow). W_eff is W (dense), W (.) M with the 0/1 mask M (every
//! sparse family: the gradient of W is then exactly zero off the mask, so Adam leaves those
//! weights at exactly zero) or the constant identity (frozen autapse). The inputs are sliced per
//! step from one upload that autograd does not track (slicing a tracked tensor would make the
//! backward pass quadratic in T).
//!
//! After autograd: the L1 / BIMT subgradient (lambda sign(p), times 1 + A D_ij on recurrent weights
//! for BIMT, sign(0) = 0), global-norm clipping and Adam, all on the device, with the constants of
//! `train::adam` (PyTorch semantics). Numerically the step equals the hand-written one up to f32
//! rounding and the CPU trainer's fast tanh (the tests hold both to 1e-4 on the loss and 1e-3 on
//! every gradient).

use super::super::noise::{add_noise, noise_seed};
use super::super::trainer::{Engine, Trainer};
use crate::model::{Activation, NetConfig, Network, Structure};
use crate::regularize::bimt::Bimt;
use candle_core::{DType, Device, Tensor, Var};
use gyrus_runtime::tasks::Rng;
use std::ops::Range;

/// Where the recurrent noise of a step comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseSource {
    /// The CPU trainer's generator (`train::noise`), copied to the device: the same draws as a CPU
    /// run. Costs N x T x B draws on the host per step.
    Host,
    /// The device's own normal generator, reseeded every step from the run's noise stream.
    Device,
}

/// One trainable tensor on the device with its Adam moments.
struct Param {
    var: Var,
    /// Range in the host parameter layout.
    range: Range<usize>,
    /// Device shape ([N, N] for the recurrent matrix, dense even for sparse families).
    shape: Vec<usize>,
    /// The recurrent matrix (scattered from / gathered to the host's mask order when sparse).
    recurrent: bool,
    m: Tensor,
    v: Tensor,
}

/// Parameters, Adam state and constants of one network on a candle device.
pub struct DeviceTrainer {
    dev: Device,
    cfg: NetConfig,
    structure: Structure,
    seq_len: usize,
    batch: usize,
    params: Vec<Param>,
    /// 0/1 mask of sparse families, [N, N].
    mask: Option<Tensor>,
    /// 1 + A D_ij for family `bimt`, [N, N].
    bimt_factor: Option<Tensor>,
    /// The last gradients, one per parameter (device shapes).
    grads: Vec<Tensor>,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    step: u64,
    /// Global gradient-norm clip.
    pub max_grad_norm: f32,
    /// Where the recurrent noise comes from.
    pub noise: NoiseSource,
}

fn err(e: candle_core::Error) -> anyhow::Error {
    anyhow::anyhow!("device step: {e}")
}

impl DeviceTrainer {
    /// Copies `trainer`'s network and Adam state to `dev`. Noise comes from the host generator on
    /// the CPU and from the device's generator elsewhere.
    pub fn new(dev: Device, trainer: &Trainer) -> anyhow::Result<Self> {
        let net = trainer.network();
        let cfg = net.config().clone();
        let n = cfg.n_hidden();
        let (mask, bimt_factor) = Self::constants(&dev, net).map_err(err)?;
        let mut params = Vec::new();
        for (name, shape, range) in net.tensor_specs() {
            let recurrent = name == "w_rec";
            let shape = if recurrent { vec![n, n] } else { shape };
            let zeros = Tensor::zeros(shape.as_slice(), DType::F32, &dev).map_err(err)?;
            params.push(Param {
                var: Var::from_tensor(&zeros).map_err(err)?,
                range,
                shape,
                recurrent,
                m: zeros.clone(),
                v: zeros,
            });
        }
        let noise = if dev.is_cpu() {
            NoiseSource::Host
        } else {
            NoiseSource::Device
        };
        let mut d = DeviceTrainer {
            dev,
            structure: net.structure().clone(),
            cfg,
            seq_len: trainer.seq_len(),
            batch: trainer.batch(),
            params,
            mask,
            bimt_factor,
            grads: Vec::new(),
            lr: 0.0,
            beta1: 0.0,
            beta2: 0.0,
            eps: 0.0,
            step: 0,
            max_grad_norm: trainer.max_grad_norm,
            noise,
        };
        d.upload(trainer)?;
        Ok(d)
    }

    fn constants(
        dev: &Device,
        net: &Network,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let n = net.n_hidden();
        let mask = match net.structure() {
            Structure::Sparse(m) => {
                let mut dense = vec![0.0f32; n * n];
                m.scatter(&vec![1.0; m.nnz()], &mut dense);
                Some(Tensor::from_vec(dense, (n, n), dev)?)
            }
            _ => None,
        };
        let factor = match Bimt::from_family(&net.config().family) {
            Some(b) if !matches!(net.structure(), Structure::FrozenIdentity) => {
                let sheet = net.config().sheet;
                let mut f = vec![0.0f32; n * n];
                for i in 0..n {
                    for j in 0..n {
                        f[i * n + j] = 1.0 + b.a * sheet.distance(i, j) as f32;
                    }
                }
                Some(Tensor::from_vec(f, (n, n), dev)?)
            }
            _ => None,
        };
        Ok((mask, factor))
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// Adam updates applied so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Overwrites the device state with `trainer`'s (parameters, Adam moments, step count and
    /// hyper-parameters), e.g. after neuron swaps on the host. The network must have the same
    /// structure as the one this trainer was made for.
    pub fn upload(&mut self, trainer: &Trainer) -> anyhow::Result<()> {
        let net = trainer.network();
        if net.structure() != &self.structure || net.params().len() != self.param_len() {
            anyhow::bail!("device trainer: the network's structure changed");
        }
        let adam = trainer.adam();
        for p in &mut self.params {
            let to_dev = |host: &[f32]| -> candle_core::Result<Tensor> {
                let dense = expand(&self.structure, p.recurrent, host, &p.shape);
                Tensor::from_vec(dense, p.shape.as_slice(), &self.dev)
            };
            p.var
                .set(&to_dev(&net.params()[p.range.clone()]).map_err(err)?)
                .map_err(err)?;
            p.m = to_dev(&adam.m()[p.range.clone()]).map_err(err)?;
            p.v = to_dev(&adam.v()[p.range.clone()]).map_err(err)?;
        }
        self.lr = adam.lr;
        self.beta1 = adam.beta1;
        self.beta2 = adam.beta2;
        self.eps = adam.eps;
        self.step = adam.step_count();
        self.max_grad_norm = trainer.max_grad_norm;
        Ok(())
    }

    /// Copies the device state (parameters, Adam moments and step count) into `trainer`.
    pub fn download(&self, trainer: &mut Trainer) -> anyhow::Result<()> {
        if trainer.network().params().len() != self.param_len() {
            anyhow::bail!("device trainer: the host network does not match");
        }
        let (net, adam) = trainer.parts_mut();
        let structure = net.structure().clone();
        for p in &self.params {
            let r = p.range.clone();
            compress(
                &structure,
                p.recurrent,
                &to_host(p.var.as_tensor())?,
                &mut net.params_mut()[r.clone()],
            );
            let (m, v) = adam.moments_mut();
            compress(&structure, p.recurrent, &to_host(&p.m)?, &mut m[r.clone()]);
            compress(&structure, p.recurrent, &to_host(&p.v)?, &mut v[r]);
        }
        adam.set_step_count(self.step);
        Ok(())
    }

    /// The recurrent matrix as the device holds it: dense N x N row-major (zeros off the mask;
    /// empty for frozen-autapse, whose identity is not a parameter).
    pub fn recurrent_dense(&self) -> anyhow::Result<Vec<f32>> {
        match self.params.iter().find(|p| p.recurrent) {
            Some(p) => to_host(p.var.as_tensor()),
            None => Ok(Vec::new()),
        }
    }

    fn param_len(&self) -> usize {
        self.params.last().map_or(0, |p| p.range.end)
    }

    /// The gradients of the last [`DeviceTrainer::compute_gradients`] in the host parameter layout
    /// (clipped once [`DeviceTrainer::apply_update`] has run).
    pub fn gradients(&self) -> anyhow::Result<Vec<f32>> {
        let mut out = vec![0.0f32; self.param_len()];
        for (p, g) in self.params.iter().zip(&self.grads) {
            compress(
                &self.structure,
                p.recurrent,
                &to_host(g)?,
                &mut out[p.range.clone()],
            );
        }
        Ok(out)
    }

    /// Forward and backward on one window (`inputs` [T, B, I], `targets` [T, B], time-major, as
    /// [`Trainer::compute_gradients`]), plus the family's penalty gradient; the noise seed is
    /// drawn from `noise_rng` exactly as the CPU trainer draws it. Returns (mean cross-entropy,
    /// penalty).
    pub fn compute_gradients(
        &mut self,
        inputs: &[f32],
        targets: &[u8],
        noise_rng: &mut Rng,
    ) -> anyhow::Result<(f32, f32)> {
        let (t, b) = (self.seq_len, self.batch);
        let (ni, no) = (self.cfg.n_inputs, self.cfg.n_outputs);
        if inputs.len() != t * b * ni {
            anyhow::bail!(
                "inputs have {} values, T*B*I = {} expected",
                inputs.len(),
                t * b * ni
            );
        }
        if targets.len() != t * b {
            anyhow::bail!(
                "targets have {} values, T*B = {} expected",
                targets.len(),
                t * b
            );
        }
        if let Some(&bad) = targets.iter().find(|&&c| usize::from(c) >= no) {
            anyhow::bail!("target class {bad} out of range (the network has {no} outputs)");
        }
        let seed = noise_seed(noise_rng);
        let loss = self.forward_loss(inputs, targets, seed).map_err(err)?;
        let loss_value = loss.to_scalar::<f32>().map_err(err)?;
        let store = loss.backward().map_err(err)?;
        let mut grads = Vec::with_capacity(self.params.len());
        for p in &self.params {
            grads.push(match store.get(p.var.as_tensor()) {
                Some(g) => g.clone(),
                None => p.var.as_tensor().zeros_like().map_err(err)?,
            });
        }
        let penalty = self.add_penalty(&mut grads).map_err(err)?;
        self.grads = grads;
        Ok((loss_value, penalty))
    }

    fn noise(&self, seed: u64) -> candle_core::Result<Option<Tensor>> {
        let sigma = self.cfg.noise_sigma();
        if sigma <= 0.0 {
            return Ok(None);
        }
        let (n, t, b) = (self.cfg.n_hidden(), self.seq_len, self.batch);
        let z = match self.noise {
            NoiseSource::Host => {
                // The CPU trainer's layout: unit-major [N, T*B].
                let mut buf = vec![0.0f32; n * t * b];
                add_noise(seed, sigma, &mut buf);
                Tensor::from_vec(buf, (n, t, b), &self.dev)?
                    .permute((1, 2, 0))?
                    .contiguous()?
            }
            NoiseSource::Device => {
                self.dev.set_seed(seed)?;
                Tensor::randn(0.0f32, sigma, (t, b, n), &self.dev)?
            }
        };
        Ok(Some(z))
    }

    fn forward_loss(
        &self,
        inputs: &[f32],
        targets: &[u8],
        seed: u64,
    ) -> candle_core::Result<Tensor> {
        let dev = &self.dev;
        let (t, b) = (self.seq_len, self.batch);
        let (n, ni, no) = (self.cfg.n_hidden(), self.cfg.n_inputs, self.cfg.n_outputs);
        let mut it = self.params.iter().map(|p| p.var.as_tensor());
        let w_eff = match &self.structure {
            Structure::Dense => it.next().cloned(),
            Structure::Sparse(_) => match (it.next(), &self.mask) {
                (Some(w), Some(m)) => Some(w.mul(m)?),
                _ => None,
            },
            Structure::FrozenIdentity => Some(Tensor::eye(n, DType::F32, dev)?),
        };
        let rest: Vec<&Tensor> = it.collect();
        let (Some(w_eff), [w_in, b_h, w_out, b_o]) = (w_eff, rest.as_slice()) else {
            candle_core::bail!("device trainer: parameters do not match the structure");
        };
        let w_t = w_eff.t()?;
        let w_in_t = w_in.t()?;
        let x = Tensor::from_slice(inputs, (t, b, ni), dev)?;
        let noise = self.noise(seed)?;
        let alpha = f64::from(self.cfg.alpha);
        let mut h: Option<Tensor> = None;
        let mut hs = Vec::with_capacity(t);
        for s in 0..t {
            let mut pre = x.get(s)?.matmul(&w_in_t)?.broadcast_add(b_h)?;
            if let Some(h) = &h {
                pre = pre.add(&h.matmul(&w_t)?)?;
            }
            if let Some(z) = &noise {
                pre = pre.add(&z.get(s)?)?;
            }
            let f = match self.cfg.activation {
                Activation::Relu => pre.relu()?,
                Activation::Tanh => pre.tanh()?,
                // log(1 + e^x) = max(x, 0) + log(1 + e^-|x|).
                Activation::Softplus => pre
                    .relu()?
                    .add(&pre.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?,
            };
            let next_h = match &h {
                Some(h) if self.cfg.alpha != 1.0 => {
                    h.affine(1.0 - alpha, 0.0)?.add(&f.affine(alpha, 0.0)?)?
                }
                None if self.cfg.alpha != 1.0 => f.affine(alpha, 0.0)?,
                _ => f,
            };
            hs.push(next_h.clone());
            h = Some(next_h);
        }
        let y = Tensor::cat(&hs, 0)?
            .matmul(&w_out.t()?)?
            .broadcast_add(b_o)?;
        let tb = t * b;
        let mut onehot = vec![0.0f32; tb * no];
        for (r, &c) in targets.iter().enumerate() {
            onehot[r * no + usize::from(c)] = 1.0;
        }
        let onehot = Tensor::from_vec(onehot, (tb, no), dev)?;
        let z = y.broadcast_sub(&y.detach().max_keepdim(1)?)?;
        let lse = z.exp()?.sum_keepdim(1)?.log()?;
        let picked = z.mul(&onehot)?.sum_keepdim(1)?;
        lse.sub(&picked)?.sum_all()?.affine(1.0 / tb as f64, 0.0)
    }

    /// Adds lambda * sign(p) (times 1 + A D on the recurrent matrix for BIMT) and returns the
    /// penalty, as `Trainer::compute_gradients` does.
    fn add_penalty(&self, grads: &mut [Tensor]) -> candle_core::Result<f32> {
        let family = &self.cfg.family;
        let (lambda, factor) = match Bimt::from_family(family) {
            Some(b) => (b.lambda_at(self.step + 1), self.bimt_factor.as_ref()),
            None => (family.l1_lambda(), None),
        };
        if lambda == 0.0 {
            return Ok(0.0);
        }
        let lambda64 = f64::from(lambda);
        let mut penalty = 0.0f64;
        for (p, g) in self.params.iter().zip(grads.iter_mut()) {
            let w = p.var.as_tensor();
            let (abs, sign) = (w.abs()?, w.sign()?);
            let (cost, sub) = match factor {
                Some(f) if p.recurrent => (abs.mul(f)?, sign.mul(f)?),
                _ => (abs, sign),
            };
            penalty += f64::from(cost.sum_all()?.to_scalar::<f32>()?);
            *g = g.add(&sub.affine(lambda64, 0.0)?)?;
        }
        Ok((lambda64 * penalty) as f32)
    }

    fn global_grad_norm(&self) -> candle_core::Result<f32> {
        let mut sq = 0.0f64;
        for g in &self.grads {
            sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
        }
        Ok(sq.sqrt() as f32)
    }

    /// Clips the gradients to [`DeviceTrainer::max_grad_norm`] and applies one Adam update (when
    /// the norm is finite). Returns the norm before clipping.
    pub fn apply_update(&mut self) -> anyhow::Result<f32> {
        let norm = self.global_grad_norm().map_err(err)?;
        if !norm.is_finite() {
            return Ok(norm);
        }
        let coef = self.max_grad_norm / (norm + 1e-6);
        if coef < 1.0 {
            for g in &mut self.grads {
                *g = g.affine(f64::from(coef), 0.0).map_err(err)?;
            }
        }
        self.adam().map_err(err)?;
        Ok(norm)
    }

    fn adam(&mut self) -> candle_core::Result<()> {
        self.step += 1;
        let t = self.step as f64;
        let bc1 = 1.0 - f64::from(self.beta1).powf(t);
        let bc2 = 1.0 - f64::from(self.beta2).powf(t);
        let step_size = f64::from((f64::from(self.lr) / bc1) as f32);
        let inv_sqrt_bc2 = f64::from((1.0 / bc2.sqrt()) as f32);
        let (b1, b2) = (f64::from(self.beta1), f64::from(self.beta2));
        let (one_b1, one_b2) = (f64::from(1.0 - self.beta1), f64::from(1.0 - self.beta2));
        for (p, g) in self.params.iter_mut().zip(&self.grads) {
            p.m = p.m.affine(b1, 0.0)?.add(&g.affine(one_b1, 0.0)?)?;
            p.v = p.v.affine(b2, 0.0)?.add(&g.sqr()?.affine(one_b2, 0.0)?)?;
            let denom = p.v.sqrt()?.affine(inv_sqrt_bc2, f64::from(self.eps))?;
            let update = p.m.div(&denom)?.affine(step_size, 0.0)?;
            let next = p.var.as_tensor().sub(&update)?;
            p.var.set(&next)?;
        }
        Ok(())
    }
}

impl Engine for DeviceTrainer {
    fn compute_gradients(
        &mut self,
        inputs: &[f32],
        targets: &[u8],
        noise_rng: &mut Rng,
    ) -> anyhow::Result<(f32, f32)> {
        DeviceTrainer::compute_gradients(self, inputs, targets, noise_rng)
    }

    fn apply_update(&mut self) -> anyhow::Result<f32> {
        DeviceTrainer::apply_update(self)
    }

    fn grad_norm(&mut self) -> anyhow::Result<f32> {
        self.global_grad_norm().map_err(err)
    }
}

/// Host values of one tensor in device shape: the recurrent matrix of a sparse family is
/// scattered from mask order into [N, N].
fn expand(structure: &Structure, recurrent: bool, host: &[f32], shape: &[usize]) -> Vec<f32> {
    match structure {
        Structure::Sparse(m) if recurrent => {
            let mut dense = vec![0.0f32; shape.iter().product()];
            m.scatter(host, &mut dense);
            dense
        }
        _ => host.to_vec(),
    }
}

/// The inverse of [`expand`]: device values into the host layout.
fn compress(structure: &Structure, recurrent: bool, dev: &[f32], host: &mut [f32]) {
    match structure {
        Structure::Sparse(m) if recurrent => m.gather(dev, host),
        _ => host.copy_from_slice(dev),
    }
}

fn to_host(t: &Tensor) -> anyhow::Result<Vec<f32>> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(err)
}
