//! The network's configuration (serde, for the TOML run config).

use super::activation::Activation;
use super::family::Family;
use super::sheet::Sheet;
use serde::{Deserialize, Serialize};

fn one() -> f32 {
    1.0
}

fn yes() -> bool {
    true
}

/// Everything that fixes the shape and dynamics of a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// The sheet of hidden units (N = rows * cols).
    pub sheet: Sheet,
    /// Connectivity family (default dense).
    #[serde(default)]
    pub family: Family,
    /// Nonlinearity (default relu).
    #[serde(default)]
    pub activation: Activation,
    /// Leak alpha in (0, 1]: h' = (1 - alpha) h + alpha phi(W h + W_in u + b_h). Default 1.
    #[serde(default = "one")]
    pub alpha: f32,
    /// Recurrent noise on the pre-activation during training (default on; never in evaluation).
    #[serde(default = "yes")]
    pub recurrent_noise: bool,
    /// Its standard deviation; default 0.05 * sqrt(2 / alpha).
    #[serde(default)]
    pub noise_std: Option<f32>,
    /// Inputs per step (33 + number of rules; 53 for cog20). In a run config it follows from the
    /// tasks, so it is neither read nor written there: it stays 0 in `RunConfig::net`, and the
    /// complete config is the run's plan's (`RunPlan::net`, from `RunConfig::resolve`).
    #[serde(default, skip_serializing)]
    pub n_inputs: usize,
    /// Output classes (17); like `n_inputs`, derived in a run config.
    #[serde(default, skip_serializing)]
    pub n_outputs: usize,
}

impl NetConfig {
    /// A short description of the family, e.g. `local (d = 2)`.
    pub fn family_label(&self) -> String {
        match &self.family {
            Family::Local { d, .. } => format!("local (d = {d})"),
            Family::Random { d, .. } => format!("random (d = {d})"),
            Family::SmallWorld { r, d, .. } => format!("small-world (r = {r}, d = {d})"),
            Family::L1 { lambda } => format!("l1 (lambda = {lambda})"),
            Family::Bimt { lambda, a, .. } => format!("bimt (lambda = {lambda}, A = {a})"),
            Family::Mask { rows } => format!(
                "mask ({} connections)",
                rows.iter().map(|r| r.matches('1').count()).sum::<usize>()
            ),
            f => f.name().to_string(),
        }
    }

    /// A config with the defaults (dense, relu, alpha 1, noise on).
    pub fn new(sheet: Sheet, n_inputs: usize, n_outputs: usize) -> Self {
        NetConfig {
            sheet,
            family: Family::Dense,
            activation: Activation::Relu,
            alpha: 1.0,
            recurrent_noise: true,
            noise_std: None,
            n_inputs,
            n_outputs,
        }
    }

    /// Number of hidden units N.
    pub fn n_hidden(&self) -> usize {
        self.sheet.n_units()
    }

    /// Standard deviation of the training noise: 0 when off, else `noise_std` or
    /// 0.05 * sqrt(2 / alpha).
    pub fn noise_sigma(&self) -> f32 {
        if !self.recurrent_noise {
            0.0
        } else {
            self.noise_std.unwrap_or(0.05 * (2.0 / self.alpha).sqrt())
        }
    }

    /// Checks every field.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.sheet.validate()?;
        self.family.validate()?;
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            anyhow::bail!("alpha must be in (0, 1], got {}", self.alpha);
        }
        if let Some(s) = self.noise_std {
            if !s.is_finite() || s < 0.0 {
                anyhow::bail!("noise_std must be finite and >= 0, got {s}");
            }
        }
        if self.n_inputs == 0 || self.n_outputs == 0 {
            anyhow::bail!("n_inputs and n_outputs must be positive");
        }
        if self.n_outputs > 256 {
            anyhow::bail!(
                "at most 256 output classes (targets are u8), got {}",
                self.n_outputs
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_noise() {
        let c: NetConfig = serde_json::from_str(
            r#"{"sheet":{"rows":4,"cols":4},"n_inputs":53,"n_outputs":17,"alpha":0.5}"#,
        )
        .unwrap();
        assert_eq!(c.family, Family::Dense);
        assert_eq!(c.activation, Activation::Relu);
        assert!((c.noise_sigma() - 0.1).abs() < 1e-7);
        c.validate().unwrap();
        let mut off = c.clone();
        off.recurrent_noise = false;
        assert_eq!(off.noise_sigma(), 0.0);
        let mut bad = c;
        bad.alpha = 0.0;
        assert!(bad.validate().is_err());
    }
}
