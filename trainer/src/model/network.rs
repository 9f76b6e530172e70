//! The network's parameters: one flat buffer with named views, seeded initialisation, dense view.

use super::config::NetConfig;
use super::family::Structure;
use gyrus_runtime::tasks::{derive_seed, Rng};
use std::ops::Range;

const INIT_DOMAIN: u64 = 0x494e_4954; // "INIT"

/// Where each parameter tensor lives in the flat parameter buffer (and in the gradient and Adam
/// buffers, which share the layout). Order: w_rec, w_in, b_h, w_out, b_o.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Recurrent weights: N*N row-major (dense), one per mask entry (sparse) or empty (frozen).
    pub w_rec: Range<usize>,
    /// Input weights [N, I] row-major.
    pub w_in: Range<usize>,
    /// Hidden bias \[N\].
    pub b_h: Range<usize>,
    /// Readout weights [O, N] row-major.
    pub w_out: Range<usize>,
    /// Output bias \[O\].
    pub b_o: Range<usize>,
}

impl Layout {
    fn new(n_rec: usize, n: usize, i: usize, o: usize) -> Self {
        let mut at = 0;
        let mut take = |len: usize| {
            let r = at..at + len;
            at += len;
            r
        };
        Layout {
            w_rec: take(n_rec),
            w_in: take(n * i),
            b_h: take(n),
            w_out: take(o * n),
            b_o: take(o),
        }
    }

    /// Total number of trainable parameters.
    pub fn len(&self) -> usize {
        self.b_o.end
    }

    /// True when there are no parameters (never, for a valid network).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A recurrent network h' = (1-alpha) h + alpha phi(W h + W_in u + b_h), o = W_out h' + b_o.
#[derive(Clone, Debug)]
pub struct Network {
    cfg: NetConfig,
    structure: Structure,
    layout: Layout,
    params: Vec<f32>,
}

fn uniform(rng: &mut Rng, out: &mut [f32], bound: f32) {
    for v in out {
        *v = (2.0 * rng.uniform() - 1.0) * bound;
    }
}

impl Network {
    /// A freshly initialised network (models.md): W = 0.5 I on the allowed connections; W_in and
    /// b_h uniform +-1/sqrt(n_inputs), W_out and b_o uniform +-1/sqrt(N) (nn.Linear defaults, b_h
    /// being the bias of the input layer). Masks drawn at random use `seed` unless the family has
    /// its own. Deterministic in (`cfg`, `seed`).
    pub fn new(cfg: &NetConfig, seed: u64) -> anyhow::Result<Self> {
        cfg.validate()?;
        Self::new_valid(cfg, seed)
    }

    /// [`Network::new`] for a config validated already ([`NetConfig::validate`], as
    /// [`crate::train::config::RunPlan`] holds it): the same network, without checking again.
    pub(crate) fn new_valid(cfg: &NetConfig, seed: u64) -> anyhow::Result<Self> {
        let structure = cfg.family.valid_structure(&cfg.sheet, seed)?;
        let n = cfg.n_hidden();
        let n_rec = match &structure {
            Structure::Dense => n * n,
            Structure::Sparse(m) => m.nnz(),
            Structure::FrozenIdentity => 0,
        };
        let layout = Layout::new(n_rec, n, cfg.n_inputs, cfg.n_outputs);
        let mut params = vec![0.0f32; layout.len()];
        match &structure {
            Structure::Dense => {
                for i in 0..n {
                    params[layout.w_rec.start + i * n + i] = 0.5;
                }
            }
            Structure::Sparse(m) => {
                for i in 0..n {
                    if let Some(k) = m.find(i, i) {
                        params[layout.w_rec.start + k] = 0.5;
                    }
                }
            }
            Structure::FrozenIdentity => {}
        }
        let mut rng = Rng::new(derive_seed(seed, INIT_DOMAIN, 0));
        let in_bound = 1.0 / (cfg.n_inputs as f32).sqrt();
        let out_bound = 1.0 / (n as f32).sqrt();
        uniform(&mut rng, &mut params[layout.w_in.clone()], in_bound);
        uniform(&mut rng, &mut params[layout.b_h.clone()], in_bound);
        uniform(&mut rng, &mut params[layout.w_out.clone()], out_bound);
        uniform(&mut rng, &mut params[layout.b_o.clone()], out_bound);
        Ok(Network {
            cfg: cfg.clone(),
            structure,
            layout,
            params,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NetConfig {
        &self.cfg
    }

    /// The recurrent structure (dense, mask, frozen identity).
    pub fn structure(&self) -> &Structure {
        &self.structure
    }

    /// Where each tensor sits in [`Network::params`].
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Number of hidden units N.
    pub fn n_hidden(&self) -> usize {
        self.cfg.n_hidden()
    }

    /// All trainable parameters, flat (see [`Layout`]).
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// All trainable parameters, mutable. Masked entries do not exist in this buffer, so any write
    /// keeps them zero.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// Trainable recurrent weights (see [`Layout::w_rec`]).
    pub fn w_rec(&self) -> &[f32] {
        &self.params[self.layout.w_rec.clone()]
    }

    /// Input weights [N, I].
    pub fn w_in(&self) -> &[f32] {
        &self.params[self.layout.w_in.clone()]
    }

    /// Hidden bias \[N\].
    pub fn b_h(&self) -> &[f32] {
        &self.params[self.layout.b_h.clone()]
    }

    /// Readout [O, N].
    pub fn w_out(&self) -> &[f32] {
        &self.params[self.layout.w_out.clone()]
    }

    /// Output bias \[O\].
    pub fn b_o(&self) -> &[f32] {
        &self.params[self.layout.b_o.clone()]
    }

    /// Calls `f(k, i, j)` for every trainable recurrent weight, in [`Network::w_rec`] order: `k`
    /// its index in `w_rec`, `i` the receiving and `j` the sending unit. All N*N entries of a
    /// dense structure, the mask entries of a sparse one, nothing for the frozen identity (which
    /// is not trained). The one walk over a network's recurrent connections.
    pub fn for_each_recurrent(&self, mut f: impl FnMut(usize, usize, usize)) {
        let n = self.n_hidden();
        match &self.structure {
            Structure::Dense => {
                for i in 0..n {
                    for j in 0..n {
                        f(i * n + j, i, j);
                    }
                }
            }
            Structure::Sparse(m) => {
                for i in 0..n {
                    for k in m.row_ptr()[i]..m.row_ptr()[i + 1] {
                        f(k, i, m.cols()[k] as usize);
                    }
                }
            }
            Structure::FrozenIdentity => {}
        }
    }

    /// The recurrent matrix as dense N*N, row i = receiving unit (zeros outside the mask; the
    /// identity for frozen-autapse).
    pub fn w_rec_dense(&self) -> Vec<f32> {
        let n = self.n_hidden();
        let mut w = vec![0.0f32; n * n];
        match &self.structure {
            Structure::Dense => w.copy_from_slice(self.w_rec()),
            Structure::Sparse(m) => m.scatter(self.w_rec(), &mut w),
            Structure::FrozenIdentity => {
                for i in 0..n {
                    w[i * n + i] = 1.0;
                }
            }
        }
        w
    }

    /// Name, shape and range of every tensor of a buffer with this layout. `w_rec` is [N, N] for
    /// dense structures and \[nnz\] (mask order) for sparse ones; it is absent for frozen-autapse.
    pub fn tensor_specs(&self) -> Vec<(&'static str, Vec<usize>, Range<usize>)> {
        let (n, i, o) = (self.n_hidden(), self.cfg.n_inputs, self.cfg.n_outputs);
        let l = &self.layout;
        let mut v = Vec::with_capacity(5);
        match &self.structure {
            Structure::Dense => v.push(("w_rec", vec![n, n], l.w_rec.clone())),
            Structure::Sparse(m) => v.push(("w_rec", vec![m.nnz()], l.w_rec.clone())),
            Structure::FrozenIdentity => {}
        }
        v.push(("w_in", vec![n, i], l.w_in.clone()));
        v.push(("b_h", vec![n], l.b_h.clone()));
        v.push(("w_out", vec![o, n], l.w_out.clone()));
        v.push(("b_o", vec![o], l.b_o.clone()));
        v
    }

    /// Named views of the parameters for checkpoints: (name, shape, values).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, &[f32])> {
        self.tensor_specs()
            .into_iter()
            .map(|(name, shape, r)| (name.to_string(), shape, &self.params[r]))
            .collect()
    }

    /// Overwrites tensor `name` (as listed by [`Network::tensors`]) with `data`; the length must
    /// match and every value must be finite.
    pub fn load_tensor(&mut self, name: &str, data: &[f32]) -> anyhow::Result<()> {
        let range = find_range(&self.tensor_specs(), name)?;
        check_values(name, range.len(), data)?;
        self.params[range].copy_from_slice(data);
        Ok(())
    }
}

/// Looks up a tensor's range by name.
pub(crate) fn find_range(
    specs: &[(&'static str, Vec<usize>, Range<usize>)],
    name: &str,
) -> anyhow::Result<Range<usize>> {
    specs
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, r)| r.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = specs.iter().map(|(n, _, _)| *n).collect();
            anyhow::anyhow!("unknown tensor {name:?} (this network has {names:?})")
        })
}

/// Checks a loaded tensor's length and values.
pub(crate) fn check_values(name: &str, len: usize, data: &[f32]) -> anyhow::Result<()> {
    if data.len() != len {
        anyhow::bail!("tensor {name:?} has {} values, {len} expected", data.len());
    }
    if let Some(p) = data.iter().position(|v| !v.is_finite()) {
        anyhow::bail!("tensor {name:?} has a non-finite value at {p}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, Sheet};

    fn cfg(family: Family) -> NetConfig {
        let mut c = NetConfig::new(Sheet::new(4, 4), 5, 3);
        c.family = family;
        c
    }

    #[test]
    fn init_follows_the_spec() {
        let net = Network::new(&cfg(Family::Dense), 1).unwrap();
        let w = net.w_rec_dense();
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(w[i * 16 + j], if i == j { 0.5 } else { 0.0 });
            }
        }
        let b = 1.0 / 5f32.sqrt();
        assert!(net.w_in().iter().chain(net.b_h()).all(|v| v.abs() <= b));
        assert!(net.w_in().iter().any(|v| v.abs() > 0.5 * b));
        let b = 0.25;
        assert!(net.w_out().iter().chain(net.b_o()).all(|v| v.abs() <= b));
        let again = Network::new(&cfg(Family::Dense), 1).unwrap();
        assert_eq!(net.params(), again.params());
        let other = Network::new(&cfg(Family::Dense), 2).unwrap();
        assert_ne!(net.params(), other.params());
    }

    #[test]
    fn sparse_and_frozen_views() {
        let net = Network::new(
            &cfg(Family::Local {
                d: 1.0,
                torus: false,
            }),
            1,
        )
        .unwrap();
        assert_eq!(net.w_rec().len(), 64);
        let w = net.w_rec_dense();
        assert_eq!(w.iter().filter(|&&v| v == 0.5).count(), 16);
        assert_eq!(w.iter().filter(|&&v| v != 0.0).count(), 16);
        let frozen = Network::new(&cfg(Family::FrozenAutapse), 1).unwrap();
        assert!(frozen.w_rec().is_empty());
        assert!(frozen.tensors().iter().all(|(n, _, _)| n != "w_rec"));
        assert_eq!(frozen.w_rec_dense()[17], 1.0);
    }

    #[test]
    fn tensors_round_trip_and_bad_loads_fail() {
        let a = Network::new(
            &cfg(Family::Local {
                d: 2.0,
                torus: false,
            }),
            1,
        )
        .unwrap();
        let mut b = Network::new(
            &cfg(Family::Local {
                d: 2.0,
                torus: false,
            }),
            7,
        )
        .unwrap();
        assert_ne!(a.params(), b.params());
        for (name, shape, data) in a.tensors() {
            assert_eq!(shape.iter().product::<usize>(), data.len());
            b.load_tensor(&name, data).unwrap();
        }
        assert_eq!(a.params(), b.params());
        assert!(b.load_tensor("w_in", &[0.0; 3]).is_err());
        assert!(b.load_tensor("nope", &[]).is_err());
        let mut bad = a.w_in().to_vec();
        bad[0] = f32::NAN;
        assert!(b.load_tensor("w_in", &bad).is_err());
    }
}
