//! Regularisers that act on the weights beyond the loss: BIMT's connection cost and neuron swaps.
//!
//! - [`bimt`]: sheet distances, the wiring cost A * |D (.) W|_1, the connection cost l_cc and its
//!   subgradient (which the trainer adds to its gradient for family `bimt`).
//! - [`swap`]: neuron swaps (relabelling hidden units, Adam moments included), run by the
//!   training loop through [`after_step`].
//!
//! This module depends on the model and the optimiser only; the trainer calls it (never the
//! other way round). Its tests, which train networks, live with the trainer.

pub mod bimt;
pub mod swap;

pub use bimt::Bimt;
pub use swap::SwapRound;

use crate::model::Network;
use crate::optim::Adam;

/// The hook the training loop calls after step `step` (counted from 1) with the network and its
/// optimiser state: for `bimt`, a swap round every `swap_every` steps (after that step's Adam
/// update). Returns the round, if one ran.
pub fn after_step(
    net: &mut Network,
    adam: &mut Adam,
    step: u64,
) -> anyhow::Result<Option<SwapRound>> {
    let Some(b) = Bimt::from_family(&net.config().family) else {
        return Ok(None);
    };
    if !b.swap_due(step) {
        return Ok(None);
    }
    let k = b.top_k(net.n_hidden());
    swap::swap_round(net, Some(adam), b.a, k).map(Some)
}

/// Extra fields for the metrics log: for `bimt`, the swaps made since the previous line, the
/// wiring cost A * |D (.) W|_1 and the connection cost l_cc; None for other families.
pub fn metrics(net: &Network, swaps: u64) -> Option<serde_json::Value> {
    let b = Bimt::from_family(&net.config().family)?;
    Some(serde_json::json!({
        "swaps": swaps,
        "wiring_cost": bimt::wiring_cost(net, b.a),
        "connection_cost": bimt::connection_cost(net, b.a),
    }))
}
