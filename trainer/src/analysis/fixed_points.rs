//! Fixed and slow points of the network's dynamics under a constant input (Sussillo & Barak 2013;
//! `docs/models.md`, "Dynamics analysis").
//!
//! The step is F(h, u) = (1 - alpha) h + alpha phi(W h + W_in u + b_h), its Jacobian
//! dF/dh = (1 - alpha) I + alpha diag(phi'(pre)) W. With the speed q(h) = 0.5 |F(h, u) - h|^2 and
//! r = F(h, u) - h = alpha (phi(pre) - h), the gradient is dq/dh = (J - I)^T r =
//! alpha (W^T (phi'(pre) . r) - r).
//!
//! [`find`] minimises q with Adam (learning rate decaying geometrically to 1 % of its start over
//! the iterations) from `starts` states drawn from the given trajectory states plus Gaussian
//! noise, keeps the minima with q below `q_tol`, polishes each with a few Newton steps on
//! F(h) - h = 0 (a step is kept only if it lowers q), deduplicates them (a point within `dedup` of
//! a point with lower q is dropped) and takes the eigenvalues of the Jacobian at each. A point is
//! stable when its largest |eigenvalue| < 1; it is called fixed when q < [`FIXED_Q`] and slow
//! otherwise.
//!
//! Everything runs in f64 with the exact phi (tanh, not the trainer's fast rational tanh, whose
//! error is below 2e-6).

use super::linalg::{self, Complex};
use crate::model::{Activation, Network};
use crate::tasks::Tasks;
use crate::train::eval::trial_batch;
use crate::train::forward;
use anyhow::{bail, Context, Result};
use gyrus_runtime::tasks::{self, eval_trial, PeriodKind, Rng};
use nalgebra::{DMatrix, DVector};

/// Points with q below this are called fixed; the others kept are slow points.
pub const FIXED_Q: f64 = 1e-12;

/// The network step in f64, for one constant input.
#[derive(Clone, Debug)]
pub struct Dynamics {
    /// Recurrent weights [N, N], row i = receiving unit.
    pub w: DMatrix<f64>,
    /// Input weights [N, I].
    pub w_in: DMatrix<f64>,
    /// Hidden bias \[N\].
    pub b: DVector<f64>,
    /// Leak alpha in (0, 1].
    pub alpha: f64,
    /// Nonlinearity.
    pub activation: Activation,
}

/// phi(x), exact.
pub fn phi(act: Activation, x: f64) -> f64 {
    match act {
        Activation::Relu => x.max(0.0),
        Activation::Tanh => x.tanh(),
        Activation::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
    }
}

/// phi'(x), exact (relu: 1 for x > 0, else 0).
pub fn dphi(act: Activation, x: f64) -> f64 {
    match act {
        Activation::Relu => f64::from(u8::from(x > 0.0)),
        Activation::Tanh => 1.0 - x.tanh().powi(2),
        Activation::Softplus => 1.0 / (1.0 + (-x).exp()),
    }
}

impl Dynamics {
    /// Checks the shapes and alpha.
    pub fn new(
        w: DMatrix<f64>,
        w_in: DMatrix<f64>,
        b: DVector<f64>,
        alpha: f64,
        activation: Activation,
    ) -> Result<Self> {
        let n = w.nrows();
        if !w.is_square() || w_in.nrows() != n || b.len() != n || n == 0 {
            bail!(
                "shapes do not fit: W {}x{}, W_in {}x{}, b {}",
                w.nrows(),
                w.ncols(),
                w_in.nrows(),
                w_in.ncols(),
                b.len()
            );
        }
        if alpha.is_nan() || alpha <= 0.0 || alpha > 1.0 {
            bail!("alpha must be in (0, 1], got {alpha}");
        }
        Ok(Dynamics {
            w,
            w_in,
            b,
            alpha,
            activation,
        })
    }

    /// The dynamics of a trained network.
    pub fn from_network(net: &Network) -> Self {
        let cfg = net.config();
        let (n, i) = (net.n_hidden(), cfg.n_inputs);
        let w = net.w_rec_dense();
        Dynamics {
            w: DMatrix::from_fn(n, n, |r, c| f64::from(w[r * n + c])),
            w_in: DMatrix::from_fn(n, i, |r, c| f64::from(net.w_in()[r * i + c])),
            b: DVector::from_iterator(n, net.b_h().iter().map(|&v| f64::from(v))),
            alpha: f64::from(cfg.alpha),
            activation: cfg.activation,
        }
    }

    /// Number of hidden units.
    pub fn n(&self) -> usize {
        self.w.nrows()
    }

    /// The constant part of the pre-activation, W_in u + b_h.
    pub fn drive(&self, u: &[f64]) -> Result<DVector<f64>> {
        if u.len() != self.w_in.ncols() {
            bail!(
                "input has {} values, {} expected",
                u.len(),
                self.w_in.ncols()
            );
        }
        Ok(&self.w_in * DVector::from_column_slice(u) + &self.b)
    }

    /// F(h, u) for the drive of u.
    pub fn step(&self, h: &DVector<f64>, drive: &DVector<f64>) -> DVector<f64> {
        let pre = &self.w * h + drive;
        let a = self.alpha;
        DVector::from_fn(self.n(), |i, _| {
            (1.0 - a) * h[i] + a * phi(self.activation, pre[i])
        })
    }

    /// q(h) = 0.5 |F(h, u) - h|^2.
    pub fn speed(&self, h: &DVector<f64>, drive: &DVector<f64>) -> f64 {
        0.5 * (self.step(h, drive) - h).norm_squared()
    }

    /// dF/dh at h.
    pub fn jacobian(&self, h: &DVector<f64>, drive: &DVector<f64>) -> DMatrix<f64> {
        let pre = &self.w * h + drive;
        let a = self.alpha;
        let mut j = DMatrix::from_fn(self.n(), self.n(), |r, c| {
            a * dphi(self.activation, pre[r]) * self.w[(r, c)]
        });
        for k in 0..self.n() {
            j[(k, k)] += 1.0 - a;
        }
        j
    }
}

/// Settings of [`find`].
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Initial states (default 1024).
    pub starts: usize,
    /// Std of the Gaussian noise added to each sampled state.
    pub noise: f64,
    /// Adam iterations.
    pub iterations: usize,
    /// Adam's initial learning rate.
    pub lr: f64,
    /// Keep minima with q below this.
    pub q_tol: f64,
    /// Points closer than this (Euclidean) are one point.
    pub dedup: f64,
    /// Newton polishing steps per kept point.
    pub newton: usize,
    /// Seed of the start sampling and noise.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            starts: 1024,
            noise: 0.05,
            iterations: 3000,
            lr: 1e-2,
            q_tol: 1e-6,
            dedup: 1e-3,
            newton: 10,
            seed: 0,
        }
    }
}

/// One fixed or slow point.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedPoint {
    /// The state.
    pub h: Vec<f64>,
    /// Its speed q.
    pub q: f64,
    /// All eigenvalues of the Jacobian, by decreasing modulus.
    pub eigenvalues: Vec<Complex>,
    /// Starts that ended at this point (within the dedup distance).
    pub hits: usize,
}

impl FixedPoint {
    /// Largest |eigenvalue|.
    pub fn spectral_radius(&self) -> f64 {
        self.eigenvalues
            .first()
            .map_or(0.0, |&(re, im)| re.hypot(im))
    }

    /// Largest |eigenvalue| < 1.
    pub fn stable(&self) -> bool {
        self.spectral_radius() < 1.0
    }

    /// q below [`FIXED_Q`].
    pub fn fixed(&self) -> bool {
        self.q < FIXED_Q
    }

    /// Number of eigenvalues with modulus > 1.
    pub fn unstable_modes(&self) -> usize {
        self.eigenvalues
            .iter()
            .filter(|&&(re, im)| re.hypot(im) > 1.0)
            .count()
    }
}

/// What [`find`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    /// Distinct points, by increasing q.
    pub points: Vec<FixedPoint>,
    /// Starts optimised.
    pub starts: usize,
    /// Starts whose minimum had q below the tolerance.
    pub converged: usize,
    /// Median q of all minima after Adam.
    pub median_q: f64,
    /// The settings used.
    pub options: Options,
}

/// Finds fixed and slow points of `dynamics` under `drive` from starts sampled from `states`
/// (columns of [N, S]).
pub fn find(
    dynamics: &Dynamics,
    drive: &DVector<f64>,
    states: &DMatrix<f64>,
    opts: &Options,
) -> Result<Search> {
    let n = dynamics.n();
    if states.nrows() != n || states.ncols() == 0 {
        bail!(
            "need at least one start state of {n} units, got a {}x{} matrix",
            states.nrows(),
            states.ncols()
        );
    }
    if drive.len() != n {
        bail!("drive has {} values, {n} expected", drive.len());
    }
    let positive = |v: f64| v > 0.0;
    if opts.starts == 0
        || !positive(opts.lr)
        || !positive(opts.q_tol)
        || !(opts.noise == 0.0 || positive(opts.noise))
    {
        bail!("fixed points need starts > 0, lr > 0, q_tol > 0 and noise >= 0");
    }
    let p = opts.starts;
    let mut rng = Rng::new(opts.seed);
    let mut h = DMatrix::zeros(n, p);
    for k in 0..p {
        let s = rng.below(states.ncols() as u32) as usize;
        for i in 0..n {
            h[(i, k)] = states[(i, s)] + opts.noise * f64::from(rng.normal());
        }
    }
    adam(dynamics, drive, &mut h, opts);
    let mut q: Vec<f64> = h
        .column_iter()
        .map(|c| dynamics.speed(&c.into_owned(), drive))
        .collect();
    let mut sorted_q = q.clone();
    sorted_q.sort_by(f64::total_cmp);
    let median_q = sorted_q[p / 2];
    let mut kept: Vec<(DVector<f64>, f64)> = Vec::new();
    for (k, qk) in q.iter_mut().enumerate() {
        if *qk < opts.q_tol {
            let mut hk = h.column(k).into_owned();
            *qk = newton(dynamics, drive, &mut hk, *qk, opts.newton);
            kept.push((hk, *qk));
        }
    }
    let converged = kept.len();
    kept.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut points: Vec<FixedPoint> = Vec::new();
    let mut reps: Vec<DVector<f64>> = Vec::new();
    for (hk, qk) in kept {
        if let Some(r) = reps.iter().position(|r| (r - &hk).norm() < opts.dedup) {
            points[r].hits += 1;
            continue;
        }
        let eigenvalues = linalg::eigenvalues(&dynamics.jacobian(&hk, drive))
            .context("eigenvalues of the Jacobian")?;
        points.push(FixedPoint {
            h: hk.iter().copied().collect(),
            q: qk,
            eigenvalues,
            hits: 1,
        });
        reps.push(hk);
    }
    Ok(Search {
        points,
        starts: p,
        converged,
        median_q,
        options: opts.clone(),
    })
}

/// Adam on q for every column of `h` at once.
fn adam(dynamics: &Dynamics, drive: &DVector<f64>, h: &mut DMatrix<f64>, opts: &Options) {
    let (n, p) = h.shape();
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-12f64);
    let mut m = DMatrix::<f64>::zeros(n, p);
    let mut v = DMatrix::<f64>::zeros(n, p);
    let wt = dynamics.w.transpose();
    let a = dynamics.alpha;
    let act = dynamics.activation;
    let decay = if opts.iterations > 1 {
        0.01f64.powf(1.0 / (opts.iterations - 1) as f64)
    } else {
        1.0
    };
    let mut lr = opts.lr;
    for it in 1..=opts.iterations {
        let mut pre = &dynamics.w * &*h;
        for mut col in pre.column_iter_mut() {
            col += drive;
        }
        // r = alpha (phi(pre) - h); s = phi'(pre) . r; grad = alpha (W^T s - r).
        let mut r = DMatrix::zeros(n, p);
        let mut s = DMatrix::zeros(n, p);
        for k in 0..p {
            for i in 0..n {
                let x = pre[(i, k)];
                let ri = a * (phi(act, x) - h[(i, k)]);
                r[(i, k)] = ri;
                s[(i, k)] = dphi(act, x) * ri;
            }
        }
        let mut g = &wt * &s;
        g -= &r;
        g *= a;
        let (c1, c2) = (1.0 - b1.powi(it as i32), 1.0 - b2.powi(it as i32));
        for ((hv, gv), (mv, vv)) in h
            .iter_mut()
            .zip(g.iter())
            .zip(m.iter_mut().zip(v.iter_mut()))
        {
            *mv = b1 * *mv + (1.0 - b1) * gv;
            *vv = b2 * *vv + (1.0 - b2) * gv * gv;
            *hv -= lr * (*mv / c1) / ((*vv / c2).sqrt() + eps);
        }
        lr *= decay;
    }
}

/// Newton steps on F(h) - h = 0 from `h` with speed `q`, each kept only if it lowers q; returns
/// the final q.
fn newton(
    dynamics: &Dynamics,
    drive: &DVector<f64>,
    h: &mut DVector<f64>,
    mut q: f64,
    steps: usize,
) -> f64 {
    for _ in 0..steps {
        if q == 0.0 {
            break;
        }
        let r = dynamics.step(h, drive) - &*h;
        let mut a = dynamics.jacobian(h, drive);
        for k in 0..dynamics.n() {
            a[(k, k)] -= 1.0;
        }
        let Some(dh) = a.lu().solve(&(-r)) else {
            break;
        };
        let next = &*h + dh;
        let qn = dynamics.speed(&next, drive);
        if qn.is_finite() && qn < q {
            *h = next;
            q = qn;
        } else {
            break;
        }
    }
    q
}

/// Noise-free hidden trajectories of one task: every trial's states [len, N] and periods.
#[derive(Clone, Debug)]
pub struct Trajectories {
    /// Hidden units.
    pub n: usize,
    /// Per trial, its hidden states h_1..h_len, row-major [len, N].
    pub states: Vec<Vec<f64>>,
    /// Per trial, the steps of the chosen period (`start..end`; empty if the trial lacks it).
    pub period: Vec<std::ops::Range<usize>>,
}

impl Trajectories {
    /// All states within the chosen period, as columns [N, S].
    pub fn period_states(&self) -> DMatrix<f64> {
        let cols: Vec<&[f64]> = self
            .states
            .iter()
            .zip(&self.period)
            .flat_map(|(s, r)| r.clone().map(move |t| &s[t * self.n..(t + 1) * self.n]))
            .collect();
        DMatrix::from_fn(self.n, cols.len(), |i, k| cols[k][i])
    }

    /// Every state of every trial, as rows [S, N].
    pub fn all_states(&self) -> DMatrix<f64> {
        let rows: usize = self.states.iter().map(|s| s.len() / self.n).sum();
        DMatrix::from_row_iterator(rows, self.n, self.states.iter().flatten().copied())
    }
}

/// Parses a period name (`fixation`, `stimulus`, `stim1`, `delay`, `stim2`, `sample`, `test`,
/// `decision`).
pub fn parse_period(name: &str) -> Result<PeriodKind> {
    const ALL: [PeriodKind; 8] = [
        PeriodKind::Fixation,
        PeriodKind::Stimulus,
        PeriodKind::Stim1,
        PeriodKind::Delay,
        PeriodKind::Stim2,
        PeriodKind::Sample,
        PeriodKind::Test,
        PeriodKind::Decision,
    ];
    ALL.into_iter()
        .find(|k| k.name() == name.trim().to_ascii_lowercase())
        .with_context(|| {
            let names: Vec<&str> = ALL.iter().map(|k| k.name()).collect();
            format!("unknown period {name:?}; periods: {}", names.join(", "))
        })
}

/// The input of task `rule` during `period`, noise-free, from evaluation trial 0 under `seed`
/// (fixation and rule inputs; stimuli as that trial shows them in that period). Errors if the
/// trial lacks the period or the input changes within it.
pub fn period_input(
    tasks: &Tasks,
    rule: usize,
    gen: &tasks::Config,
    seed: u64,
    period: PeriodKind,
) -> Result<Vec<f64>> {
    let list = tasks.list();
    let gen = gen.noise_free();
    let (trial, mut rng) =
        eval_trial(&list, rule, seed, 0, &gen).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(p) = trial.period(period).filter(|p| !p.is_empty()) else {
        let names: Vec<&str> = trial
            .periods()
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| p.kind.name())
            .collect();
        bail!(
            "task {} has no {} period; its periods: {}",
            tasks.tasks()[rule],
            period.name(),
            names.join(", ")
        );
    };
    let n_in = trial.n_inputs();
    let mut x = vec![0.0f32; trial.len() * n_in];
    let mut y = vec![0u8; trial.len()];
    trial
        .write(&mut rng, &mut x, &mut y)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let at = |t: usize| &x[t * n_in..(t + 1) * n_in];
    let first = at(usize::from(p.start));
    if (usize::from(p.start)..usize::from(p.end)).any(|t| at(t) != first) {
        bail!("the input of the {} period is not constant", period.name());
    }
    Ok(first.iter().map(|&v| f64::from(v)).collect())
}

/// Runs `net` on `trials` noise-free evaluation trials of task `rule` (seeded) and returns the
/// hidden trajectories with the steps of `period` marked.
pub fn trajectories(
    net: &Network,
    tasks: &Tasks,
    rule: usize,
    gen: &tasks::Config,
    seed: u64,
    trials: u32,
    period: PeriodKind,
) -> Result<Trajectories> {
    let batch = trial_batch(tasks, rule, &gen.noise_free(), seed, trials)?;
    let (t, b, n) = (batch.t_max, batch.trials.len(), net.n_hidden());
    let mut hidden = vec![0.0f32; t * b * n];
    let mut out = vec![0.0f32; t * b * net.config().n_outputs];
    forward(net, &batch.inputs, t, b, Some(&mut hidden), &mut out)?;
    let mut states = Vec::with_capacity(b);
    let mut periods = Vec::with_capacity(b);
    for (k, trial) in batch.trials.iter().enumerate() {
        let mut s = Vec::with_capacity(trial.len() * n);
        for step in 0..trial.len() {
            let row = &hidden[(step * b + k) * n..][..n];
            s.extend(row.iter().map(|&v| f64::from(v)));
        }
        states.push(s);
        // hidden[t] is h_{t+1}, the state after input t: the states under the period's input
        // are h_{start+1}..h_end, rows start..end.
        periods.push(
            trial
                .period(period)
                .map_or(0..0, |p| usize::from(p.start)..usize::from(p.end)),
        );
    }
    Ok(Trajectories {
        n,
        states,
        period: periods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NetConfig, Sheet};

    fn opts(starts: usize, noise: f64, lr: f64) -> Options {
        Options {
            starts,
            noise,
            lr,
            iterations: 1500,
            ..Options::default()
        }
    }

    fn relu2(alpha: f64) -> Dynamics {
        Dynamics::new(
            DMatrix::from_row_slice(2, 2, &[0.5, 0.2, 0.1, 0.3]),
            DMatrix::from_row_slice(2, 1, &[1.0, -0.5]),
            DVector::from_column_slice(&[1.0, 1.0]),
            alpha,
            Activation::Relu,
        )
        .unwrap()
    }

    #[test]
    fn linear_regime_has_its_closed_form_fixed_point() {
        // In the positive regime relu is the identity: h* = (I - W)^-1 (W_in u + b), and the
        // Jacobian is (1 - a) I + a W, whose eigenvalues are (1 - a) + a (0.4 +- sqrt(0.03)).
        for (alpha, u) in [(1.0, 0.0), (0.5, 0.0), (1.0, 0.8)] {
            let d = relu2(alpha);
            let drive = d.drive(&[u]).unwrap();
            let (b0, b1) = (1.0 + u, 1.0 - 0.5 * u);
            let det = 0.5 * 0.7 - 0.2 * 0.1;
            let want = [(0.7 * b0 + 0.2 * b1) / det, (0.1 * b0 + 0.5 * b1) / det];
            let states = DMatrix::from_column_slice(2, 3, &[0.0, 0.0, 1.0, 3.0, 4.0, 1.0]);
            let s = find(&d, &drive, &states, &opts(32, 0.5, 0.05)).unwrap();
            assert_eq!(s.points.len(), 1, "{:?}", s.points);
            assert_eq!(s.converged, 32);
            let p = &s.points[0];
            assert_eq!(p.hits, 32);
            assert!((p.h[0] - want[0]).abs() < 1e-9 && (p.h[1] - want[1]).abs() < 1e-9);
            assert!(p.fixed() && p.stable());
            let r = 0.03f64.sqrt();
            let l = [
                (1.0 - alpha) + alpha * (0.4 + r),
                (1.0 - alpha) + alpha * (0.4 - r),
            ];
            assert_eq!(p.eigenvalues.len(), 2);
            for (e, w) in p.eigenvalues.iter().zip(l) {
                assert!((e.0 - w).abs() < 1e-9 && e.1.abs() < 1e-12, "{e:?} vs {w}");
            }
            assert_eq!(p.unstable_modes(), 0);
        }
    }

    #[test]
    fn bistable_tanh_unit_has_three_fixed_points() {
        // h = tanh(2h): h = 0 (eigenvalue 2, unstable) and h = +-x*, x* = tanh(2 x*) (eigenvalue
        // 2 (1 - x*^2) < 1, stable). With a leak a the eigenvalues are (1 - a) + a lambda.
        let (mut lo, mut hi) = (0.5f64, 1.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if (2.0 * mid).tanh() > mid {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let x = lo;
        for alpha in [1.0, 0.3] {
            let d = Dynamics::new(
                DMatrix::from_element(1, 1, 2.0),
                DMatrix::zeros(1, 0),
                DVector::zeros(1),
                alpha,
                Activation::Tanh,
            )
            .unwrap();
            let drive = d.drive(&[]).unwrap();
            let states = DMatrix::from_row_slice(1, 5, &[-1.0, -0.4, 0.02, 0.4, 1.0]);
            let s = find(&d, &drive, &states, &opts(64, 0.01, 0.01)).unwrap();
            let mut pts: Vec<&FixedPoint> = s.points.iter().collect();
            pts.sort_by(|a, b| a.h[0].total_cmp(&b.h[0]));
            assert_eq!(pts.len(), 3, "{pts:?}");
            let lam = |l: f64| (1.0 - alpha) + alpha * l;
            for (p, (h, stable, ev)) in pts.iter().zip([
                (-x, true, lam(2.0 * (1.0 - x * x))),
                (0.0, false, lam(2.0)),
                (x, true, lam(2.0 * (1.0 - x * x))),
            ]) {
                assert!((p.h[0] - h).abs() < 1e-9, "{} vs {h}", p.h[0]);
                assert_eq!(p.stable(), stable);
                assert!((p.eigenvalues[0].0 - ev).abs() < 1e-9);
                assert!(p.fixed());
            }
            assert_eq!(pts[1].unstable_modes(), 1);
        }
    }

    #[test]
    fn nothing_kept_when_no_minimum_is_below_the_tolerance() {
        // h' = h + 1 (alpha 1, relu, W = I, b = 1, h >= 0) has no fixed point in the positive
        // regime; from positive starts the speed stays at 0.5.
        let d = Dynamics::new(
            DMatrix::identity(1, 1),
            DMatrix::zeros(1, 0),
            DVector::from_element(1, 1.0),
            1.0,
            Activation::Relu,
        )
        .unwrap();
        let states = DMatrix::from_element(1, 1, 2.0);
        let s = find(&d, &d.drive(&[]).unwrap(), &states, &opts(8, 0.1, 0.01)).unwrap();
        assert!(s.points.is_empty());
        assert_eq!(s.converged, 0);
        assert!((s.median_q - 0.5).abs() < 1e-9);
        assert!(find(&d, &d.b, &DMatrix::zeros(2, 1), &opts(8, 0.1, 0.01)).is_err());
        assert!(Dynamics::new(
            DMatrix::zeros(2, 2),
            DMatrix::zeros(2, 1),
            DVector::zeros(2),
            0.0,
            Activation::Relu
        )
        .is_err());
    }

    #[test]
    fn network_dynamics_match_the_forward_pass() {
        for act in [Activation::Relu, Activation::Tanh, Activation::Softplus] {
            let mut cfg = NetConfig::new(Sheet { rows: 2, cols: 2 }, 3, 2);
            cfg.activation = act;
            cfg.alpha = 0.5;
            let mut net = Network::new(&cfg, 5).unwrap();
            let mut rng = Rng::new(9);
            for v in net.params_mut() {
                *v = rng.normal() * 0.7;
            }
            let d = Dynamics::from_network(&net);
            let u = [[0.3f32, -1.0, 0.5], [1.0, 0.2, -0.4]];
            let inputs: Vec<f32> = u.iter().flatten().copied().collect();
            let mut hidden = vec![0.0f32; 2 * 4];
            let mut out = vec![0.0f32; 2 * 2];
            forward(&net, &inputs, 2, 1, Some(&mut hidden), &mut out).unwrap();
            let mut h = DVector::zeros(4);
            for (t, ut) in u.iter().enumerate() {
                let ut: Vec<f64> = ut.iter().map(|&v| f64::from(v)).collect();
                h = d.step(&h, &d.drive(&ut).unwrap());
                for i in 0..4 {
                    let got = f64::from(hidden[t * 4 + i]);
                    assert!(
                        (h[i] - got).abs() < 1e-5,
                        "{act:?} t {t} unit {i}: {} vs {got}",
                        h[i]
                    );
                }
            }
            // The analytic Jacobian against central differences.
            let drive = d.drive(&[0.1, 0.2, 0.3]).unwrap();
            let j = d.jacobian(&h, &drive);
            for c in 0..4 {
                let mut e = DVector::zeros(4);
                e[c] = 1e-6;
                let fd = (d.step(&(&h + &e), &drive) - d.step(&(&h - &e), &drive)) / 2e-6;
                for r in 0..4 {
                    assert!((fd[r] - j[(r, c)]).abs() < 1e-6, "{act:?} J[{r},{c}]");
                }
            }
        }
    }

    #[test]
    fn periods_parse_by_name() {
        assert_eq!(parse_period("Delay").unwrap(), PeriodKind::Delay);
        let e = parse_period("wait").unwrap_err().to_string();
        assert!(e.contains("delay") && e.contains("wait"), "{e}");
    }

    #[test]
    fn delay_input_is_fixation_and_rule_only() {
        let tasks = Tasks::parse("go,dlygo").unwrap();
        let gen = tasks::Config::default();
        let u = period_input(&tasks, 1, &gen, 3, PeriodKind::Delay).unwrap();
        assert_eq!(u.len(), tasks::n_inputs(2));
        let mut want = vec![0.0; u.len()];
        want[0] = 1.0;
        want[tasks::N_SENSORY + 1] = 1.0;
        assert_eq!(u, want);
        let e = period_input(&tasks, 0, &gen, 3, PeriodKind::Delay).unwrap_err();
        assert!(e.to_string().contains("no delay period"), "{e}");
    }
}
