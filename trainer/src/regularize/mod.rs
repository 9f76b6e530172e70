//! Regularisers that act on the weights beyond the loss: BIMT's connection cost and neuron swaps.
//!
//! - [`bimt`]: sheet distances, the wiring cost A * |D (.) W|_1, the connection cost l_cc and its
//!   subgradient (added by [`crate::train::Trainer::compute_gradients`] for family `bimt`).
//! - [`swap`]: neuron swaps (relabelling hidden units, Adam moments included), run by
//!   [`crate::train::run::Run::train`] through [`after_step`].

pub mod bimt;
pub mod swap;

#[cfg(test)]
mod tests;

pub use bimt::Bimt;
pub use swap::SwapRound;

use crate::model::Network;
use crate::train::Trainer;

/// What the family asks for after step `step` (counted from 1) of `trainer`: for `bimt`, a swap
/// round every `swap_every` steps (after that step's Adam update). Returns the round, if one ran.
pub fn after_step(trainer: &mut Trainer, step: u64) -> anyhow::Result<Option<SwapRound>> {
    let Some(b) = Bimt::from_family(&trainer.network().config().family) else {
        return Ok(None);
    };
    if !b.swap_due(step) {
        return Ok(None);
    }
    let k = b.top_k(trainer.network().n_hidden());
    let (net, adam) = trainer.parts_mut();
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
