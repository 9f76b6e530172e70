//! The accelerator step on candle's CPU backend against the hand-written trainer: same loss,
//! gradients, updates and state round trips. (The same code runs on a GPU with `--features
//! cuda`; CI has no GPU, so these tests are what CI checks of it.)

use super::{DeviceSpec, DeviceTrainer};
use crate::model::{Activation, Family, Structure};
use crate::train::tests::{batch, cog20_batches, config, families, random_net, rel_err, B, T};
use crate::train::Engine;
use crate::train::Trainer;
use candle_core::Device;
use gyrus_runtime::tasks::Rng;

fn bimt() -> Family {
    Family::Bimt {
        lambda: 1e-3,
        a: 2.0,
        swap_every: 0,
        top_k: None,
        warmup: 3,
    }
}

fn rel(a: f32, b: f32) -> f64 {
    (f64::from(a) - f64::from(b)).abs() / f64::from(b).abs().max(1e-30)
}

fn as_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// Same parameters, batch and noise: the losses agree to 1e-4 relative and every gradient tensor
/// to 1e-3 (the tolerances; measured far below) for every family (BIMT included), every
/// activation and two leaks.
#[test]
fn gradients_match_the_cpu_trainer() {
    let mut worst = (0.0f64, 0.0f64);
    let mut all = families();
    all.push(bimt());
    for family in all {
        for act in [Activation::Relu, Activation::Tanh, Activation::Softplus] {
            for alpha in [1.0f32, 0.6] {
                let what = format!("{} {} alpha={alpha}", family.name(), act.name());
                let net = random_net(&config(family.clone(), act, alpha), 3);
                let (x, y) = batch(11);
                let mut cpu = Trainer::new(net, T, B).unwrap();
                let mut dev = DeviceTrainer::new(Device::Cpu, &cpu).unwrap();
                let (loss, pen) = cpu.compute_gradients(&x, &y, &mut Rng::new(5)).unwrap();
                let (dloss, dpen) = dev.compute_gradients(&x, &y, &mut Rng::new(5)).unwrap();
                assert!(rel(dloss, loss) < 1e-4, "{what}: loss {dloss} vs {loss}");
                assert!(
                    rel(dpen, pen) < 1e-4 || pen == dpen,
                    "{what}: penalty {dpen} vs {pen}"
                );
                worst.0 = worst.0.max(rel(dloss, loss));
                let g = dev.gradients().unwrap();
                for (name, _, r) in cpu.network().tensor_specs() {
                    let e = rel_err(&g[r.clone()], &as_f64(&cpu.gradients()[r]));
                    assert!(e < 1e-3, "{what}: {name} gradient relative error {e:e}");
                    worst.1 = worst.1.max(e);
                }
            }
        }
    }
    eprintln!(
        "worst relative error: loss {:e}, gradient {:e}",
        worst.0, worst.1
    );
}

/// Ten full steps (clipping and Adam included) on cog20 batches track the CPU trainer's weights,
/// masked weights stay exactly zero on the device, and the Adam state comes back with the weights.
#[test]
fn training_steps_track_the_cpu_trainer() {
    for family in [
        Family::Local {
            d: 1.0,
            torus: false,
        },
        Family::Dense,
        bimt(),
    ] {
        let mut cfg = config(family.clone(), Activation::Tanh, 0.5);
        cfg.n_inputs = 53;
        cfg.n_outputs = 17;
        let mut cpu = Trainer::new(crate::model::Network::new(&cfg, 2).unwrap(), 10, 4).unwrap();
        let mut dev = DeviceTrainer::new(Device::Cpu, &cpu).unwrap();
        let (mut r1, mut r2) = (Rng::new(9), Rng::new(9));
        for (x, y) in cog20_batches(4, 10, 4, 10) {
            let a = cpu.train_step(&x, &y, &mut r1).unwrap();
            let b = dev.train_step(&x, &y, &mut r2).unwrap();
            assert!(a.updated && b.updated);
            assert!(
                rel(b.loss, a.loss) < 1e-4,
                "{}: loss {} vs {}",
                family.name(),
                b.loss,
                a.loss
            );
            assert!(rel(b.grad_norm, a.grad_norm) < 1e-3);
        }
        let mut back = cpu.clone();
        dev.download(&mut back).unwrap();
        assert_eq!(back.adam().step_count(), 10);
        for (name, _, r) in cpu.network().tensor_specs() {
            let e = rel_err(
                &back.network().params()[r.clone()],
                &as_f64(&cpu.network().params()[r.clone()]),
            );
            assert!(
                e < 1e-4,
                "{}: {name} weights differ by {e:e}",
                family.name()
            );
            let e = rel_err(&back.adam().m()[r.clone()], &as_f64(&cpu.adam().m()[r]));
            assert!(
                e < 1e-3,
                "{}: {name} Adam moment differs by {e:e}",
                family.name()
            );
        }
        if let Structure::Sparse(m) = cpu.network().structure() {
            let dense = dev.recurrent_dense().unwrap();
            let n = cfg.n_hidden();
            let mut allowed = vec![false; n * n];
            for i in 0..n {
                for &j in m.row(i) {
                    allowed[i * n + j as usize] = true;
                }
            }
            assert!(dense.iter().zip(&allowed).all(|(&w, &ok)| ok || w == 0.0));
            assert!(dense.iter().any(|&w| w != 0.0 && w != 0.5));
        }
    }
}

/// Download then upload into a new device trainer gives back the same state, bit for bit.
#[test]
fn state_round_trips_through_the_host() {
    let cfg = config(
        Family::Random {
            d: 1.0,
            torus: false,
            seed: None,
        },
        Activation::Relu,
        1.0,
    );
    let mut cpu = Trainer::new(random_net(&cfg, 8), T, B).unwrap();
    let mut dev = DeviceTrainer::new(Device::Cpu, &cpu).unwrap();
    let (x, y) = batch(2);
    for _ in 0..3 {
        dev.train_step(&x, &y, &mut Rng::new(1)).unwrap();
    }
    dev.download(&mut cpu).unwrap();
    let again = DeviceTrainer::new(Device::Cpu, &cpu).unwrap();
    let mut other = cpu.clone();
    again.download(&mut other).unwrap();
    assert_eq!(other.network().params(), cpu.network().params());
    assert_eq!(other.adam(), cpu.adam());
    assert_eq!(other.adam().step_count(), 3);
}

/// A non-finite loss is reported with no update, and bad batches are refused.
#[test]
fn bad_steps_change_nothing() {
    let cfg = config(Family::Dense, Activation::Tanh, 1.0);
    let cpu = Trainer::new(random_net(&cfg, 1), T, B).unwrap();
    let mut dev = DeviceTrainer::new(Device::Cpu, &cpu).unwrap();
    let (mut x, y) = batch(3);
    x[0] = f32::NAN;
    let s = dev.train_step(&x, &y, &mut Rng::new(1)).unwrap();
    assert!(!s.updated && !s.loss.is_finite());
    let mut back = cpu.clone();
    dev.download(&mut back).unwrap();
    assert_eq!(back.network().params(), cpu.network().params());
    assert_eq!(back.adam().step_count(), 0);
    assert!(dev.train_step(&x[1..], &y, &mut Rng::new(1)).is_err());
    let mut bad = y.clone();
    bad[0] = 200;
    assert!(dev.train_step(&x, &bad, &mut Rng::new(1)).is_err());
}

#[test]
fn device_names_parse_and_explain_themselves() {
    assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
    assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
    assert_eq!("cuda:3".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(3));
    assert_eq!(
        "candle-cpu".parse::<DeviceSpec>().unwrap(),
        DeviceSpec::CandleCpu
    );
    for s in ["cpu", "cuda:3", "candle-cpu"] {
        assert_eq!(s.parse::<DeviceSpec>().unwrap().to_string(), s);
    }
    let e = "cuda:x".parse::<DeviceSpec>().unwrap_err().to_string();
    assert!(e.contains("GPU number"), "{e}");
    let e = "tpu".parse::<DeviceSpec>().unwrap_err().to_string();
    assert!(e.contains("cpu, cuda, cuda:N or candle-cpu"), "{e}");
    assert!(DeviceSpec::Cpu.open().unwrap().is_none());
    assert!(DeviceSpec::CandleCpu.open().unwrap().is_some());
    #[cfg(not(feature = "cuda"))]
    {
        let e = DeviceSpec::Cuda(0).open().unwrap_err().to_string();
        assert!(
            e.contains("built without GPU support") && e.contains("--features cuda"),
            "{e}"
        );
    }
    #[cfg(feature = "cuda")]
    if let Err(e) = DeviceSpec::Cuda(0).open() {
        // No GPU here (or only the link stub): the error says so and what to check.
        let e = e.to_string();
        assert!(
            e.contains("no usable CUDA GPU number 0") && e.contains("nvidia-smi"),
            "{e}"
        );
    }
}
