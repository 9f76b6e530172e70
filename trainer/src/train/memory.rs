//! How much memory a run needs, estimated from its config before anything is allocated, and how
//! much the machine has: a run that cannot fit is refused with an error that says so, instead of
//! an out-of-memory abort part-way (and before anything is written into the run folder).
//!
//! The estimate counts the large buffers, in bytes, at their peak: the parameters with their
//! gradients and Adam moments, a checkpoint's copies while it is written, the recurrent mask and
//! the masked backward's per-connection lane sums, the BIMT distance matrix, the BPTT workspace of
//! a [T, B] window (hidden states [T+1, N, B], gradients and phi outputs [T, N, B], logits [T, B, O])
//! with the batch's inputs, and the evaluation of one task at a time (its trials' inputs, logits and
//! a workspace with the trials as the batch). Small buffers (O(N + I + O)) are left out, so it is
//! a slight underestimate; it is meant to refuse what cannot fit, not to predict use exactly.
//!
//! What the machine has: `MemAvailable` of `/proc/meminfo` (Linux). Where that cannot be read,
//! only runs above [`FALLBACK_LIMIT`] bytes are refused.

use super::config::{RunConfig, RunPlan};
use crate::model::{Family, NetConfig};
use anyhow::bail;
use gyrus_runtime::tasks::{length_range, Trial, N_CLASSES};

/// The limit used where `/proc/meminfo` cannot be read: 2^47 bytes (128 TiB), the user address
/// space of x86-64 and arm64, which no allocation can exceed.
pub const FALLBACK_LIMIT: u64 = 1 << 47;

/// An estimate of the memory a run needs, by part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// (what, bytes), the parts that are alive at the peak.
    pub parts: Vec<(&'static str, u128)>,
}

impl Estimate {
    /// The total in bytes.
    pub fn total(&self) -> u128 {
        self.parts.iter().map(|(_, b)| b).sum()
    }

    /// Refuses (with every part listed) if the total exceeds what the machine has available.
    pub fn check(&self, what: &str) -> anyhow::Result<()> {
        let (limit, source) = match available() {
            Some(b) => (b, "available (MemAvailable in /proc/meminfo)"),
            None => (FALLBACK_LIMIT, "addressable (/proc/meminfo cannot be read)"),
        };
        let total = self.total();
        if total > u128::from(limit) {
            let parts: Vec<String> = self
                .parts
                .iter()
                .filter(|(_, b)| *b > 0)
                .map(|(name, b)| format!("{name} {}", human(*b)))
                .collect();
            bail!(
                "{what} needs about {} of memory ({}), more than the {} {source}; use a smaller \
                 sheet, batch, seq_len or eval_trials",
                human(total),
                parts.join(", "),
                human(u128::from(limit))
            );
        }
        Ok(())
    }
}

/// Bytes available to a new process: `MemAvailable` of `/proc/meminfo`, if it can be read.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line
        .trim_start_matches("MemAvailable:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// A byte count for people: `512 B`, `3.2 MiB`, `1.5 TiB`, ...
fn human(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

const F32: u128 = 4;

/// Trainable recurrent weights of a family on N units: exact for dense, autapse, frozen; for
/// the radius families an upper bound, N times the (2 floor(d) + 1)^2 square around a unit; for an
/// explicit mask its count of allowed connections.
fn recurrent_weights(net: &NetConfig) -> u128 {
    let n = net.n_hidden() as u128;
    let local = |d: f64| {
        let side = 2 * (d.max(0.0).floor().min(1e9) as u128) + 1;
        n * (side * side).min(n)
    };
    match &net.family {
        Family::Dense | Family::L1 { .. } | Family::Bimt { .. } => n * n,
        Family::Autapse => n,
        Family::FrozenAutapse => 0,
        Family::Local { d, .. } | Family::Random { d, .. } | Family::SmallWorld { d, .. } => {
            local(*d)
        }
        Family::Mask { rows } => rows
            .iter()
            .map(|r| r.bytes().filter(|&b| b == b'1').count() as u128)
            .sum(),
    }
}

/// Parameters, mask and regularizer state of a network of `net` (with its n_inputs set): the
/// parts that live as long as the network.
fn network_parts(net: &NetConfig, training: bool) -> Vec<(&'static str, u128)> {
    let n = net.n_hidden() as u128;
    let (i, o) = (net.n_inputs as u128, net.n_outputs as u128);
    let rec = recurrent_weights(net);
    let params = rec + n * i + n + o * n + o;
    let sparse = !matches!(
        net.family,
        Family::Dense | Family::L1 { .. } | Family::Bimt { .. } | Family::FrozenAutapse
    );
    let mut parts = vec![("parameters", params * F32)];
    if sparse {
        // The mask's column indices, its transpose, and the masked backward's 16 lane sums per
        // connection and per readout weight.
        parts.push(("recurrent mask", 3 * rec * 4));
    }
    if training {
        parts.push(("gradients and Adam moments", 3 * params * F32));
        if sparse {
            parts.push(("masked backward lane sums", 16 * (rec + n * o) * F32));
        }
        if matches!(net.family, Family::Bimt { .. }) {
            parts.push(("BIMT distance matrix", n * n * 8));
        }
        // Writing a checkpoint copies parameters and moments, then serializes them.
        parts.push(("checkpoint copies", 6 * params * F32));
    }
    if let Family::SmallWorld { .. } = net.family {
        parts.push(("small-world draw", n * n));
    }
    parts
}

/// The BPTT workspace of a `t` x `b` window (`Workspace::new` and its sparse inputs), in bytes.
fn workspace_bytes(net: &NetConfig, t: u128, b: u128) -> u128 {
    let n = net.n_hidden() as u128;
    let (i, o) = (net.n_inputs as u128, net.n_outputs as u128);
    let f = if net.alpha == 1.0 { 0 } else { n * t * b };
    let h = n * (t + 1) * b;
    let g = n * t * b;
    let logits = 2 * t * b * o;
    let sparse_inputs = 4 * t * b * i;
    (h + g + f + logits + sparse_inputs + 4 * n * b + 2 * n * i) * F32
}

/// Peak bytes of evaluating `trials` trials per task (one task at a time, as
/// `train::eval::evaluate` does): each trial's inputs, their padded batch [T_max, n, I], the logits
/// and a workspace with the trials as the batch.
fn eval_bytes(plan: &RunPlan, trials: u32) -> anyhow::Result<u128> {
    let (gen, net) = (plan.generator(), plan.net());
    let mut t_max = 0u128;
    for &task in plan.tasks().tasks() {
        let (_, hi) = length_range(task, &gen)
            .ok_or_else(|| anyhow::anyhow!("invalid generator settings dt_ms = {}", gen.dt_ms))?;
        t_max = t_max.max(hi as u128);
    }
    let n = u128::from(trials);
    let i = net.n_inputs as u128;
    let trials_kept = n * (std::mem::size_of::<Trial>() as u128 + t_max * i * F32);
    let batch = t_max * n * i * F32;
    let logits = t_max * n * N_CLASSES as u128 * F32;
    Ok(trials_kept + batch + logits + workspace_bytes(net, t_max, n))
}

impl RunPlan {
    /// The memory a training run of this plan needs at its peak.
    pub fn memory_estimate(&self) -> anyhow::Result<Estimate> {
        let net = self.net();
        let (t, b) = (self.seq_len() as u128, self.config().batch as u128);
        let n_in = self.n_inputs() as u128;
        let mut parts = network_parts(net, true);
        parts.push(("BPTT workspace", workspace_bytes(net, t, b)));
        parts.push(("batch", t * b * (n_in * F32 + 1)));
        parts.push(("evaluation", eval_bytes(self, self.config().eval_trials)?));
        Ok(Estimate { parts })
    }

    /// Refuses a run that cannot fit in this machine's memory ([`RunPlan::memory_estimate`]).
    pub fn check_memory(&self) -> anyhow::Result<()> {
        self.memory_estimate()?.check("this run")
    }
}

impl RunConfig {
    /// The memory a training run of this config needs at its peak ([`RunPlan::memory_estimate`]
    /// of its plan; an invalid config is refused).
    pub fn memory_estimate(&self) -> anyhow::Result<Estimate> {
        self.resolve()?.memory_estimate()
    }

    /// Refuses a run that cannot fit in this machine's memory ([`RunConfig::memory_estimate`]).
    pub fn check_memory(&self) -> anyhow::Result<()> {
        self.memory_estimate()?.check("this run")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sheet;

    #[test]
    fn small_runs_fit_and_huge_ones_are_refused_with_the_numbers() {
        let cfg = RunConfig::with_sheet(Sheet::new(4, 4));
        let e = cfg.memory_estimate().unwrap();
        assert!(e.total() < 64 << 20, "{e:?}");
        cfg.check_memory().unwrap();
        let mut huge = cfg.clone();
        huge.net.sheet = Sheet::new(10_000, 10_000);
        huge.validate().unwrap();
        let err = huge.check_memory().unwrap_err().to_string();
        assert!(
            err.contains("needs about") && err.contains("parameters"),
            "{err}"
        );
        let mut trials = cfg;
        trials.eval_trials = 4_000_000_000;
        let err = trials.check_memory().unwrap_err().to_string();
        assert!(err.contains("evaluation"), "{err}");
    }

    #[test]
    fn the_estimate_grows_with_each_dimension() {
        let base = RunConfig::with_sheet(Sheet::new(8, 8));
        let total = |c: &RunConfig| c.memory_estimate().unwrap().total();
        let t0 = total(&base);
        let mut c = base.clone();
        c.batch *= 2;
        assert!(total(&c) > t0);
        let mut c = base.clone();
        c.seq_len = Some(400);
        assert!(total(&c) > t0);
        let mut c = base.clone();
        c.eval_trials *= 4;
        assert!(total(&c) > t0);
        let mut c = base;
        c.net.sheet = Sheet::new(16, 16);
        assert!(total(&c) > t0);
    }

    #[test]
    fn meminfo_is_read_on_linux() {
        if std::path::Path::new("/proc/meminfo").exists() {
            assert!(available().is_some_and(|b| b > 0));
        }
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 20), "3.0 MiB");
    }
}
