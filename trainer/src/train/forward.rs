//! Noise-free evaluation forward pass.

use super::workspace::{RecurrentKernel, Streams, Workspace};
use crate::model::Network;

/// Runs `net` without noise on `inputs` ([T, B, I] time-major, h_0 = 0) and writes the logits to
/// `outputs` ([T, B, O]) and, if given, every hidden state h_1..h_T to `hidden` ([T, B, N]).
pub fn forward(
    net: &Network,
    inputs: &[f32],
    t: usize,
    b: usize,
    hidden: Option<&mut [f32]>,
    outputs: &mut [f32],
) -> anyhow::Result<()> {
    let mut ws = Workspace::new(net, t, b)?;
    forward_with(&mut ws, net, inputs, hidden, outputs)
}

/// [`forward`] reusing a workspace (its T and B give the window shape).
pub fn forward_with(
    ws: &mut Workspace,
    net: &Network,
    inputs: &[f32],
    hidden: Option<&mut [f32]>,
    outputs: &mut [f32],
) -> anyhow::Result<()> {
    let streams = Streams::all(ws.batch());
    ws.check(net, inputs, streams)?;
    let cfg = net.config();
    let rows = ws.seq_len() * ws.batch();
    if outputs.len() != rows * cfg.n_outputs {
        anyhow::bail!(
            "outputs have {} values, T*B*O = {} expected",
            outputs.len(),
            rows * cfg.n_outputs
        );
    }
    if let Some(h) = hidden.as_deref() {
        if h.len() != rows * cfg.n_hidden() {
            anyhow::bail!(
                "hidden has {} values, T*B*N = {} expected",
                h.len(),
                rows * cfg.n_hidden()
            );
        }
    }
    ws.forward(net, inputs, streams, RecurrentKernel::Auto, None);
    ws.logits_into(outputs);
    if let Some(h) = hidden {
        ws.hidden_time_major(h);
    }
    Ok(())
}
