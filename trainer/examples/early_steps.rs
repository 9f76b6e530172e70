//! The first gradient steps of a run, one line each: loss, gradient norm before clipping, the
//! spectral radius of W after the update, and the largest |h| of a noise-free forward pass on the
//! step's batch. The same batches, noise and initialisation as `gyrus train` with the same config.
//! What the README's "Early loss spikes" paragraph was measured with:
//!
//! ```sh
//! cargo run --release --example early_steps -- run.toml 40
//! ```
//!
//! `run.toml` is a `gyrus train --config` file; 40 is the number of steps shown.

use anyhow::Context;
use gyrus_runtime::tasks::{self, fill_batch};
use gyrus_trainer::model::Network;
use gyrus_trainer::train::config::RunConfig;
use gyrus_trainer::train::run::{batch_streams, noise_rng};
use gyrus_trainer::train::Engine;
use gyrus_trainer::train::{forward, Trainer};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).context("usage: early_steps RUN.toml [STEPS]")?;
    let steps: u64 = args.get(2).map_or(Ok(40), |s| s.parse())?;
    let cfg = RunConfig::load(std::path::Path::new(path))?;
    cfg.validate()?;
    let task_list = cfg.task_list()?;
    let net = Network::new(&cfg.net_config()?, cfg.seed)?;
    let (t, b) = (cfg.seq_len(), cfg.batch);
    let n = net.n_hidden();
    let mut trainer = Trainer::new(net, t, b)?;
    trainer.max_grad_norm = cfg.clip;
    trainer.adam_mut().lr = cfg.lr;
    let mut streams = batch_streams(&cfg);
    let mut noise = noise_rng(&cfg);
    let n_in = tasks::n_inputs(task_list.len());
    let (mut inputs, mut targets) = (vec![0.0f32; t * b * n_in], vec![0u8; t * b]);
    let (mut hidden, mut outputs) = (
        vec![0.0f32; t * b * n],
        vec![0.0f32; t * b * tasks::N_CLASSES],
    );
    // Growth rate of W (|largest eigenvalue|, by power iteration: the mean log growth of
    // |W^k x| over k = 101..300 from a fixed positive vector) and of the input-free relu dynamics
    // x <- relu(W x) (the gain of the self-exciting part of W that relu leaves active).
    let radius = |net: &Network, relu: bool| -> anyhow::Result<f64> {
        let w = net.w_rec_dense();
        let mut x: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64 * 0.1).collect();
        let mut log_growth = 0.0;
        for k in 0..300 {
            let y: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|j| f64::from(w[i * n + j]) * x[j]).sum::<f64>())
                .map(|v| if relu { v.max(0.0) } else { v })
                .collect();
            let norm = y.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
            if k >= 100 {
                log_growth += norm.ln();
            }
            x = y.into_iter().map(|v| v / norm).collect();
        }
        Ok((log_growth / 200.0).exp())
    };
    println!("step  loss  grad_norm  rho(W)  relu_gain(W)  max|h|");
    let net = trainer.network();
    println!(
        "0  -  -  {:.4}  {:.4}  -",
        radius(net, false)?,
        radius(net, true)?
    );
    for step in 1..=steps {
        fill_batch(
            &mut streams,
            &task_list.list(),
            &cfg.generator(),
            &mut inputs,
            &mut targets,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let s = trainer.train_step(&inputs, &targets, &mut noise)?;
        forward(
            trainer.network(),
            &inputs,
            t,
            b,
            Some(&mut hidden),
            &mut outputs,
        )?;
        let hmax = hidden.iter().fold(0.0f32, |a, &h| a.max(h.abs()));
        println!(
            "{step}  {:.4e}  {:.4e}  {:.4}  {:.4}  {:.3e}",
            s.loss,
            s.grad_norm,
            radius(trainer.network(), false)?,
            radius(trainer.network(), true)?,
            hmax
        );
        if !s.updated {
            break;
        }
    }
    Ok(())
}
