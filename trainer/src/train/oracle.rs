//! The candle oracle: the same forward pass and loss written with candle-core autograd (CPU), used
//! to check the hand-written gradients (tests, in f64) and as the baseline of the benchmark (f32).
//!
//! It follows models.md literally, batch-major and step by step: pre_t = x_t W_in^T + b_h +
//! h_{t-1} W^T (+ noise_t), h_t = (1-alpha) h_{t-1} + alpha phi(pre_t), y_t = h_t W_out^T + b_o,
//! loss = mean over all T*B steps of the cross-entropy (+ lambda * sum |params| for `l1`, with the
//! subgradient sign(p) and sign(0) = 0). Masked families use W (.) M with the 0/1 mask M; the
//! frozen autapse uses the constant identity. tanh is the exact tanh here.

use crate::model::{Activation, Network, Structure};
use candle_core::{DType, Device, Tensor, Var};

/// Loss and gradients from candle, in the network's tensor layout (w_rec as mask entries for
/// masked families, absent for frozen-autapse), as f64.
#[derive(Clone, Debug)]
pub struct OracleResult {
    /// Mean cross-entropy plus the L1 penalty.
    pub loss: f64,
    /// (tensor name, gradient) in the order of [`Network::tensors`].
    pub grads: Vec<(String, Vec<f64>)>,
}

fn to_f64(t: &Tensor) -> candle_core::Result<Vec<f64>> {
    t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()
}

/// Runs the forward pass and backward with candle in `dtype` (F32 or F64). `inputs` is [T, B, I]
/// time-major, `targets` [T, B]; `noise`, if given, is the pre-activation noise in the
/// hand-written trainer's unit-major layout [N, T*B].
pub fn oracle_gradients(
    net: &Network,
    inputs: &[f32],
    targets: &[u8],
    t: usize,
    b: usize,
    noise: Option<&[f32]>,
    dtype: DType,
) -> candle_core::Result<OracleResult> {
    let dev = Device::Cpu;
    let cfg = net.config();
    let (n, ni, no) = (cfg.n_hidden(), cfg.n_inputs, cfg.n_outputs);
    let tb = t * b;
    if inputs.len() != tb * ni || targets.len() != tb || noise.is_some_and(|z| z.len() != n * tb) {
        candle_core::bail!("oracle: buffer lengths do not match T = {t}, B = {b}");
    }
    let to = |v: &[f32], shape: &[usize]| -> candle_core::Result<Tensor> {
        Tensor::from_slice(v, shape, &dev)?.to_dtype(dtype)
    };
    let w = Var::from_tensor(&to(&net.w_rec_dense(), &[n, n])?)?;
    let w_in = Var::from_tensor(&to(net.w_in(), &[n, ni])?)?;
    let b_h = Var::from_tensor(&to(net.b_h(), &[n])?)?;
    let w_out = Var::from_tensor(&to(net.w_out(), &[no, n])?)?;
    let b_o = Var::from_tensor(&to(net.b_o(), &[no])?)?;
    let w_eff = match net.structure() {
        Structure::Dense => w.as_tensor().clone(),
        Structure::Sparse(m) => {
            let mut mask = vec![0.0f32; n * n];
            m.scatter(&vec![1.0; m.nnz()], &mut mask);
            w.as_tensor().mul(&to(&mask, &[n, n])?)?
        }
        Structure::FrozenIdentity => Tensor::eye(n, dtype, &dev)?,
    };
    let w_eff_t = w_eff.t()?;
    let w_in_t = w_in.as_tensor().t()?;
    let w_out_t = w_out.as_tensor().t()?;
    let alpha = f64::from(cfg.alpha);
    let mut h = Tensor::zeros((b, n), dtype, &dev)?;
    let mut ys = Vec::with_capacity(t);
    for s in 0..t {
        let x = to(&inputs[s * b * ni..(s + 1) * b * ni], &[b, ni])?;
        let mut pre = x
            .matmul(&w_in_t)?
            .broadcast_add(b_h.as_tensor())?
            .add(&h.matmul(&w_eff_t)?)?;
        if let Some(z) = noise {
            let zs: Vec<f32> = (0..b * n)
                .map(|k| z[(k % n) * tb + s * b + k / n])
                .collect();
            pre = pre.add(&to(&zs, &[b, n])?)?;
        }
        let f = match cfg.activation {
            Activation::Relu => pre.relu()?,
            Activation::Tanh => pre.tanh()?,
            Activation::Softplus => pre
                .relu()?
                .add(&pre.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?,
        };
        h = if cfg.alpha == 1.0 {
            f
        } else {
            h.affine(1.0 - alpha, 0.0)?.add(&f.affine(alpha, 0.0)?)?
        };
        ys.push(h.matmul(&w_out_t)?.broadcast_add(b_o.as_tensor())?);
    }
    let y = Tensor::cat(&ys, 0)?;
    let mut onehot = vec![0.0f32; tb * no];
    for (r, &c) in targets.iter().enumerate() {
        onehot[r * no + usize::from(c)] = 1.0;
    }
    let lse = y.exp()?.sum_keepdim(1)?.log()?;
    let picked = y.mul(&to(&onehot, &[tb, no])?)?.sum_all()?;
    let mut loss = lse.sum_all()?.sub(&picked)?.affine(1.0 / tb as f64, 0.0)?;
    let lambda = f64::from(cfg.family.l1_lambda());
    let trainable_w = !matches!(net.structure(), Structure::FrozenIdentity);
    if lambda > 0.0 {
        let mut vars: Vec<&Var> = vec![&w_in, &b_h, &w_out, &b_o];
        if trainable_w {
            vars.push(&w);
        }
        for v in vars {
            let vals = v
                .as_tensor()
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            let sign: Vec<f32> = vals
                .iter()
                .map(|&p| {
                    if p > 0.0 {
                        1.0
                    } else if p < 0.0 {
                        -1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            let sign = to(&sign, v.as_tensor().dims())?;
            loss = loss.add(&v.as_tensor().mul(&sign)?.sum_all()?.affine(lambda, 0.0)?)?;
        }
    }
    let store = loss.backward()?;
    let grad = |v: &Var| -> candle_core::Result<Vec<f64>> {
        match store.get(v.as_tensor()) {
            Some(g) => to_f64(g),
            None => Ok(vec![0.0; v.as_tensor().elem_count()]),
        }
    };
    let mut grads = Vec::with_capacity(5);
    match net.structure() {
        Structure::Dense => grads.push(("w_rec".to_string(), grad(&w)?)),
        Structure::Sparse(m) => {
            let dense = grad(&w)?;
            let mut vals = vec![0.0f64; m.nnz()];
            for i in 0..n {
                for k in m.row_ptr()[i]..m.row_ptr()[i + 1] {
                    vals[k] = dense[i * n + m.cols()[k] as usize];
                }
            }
            grads.push(("w_rec".to_string(), vals));
        }
        Structure::FrozenIdentity => {}
    }
    grads.push(("w_in".to_string(), grad(&w_in)?));
    grads.push(("b_h".to_string(), grad(&b_h)?));
    grads.push(("w_out".to_string(), grad(&w_out)?));
    grads.push(("b_o".to_string(), grad(&b_o)?));
    let loss = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    Ok(OracleResult { loss, grads })
}
