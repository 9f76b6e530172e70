//! `gyrus bench device`: milliseconds per gradient step on an accelerator next to the hand-written
//! CPU step of the same network and batch, measured in the same run, at the sizes of the papers'
//! GPU experiments: Mod-Cog batches (B = 64, T = 350), N = 625 local d = 2, N = 2500 dense and
//! N = 2500 local d = 6, tanh.
//!
//! Before timing, [`check_device`] holds the device to the CPU trainer: every family (BIMT
//! included) and activation on an 8 x 8 sheet, the same initial weights, batch and noise (the
//! CPU's draws, copied over): loss within 1e-4 relative, every gradient tensor within 1e-3. A
//! device that fails this is not timed. This is how a GPU build is checked on a machine that has
//! only the binary.

use super::{DeviceSpec, DeviceTrainer, NoiseSource};
use crate::model::{Activation, Family, NetConfig, Network, Sheet};
use crate::train::bench::first_batch;
use crate::train::Engine;
use crate::train::Trainer;
use gyrus_runtime::tasks::{self, Collection, Rng};
use std::io::Write;
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug)]
pub struct DeviceBenchOptions {
    /// The device whose step is timed (not [`DeviceSpec::Cpu`]).
    pub device: DeviceSpec,
    /// Timed device steps per configuration (after one warm-up step).
    pub steps: usize,
    /// Timed CPU steps per configuration (0: do not time the CPU).
    pub cpu_steps: usize,
    /// Window length T (350 for Mod-Cog).
    pub seq_len: usize,
    /// Only the configurations whose name contains this (e.g. "N=625").
    pub only: Option<String>,
}

/// One measured configuration (mean wall-clock ms per full step: forward, backward, clip, Adam).
#[derive(Clone, Debug)]
pub struct DeviceBenchRow {
    /// e.g. "local d=2 N=625".
    pub name: String,
    /// Device step.
    pub device_ms: f64,
    /// Hand-written CPU step, if timed.
    pub cpu_ms: Option<f64>,
}

/// What [`check_device`] measured: the worst relative errors over all cases.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeviceCheck {
    /// Cases compared (family x activation).
    pub cases: usize,
    /// Worst |loss_dev - loss_cpu| / |loss_cpu| (penalty included).
    pub loss: f64,
    /// Worst ||g_dev - g_cpu|| / ||g_cpu|| over the gradient tensors.
    pub grad: f64,
}

fn families() -> Vec<Family> {
    let local = |d: f64| Family::Local { d, torus: false };
    vec![
        Family::Dense,
        local(2.0),
        Family::Autapse,
        Family::FrozenAutapse,
        Family::Random {
            d: 2.0,
            torus: false,
            seed: None,
        },
        Family::SmallWorld {
            r: 1.0,
            d: 2.0,
            torus: false,
            seed: None,
        },
        Family::L1 { lambda: 1e-4 },
        Family::Bimt {
            lambda: 1e-4,
            a: 1.0,
            swap_every: 200,
            top_k: None,
            warmup: 0,
        },
    ]
}

fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    let d: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let n: f64 = b.iter().map(|&y| f64::from(y).powi(2)).sum();
    if n == 0.0 {
        d.sqrt()
    } else {
        (d / n).sqrt()
    }
}

/// Compares one gradient computation on `dev` with the hand-written CPU trainer for every family
/// and activation (8 x 8 sheet, modcog batch, T = 50, B = 16, recurrent noise on, the same draws
/// on both sides). Fails when the loss differs by more than 1e-4 or a gradient tensor by more than
/// 1e-3 (relative).
pub fn check_device(dev: &candle_core::Device) -> anyhow::Result<DeviceCheck> {
    let (t, b) = (50usize, 16usize);
    let (inputs, targets, n_in) = first_batch(Collection::ModCog, 3, t, b)?;
    let mut out = DeviceCheck::default();
    for family in families() {
        for act in [Activation::Tanh, Activation::Relu, Activation::Softplus] {
            let mut cfg = NetConfig::new(Sheet::new(8, 8), n_in, tasks::N_CLASSES);
            cfg.family = family.clone();
            cfg.activation = act;
            cfg.alpha = 0.5;
            let mut cpu = Trainer::new(Network::new(&cfg, 5)?, t, b)?;
            let mut on_dev = DeviceTrainer::new(dev.clone(), &cpu)?;
            on_dev.noise = NoiseSource::Host;
            let (l, p) = cpu.compute_gradients(&inputs, &targets, &mut Rng::new(1))?;
            let (dl, dp) = on_dev.compute_gradients(&inputs, &targets, &mut Rng::new(1))?;
            let (total, dtotal) = (f64::from(l) + f64::from(p), f64::from(dl) + f64::from(dp));
            let what = format!("{} {}", family.name(), act.name());
            let le = (dtotal - total).abs() / total.abs().max(1e-30);
            if le.is_nan() || le > 1e-4 {
                anyhow::bail!(
                    "device check failed: {what}: loss {dtotal} on the device, {total} on the CPU"
                );
            }
            out.loss = out.loss.max(le);
            let g = on_dev.gradients()?;
            for (name, _, r) in cpu.network().tensor_specs() {
                let e = rel_err(&g[r.clone()], &cpu.gradients()[r]);
                if e.is_nan() || e > 1e-3 {
                    anyhow::bail!("device check failed: {what}: gradient of {name} differs by {e:e} (relative)");
                }
                out.grad = out.grad.max(e);
            }
            out.cases += 1;
        }
    }
    Ok(out)
}

fn mean_ms(steps: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    f()?; // warm-up (kernel compilation, allocator)
    let t0 = Instant::now();
    for _ in 0..steps {
        f()?;
    }
    Ok(t0.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64)
}

/// Runs the benchmark, printing a table to `out`. The CPU side uses the threads rayon is given
/// (`RAYON_NUM_THREADS`, default all cores), as `gyrus train` does.
pub fn bench_device(
    opts: &DeviceBenchOptions,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<DeviceBenchRow>> {
    let Some(dev) = opts.device.open()? else {
        anyhow::bail!(
            "gyrus bench device: name an accelerator with --device (cuda, cuda:N or candle-cpu)"
        );
    };
    let check = check_device(&dev)?;
    writeln!(
        out,
        "device check against the CPU trainer ({} families x activations, same weights, batch and noise): worst loss error {:.1e}, worst gradient error {:.1e} (limits 1e-4, 1e-3)",
        check.cases, check.loss, check.grad
    )?;
    let (t, b) = (opts.seq_len, 64usize);
    let (inputs, targets, n_in) = first_batch(Collection::ModCog, 1, t, b)?;
    let local = |d: f64| Family::Local { d, torus: false };
    let cases = [
        ("local d=2 N=625", Sheet::new(25, 25), local(2.0)),
        ("dense N=2500", Sheet::new(50, 50), Family::Dense),
        ("local d=6 N=2500", Sheet::new(50, 50), local(6.0)),
    ];
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    writeln!(
        out,
        "gyrus bench device: {} vs CPU (hand-written, RAYON_NUM_THREADS={threads}); modcog (I={n_in}, O={}), T={t}, B={b}, tanh; mean wall-clock ms per step (device {} steps, CPU {} steps, after one warm-up each)",
        opts.device,
        tasks::N_CLASSES,
        opts.steps,
        opts.cpu_steps
    )?;
    writeln!(
        out,
        "{:<18} {:>12} {:>12} {:>10}",
        "config", "device", "cpu", "cpu/device"
    )?;
    let mut rows = Vec::new();
    for (name, sheet, family) in cases {
        if opts
            .only
            .as_ref()
            .is_some_and(|o| !name.contains(o.as_str()))
        {
            continue;
        }
        let mut cfg = NetConfig::new(sheet, n_in, tasks::N_CLASSES);
        cfg.family = family;
        cfg.activation = Activation::Tanh;
        let trainer = Trainer::new(Network::new(&cfg, 1)?, t, b)?;
        let mut on_dev = DeviceTrainer::new(dev.clone(), &trainer)?;
        let mut rng = Rng::new(7);
        let device_ms = mean_ms(opts.steps, || {
            on_dev.train_step(&inputs, &targets, &mut rng).map(|_| ())
        })?;
        let cpu_ms = if opts.cpu_steps > 0 {
            let mut cpu = trainer.clone();
            let mut rng = Rng::new(7);
            Some(mean_ms(opts.cpu_steps, || {
                cpu.train_step(&inputs, &targets, &mut rng).map(|_| ())
            })?)
        } else {
            None
        };
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
        writeln!(
            out,
            "{:<18} {:>12.1} {:>12} {:>10}",
            name,
            device_ms,
            fmt(cpu_ms),
            cpu_ms.map_or("-".to_string(), |c| format!("{:.1}x", c / device_ms))
        )?;
        rows.push(DeviceBenchRow {
            name: name.to_string(),
            device_ms,
            cpu_ms,
        });
    }
    Ok(rows)
}
