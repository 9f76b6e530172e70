//! `gyrus bench`: speed measurements that print a ratio against a baseline measured in the same
//! run.
//!
//! `gyrus bench tasks`: task-generation throughput per collection, and the time to build one
//! training batch (modcog, B = 64, seq_len = 350) next to one dense N = 256 RNN forward pass over the
//! same batch (`h = relu(W h + W_in u + b)`, `o = W_out h`, with `gemm`: the input projection as one
//! GEMM, one [B, N] x [N, N] GEMM per step, the readout as one GEMM).
//!
//! `gyrus bench train`: ms per gradient step of the hand-written BPTT against candle autograd and
//! the dense-times-mask step, measured in the same run (see [`crate::train::bench`]).
//!
//! `gyrus bench device --device cuda`: ms per gradient step on the GPU next to the hand-written
//! CPU step at the papers' GPU sizes (see [`crate::train::device::bench`]).

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use gyrus_runtime::tasks::{
    self, eval_trial, fill_batch, Collection, Config, Rng, Stream, TaskList,
};
use std::time::{Duration, Instant};

/// `gyrus bench`: arguments.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub target: BenchTarget,
}

/// The benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchTarget {
    /// Task generation: trials per second, and batch building against a dense RNN forward pass.
    Tasks(TasksBench),
    /// Training step: ms per gradient step of the hand-written BPTT next to candle autograd and
    /// the dense-times-mask step (cog20, T = 100, B = 64).
    Train(TrainBench),
    /// Training step on an accelerator (`--device cuda`) next to the hand-written CPU step
    /// (modcog, T = 350, B = 64; N = 625 local d = 2, N = 2500 dense, N = 2500 local d = 6).
    Device(DeviceBench),
}

/// `gyrus bench device`.
#[derive(Args, Debug)]
pub struct DeviceBench {
    /// The accelerator: cuda, cuda:N, or candle-cpu.
    #[arg(long, default_value = "cuda")]
    pub device: crate::train::device::DeviceSpec,
    /// Timed device steps per configuration (after one warm-up step).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Timed CPU steps per configuration (0 = skip the CPU).
    #[arg(long, default_value_t = 2)]
    pub cpu_steps: usize,
    /// Window length T.
    #[arg(long, default_value_t = 350)]
    pub seq_len: usize,
    /// Only the configurations whose name contains this text (e.g. "N=2500").
    #[arg(long)]
    pub only: Option<String>,
}

/// `gyrus bench train`.
#[derive(Args, Debug)]
pub struct TrainBench {
    /// Short run: candle is timed only at the two small sizes, fewer repetitions.
    #[arg(long)]
    pub quick: bool,
    /// Do not time candle autograd at all.
    #[arg(long)]
    pub no_candle: bool,
    /// Only the configurations whose name contains this text (e.g. "N=625").
    #[arg(long)]
    pub only: Option<String>,
    /// Instead: the hand-written step at these thread counts (e.g. 1,2), timed in turns, with
    /// the speedups over the first, on cog20 (T = 100) and Mod-Cog (T = 350) batches.
    #[arg(long, value_name = "N,N,...", value_delimiter = ',')]
    pub threads: Option<Vec<usize>>,
}

/// `gyrus bench tasks`.
#[derive(Args, Debug)]
pub struct TasksBench {
    /// Short run (a smoke test: a few repetitions, numbers are rough).
    #[arg(long)]
    pub quick: bool,
    /// Threads for the GEMMs of the forward pass (batch generation is single-threaded).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Streams per batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Steps per batch window.
    #[arg(long, default_value_t = 350)]
    pub seq_len: usize,
    /// Hidden units of the baseline RNN.
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
}

/// Runs `gyrus bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    match args.target {
        BenchTarget::Tasks(a) => bench_tasks(&a),
        BenchTarget::Device(a) => {
            let opts = crate::train::device::bench::DeviceBenchOptions {
                device: a.device,
                steps: a.steps,
                cpu_steps: a.cpu_steps,
                seq_len: a.seq_len,
                only: a.only,
            };
            crate::train::device::bench::bench_device(&opts, &mut std::io::stdout())?;
            Ok(())
        }
        BenchTarget::Train(a) => {
            let opts = crate::train::bench::BenchOptions {
                quick: a.quick,
                candle: !a.no_candle,
                only: a.only,
                threads: a.threads,
            };
            let mut out = std::io::stdout().lock();
            crate::train::bench::bench_train(&opts, &mut out)?;
            Ok(())
        }
    }
}

/// Throughput of whole evaluation trials (generate + write every step) of one collection.
#[derive(Clone, Copy, Debug)]
pub struct Throughput {
    /// Trials generated.
    pub trials: u64,
    /// Steps written.
    pub steps: u64,
    /// Time taken.
    pub elapsed: Duration,
}

/// Generates whole trials of `collection` round-robin over its tasks for about `budget`.
pub fn trial_throughput(collection: Collection, budget: Duration) -> Result<Throughput> {
    let list = TaskList::Collection(collection);
    let cfg = Config::default();
    let n_in = tasks::n_inputs(list.len());
    let mut inputs = Vec::new();
    let mut targets = Vec::new();
    let (mut trials, mut steps) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < budget || trials == 0 {
        for _ in 0..64 {
            let rule = (trials % list.len() as u64) as usize;
            let (trial, mut rng) =
                eval_trial(&list, rule, 1, trials, &cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
            inputs.resize(trial.len() * n_in, 0.0);
            targets.resize(trial.len(), 0);
            trial
                .write(&mut rng, &mut inputs, &mut targets)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            std::hint::black_box((&inputs, &targets));
            trials += 1;
            steps += trial.len() as u64;
        }
    }
    Ok(Throughput {
        trials,
        steps,
        elapsed: start.elapsed(),
    })
}

/// `dst[m x n] (+)= lhs[m x k] * rhs[n x k]^T`, all row-major and contiguous; accumulates into
/// `dst` when `accumulate`, else overwrites it.
#[allow(clippy::too_many_arguments)]
pub fn matmul_bt(
    dst: &mut [f32],
    lhs: &[f32],
    rhs: &[f32],
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
    threads: usize,
) {
    assert!(dst.len() >= m * n && lhs.len() >= m * k && rhs.len() >= n * k);
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above keep every access of the m x n, m x k and n x k row-major
    // matrices (strides below) inside the three slices; dst does not alias lhs or rhs (&mut).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            k as isize,
            1,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// A dense RNN used as the speed baseline: `h_t = relu(W h_{t-1} + W_in u_t + b)`, `o_t = W_out h_t`.
pub struct DenseRnn {
    n_in: usize,
    n: usize,
    n_out: usize,
    w: Vec<f32>,
    w_in: Vec<f32>,
    b: Vec<f32>,
    w_out: Vec<f32>,
}

impl DenseRnn {
    /// Random weights (seeded; scaled 1/sqrt(fan-in)).
    pub fn new(n_in: usize, n: usize, n_out: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut draw = |len: usize, fan_in: usize| -> Vec<f32> {
            let scale = 1.0 / (fan_in as f32).sqrt();
            (0..len).map(|_| rng.normal() * scale).collect()
        };
        DenseRnn {
            n_in,
            n,
            n_out,
            w: draw(n * n, n),
            w_in: draw(n * n_in, n_in),
            b: vec![0.01; n],
            w_out: draw(n_out * n, n),
        }
    }

    /// Forward pass over time-major `inputs` ([T, B, n_in]) from h = 0: fills `hidden`
    /// ([T, B, N]) and `outputs` ([T, B, n_out]).
    pub fn forward(
        &self,
        inputs: &[f32],
        batch: usize,
        hidden: &mut [f32],
        outputs: &mut [f32],
        threads: usize,
    ) {
        let rows = inputs.len() / self.n_in;
        let seq_len = rows / batch;
        let (n, bn) = (self.n, batch * self.n);
        // Input projection of all steps at once: hidden = U W_in^T.
        matmul_bt(
            hidden, inputs, &self.w_in, rows, n, self.n_in, false, threads,
        );
        for t in 0..seq_len {
            let (done, rest) = hidden.split_at_mut(t * bn);
            let h_t = &mut rest[..bn];
            if t > 0 {
                matmul_bt(
                    h_t,
                    &done[(t - 1) * bn..],
                    &self.w,
                    batch,
                    n,
                    n,
                    true,
                    threads,
                );
            }
            for row in h_t.chunks_exact_mut(n) {
                for (x, b) in row.iter_mut().zip(&self.b) {
                    *x = (*x + b).max(0.0);
                }
            }
        }
        matmul_bt(
            outputs,
            hidden,
            &self.w_out,
            rows,
            self.n_out,
            n,
            false,
            threads,
        );
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn bench_tasks(args: &TasksBench) -> Result<()> {
    if args.batch == 0 || args.seq_len == 0 || args.hidden == 0 || args.threads == 0 {
        bail!("--batch, --seq-len, --hidden and --threads must be positive");
    }
    super::tasks::check_batch_size(
        args.batch,
        args.seq_len,
        tasks::n_inputs(Collection::ModCog.len()),
    )?;
    let (budget, reps) = if args.quick {
        (Duration::from_millis(30), 3)
    } else {
        (Duration::from_millis(700), 15)
    };
    println!(
        "gyrus bench tasks{}: generator single-threaded, GEMMs on {} thread(s)",
        if args.quick {
            " --quick (rough numbers)"
        } else {
            ""
        },
        args.threads
    );
    println!();
    println!("whole trials (generate + write every step), round-robin over the collection's tasks");
    println!(
        "{:<12} {:>12} {:>12} {:>10} {:>12}",
        "collection", "trials/s", "steps/s", "ns/step", "steps/trial"
    );
    for c in Collection::ALL {
        let tp = trial_throughput(c, budget)?;
        let s = tp.elapsed.as_secs_f64();
        println!(
            "{:<12} {:>12.0} {:>12.0} {:>10.1} {:>12.1}",
            c.name(),
            tp.trials as f64 / s,
            tp.steps as f64 / s,
            s * 1e9 / tp.steps as f64,
            tp.steps as f64 / tp.trials as f64
        );
    }

    let (b, t) = (args.batch, args.seq_len);
    let list = TaskList::Collection(Collection::ModCog);
    let cfg = Config::default();
    let n_in = tasks::n_inputs(list.len());
    let mut streams: Vec<Stream> = (0..b as u64).map(|i| Stream::new(7, i)).collect();
    let mut inputs = vec![0.0f32; t * b * n_in];
    let mut targets = vec![0u8; t * b];
    let rnn = DenseRnn::new(n_in, args.hidden, tasks::N_CLASSES, 11);
    let mut hidden = vec![0.0f32; t * b * args.hidden];
    let mut outputs = vec![0.0f32; t * b * tasks::N_CLASSES];
    // Warm-up (page faults, gemm's thread pool and packing buffers), then alternate the two.
    fill_batch(&mut streams, &list, &cfg, &mut inputs, &mut targets)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    rnn.forward(&inputs, b, &mut hidden, &mut outputs, args.threads);
    let (mut gen, mut fwd) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let start = Instant::now();
        fill_batch(&mut streams, &list, &cfg, &mut inputs, &mut targets)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        gen.push(start.elapsed());
        let start = Instant::now();
        rnn.forward(&inputs, b, &mut hidden, &mut outputs, args.threads);
        fwd.push(start.elapsed());
        std::hint::black_box(&outputs);
    }
    let (g, f) = (median(gen.clone()), median(fwd.clone()));
    let flops =
        2.0 * (t * b) as f64 * (args.hidden * (n_in + args.hidden + tasks::N_CLASSES)) as f64;
    println!();
    println!(
        "training batch: modcog, B = {b}, seq_len = {t} ({} steps x {n_in} inputs); median of {reps}",
        b * t
    );
    println!("{:<46} {:>10} {:>10}", "", "median ms", "min ms");
    println!(
        "{:<46} {:>10.3} {:>10.3}",
        "build batch (fill_batch)",
        ms(g),
        ms(*gen.iter().min().unwrap_or(&g))
    );
    println!(
        "{:<46} {:>10.3} {:>10.3}   ({:.1} GFLOP/s)",
        format!("dense RNN forward, N = {} (gemm)", args.hidden),
        ms(f),
        ms(*fwd.iter().min().unwrap_or(&f)),
        flops / f.as_secs_f64() / 1e9
    );
    let ratio = g.as_secs_f64() / f.as_secs_f64();
    println!("{:<46} {:>10.4}", "ratio batch / forward", ratio);
    println!(
        "{:<46} {:>9.2}%   (goal < 5%)",
        "batch / training step (step ~ 3x forward)",
        100.0 * ratio / 3.0
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_bt_matches_a_naive_product() {
        let (m, n, k) = (3, 4, 5);
        let lhs: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5 - 2.0).collect();
        let rhs: Vec<f32> = (0..n * k).map(|i| (i as f32).sin()).collect();
        let mut dst = vec![1.0f32; m * n];
        matmul_bt(&mut dst, &lhs, &rhs, m, n, k, true, 1);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = 1.0 + (0..k).map(|p| lhs[i * k + p] * rhs[j * k + p]).sum::<f32>();
                assert!((dst[i * n + j] - want).abs() < 1e-4, "{i},{j}");
            }
        }
        matmul_bt(&mut dst, &lhs, &rhs, m, n, k, false, 1);
        let want: f32 = (0..k).map(|p| lhs[p] * rhs[p]).sum();
        assert!((dst[0] - want).abs() < 1e-4);
    }

    #[test]
    fn dense_forward_matches_a_naive_recurrence() {
        let (n_in, n, n_out, b, t) = (3, 4, 2, 2, 3);
        let rnn = DenseRnn::new(n_in, n, n_out, 5);
        let inputs: Vec<f32> = (0..t * b * n_in).map(|i| (i as f32 * 0.7).cos()).collect();
        let mut hidden = vec![0.0; t * b * n];
        let mut outputs = vec![0.0; t * b * n_out];
        rnn.forward(&inputs, b, &mut hidden, &mut outputs, 1);
        let mut h = vec![vec![0.0f32; n]; b];
        for step in 0..t {
            for (s, h_s) in h.iter_mut().enumerate() {
                let u = &inputs[(step * b + s) * n_in..][..n_in];
                let new: Vec<f32> = (0..n)
                    .map(|i| {
                        let rec: f32 = (0..n).map(|j| rnn.w[i * n + j] * h_s[j]).sum();
                        let inp: f32 = (0..n_in).map(|j| rnn.w_in[i * n_in + j] * u[j]).sum();
                        (rec + inp + rnn.b[i]).max(0.0)
                    })
                    .collect();
                *h_s = new;
                for (i, &v) in h_s.iter().enumerate() {
                    assert!((hidden[(step * b + s) * n + i] - v).abs() < 1e-4);
                }
                for o in 0..n_out {
                    let want: f32 = (0..n).map(|j| rnn.w_out[o * n + j] * h_s[j]).sum();
                    assert!((outputs[(step * b + s) * n_out + o] - want).abs() < 1e-4);
                }
            }
        }
    }
}
