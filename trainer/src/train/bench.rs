//! `gyrus bench train`: milliseconds per gradient step of the hand-written BPTT, next to candle
//! autograd (forward + backward, no optimiser) and, for masked families, the dense-times-mask
//! step, all measured in the same run on cog20 batches (53 inputs, 17 outputs), T = 100, B = 64.

use super::aligned::AlignedVec;
use super::inputs::SparseInputs;
use super::kernels::skinny::{nn, Init, Mat};
use super::kernels::transpose::transpose;
use super::noise::{add_noise, noise_seed};
use super::oracle::oracle_gradients;
use super::trainer::{Trainer, DEFAULT_CHUNK, PARALLEL_CHUNK};
use super::workspace::RecurrentKernel;
use crate::model::{Activation, Family, NetConfig, Network, Sheet};
use crate::train::Engine;
use gyrus_runtime::tasks::{self, Collection, Config, Rng, Stream, TaskList};
use std::io::Write;
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Quick mode: fewer repetitions, and candle only at the two small sizes.
    pub quick: bool,
    /// Also time candle autograd (slow at large N).
    pub candle: bool,
    /// Only the configurations whose name contains this (e.g. "N=625").
    pub only: Option<String>,
    /// Thread counts to time the hand-written step with, in turns ([`bench_threads`]), instead of
    /// the comparison with candle and dense-times-mask.
    pub threads: Option<Vec<usize>>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            quick: true,
            candle: true,
            only: None,
            threads: None,
        }
    }
}

/// One measured configuration (times are medians over the repetitions, in ms per step).
#[derive(Clone, Debug)]
pub struct BenchRow {
    /// Description, e.g. "local d=2 N=625".
    pub name: String,
    /// Nonlinearity.
    pub activation: Activation,
    /// Hand-written step (forward, backward, clip, Adam).
    pub hand_ms: f64,
    /// Hand-written dense-times-mask step (masked families only).
    pub masked_ms: Option<f64>,
    /// Dense-times-mask over hand-written: the median of the ratios of samples taken in turns
    /// (masked families only).
    pub masked_ratio: Option<f64>,
    /// candle autograd forward + backward.
    pub candle_ms: Option<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU time of the calling thread in ns (Linux: `CLOCK_THREAD_CPUTIME_ID`), if available.
fn thread_cpu_ns() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime only writes the timespec it is given, which lives on this stack.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
        }
    }
    None
}

/// Shortest span one sample measures, in ms: the thread CPU clock may advance in scheduler ticks
/// (4 ms on some kernels), so a sample repeats the call until this much wall time has passed.
const SAMPLE_MS: f64 = 250.0;

/// Milliseconds per call over one sample of at least [`SAMPLE_MS`]: with `cpu`, the calling
/// thread's CPU time (robust to other processes on a shared machine; every timed computation here
/// runs on this thread), else wall-clock time.
fn sample_ms(cpu: bool, f: &mut impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let c0 = thread_cpu_ns();
    let t0 = Instant::now();
    let mut calls = 0u32;
    while calls == 0 || t0.elapsed().as_secs_f64() * 1e3 < SAMPLE_MS {
        f()?;
        calls += 1;
    }
    let wall = t0.elapsed().as_secs_f64() * 1e3;
    let total = match (cpu, c0, thread_cpu_ns()) {
        (true, Some(a), Some(b)) => (b - a) as f64 * 1e-6,
        _ => wall,
    };
    Ok(total / f64::from(calls))
}

/// Median milliseconds per call after one warm-up call, over `reps` samples ([`sample_ms`]).
fn time_ms(
    reps: usize,
    cpu: bool,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    f()?; // warm-up
    let times = (0..reps)
        .map(|_| sample_ms(cpu, &mut f))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(median(times))
}

/// Two computations timed in turns (a sample of `a`, then one of `b`, `reps` times, after a
/// warm-up call of each), so that a machine whose speed drifts during the run (frequency, other
/// tenants) slows both alike: the median ms per call of each and the median of the per-turn
/// ratios b / a.
fn time_in_turns(
    reps: usize,
    cpu: bool,
    mut a: impl FnMut() -> anyhow::Result<()>,
    mut b: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<(f64, f64, f64)> {
    a()?;
    b()?;
    let (mut ta, mut tb, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let x = sample_ms(cpu, &mut a)?;
        let y = sample_ms(cpu, &mut b)?;
        ta.push(x);
        tb.push(y);
        ratio.push(y / x);
    }
    Ok((median(ta), median(tb), median(ratio)))
}

/// The first training batch ([T, B, I] inputs, [T, B] targets) of `b` streams seeded `seed` over
/// the whole of `collection`, with the default generator; also returns I. What the benchmarks
/// time their steps on.
pub(crate) fn first_batch(
    collection: Collection,
    seed: u64,
    t: usize,
    b: usize,
) -> anyhow::Result<(Vec<f32>, Vec<u8>, usize)> {
    let list = TaskList::Collection(collection);
    let n_in = tasks::n_inputs(list.len());
    let mut streams: Vec<Stream> = (0..b as u64).map(|i| Stream::new(seed, i)).collect();
    let mut inputs = vec![0.0f32; t * b * n_in];
    let mut targets = vec![0u8; t * b];
    tasks::fill_batch(
        &mut streams,
        &list,
        &Config::default(),
        &mut inputs,
        &mut targets,
    )?;
    Ok((inputs, targets, n_in))
}

/// Runs the benchmark, printing a table to `out`, and returns the rows. Sets
/// `RAYON_NUM_THREADS=1` unless it is set (without it candle re-reads /proc/cpuinfo in every
/// matmul, see shared/notes/cpu-training.md). Everything runs inside a rayon pool of that many
/// threads (the hand-written step runs its chunks of streams on it). With one thread every side
/// runs on the timing thread and is timed by that thread's CPU time where Linux provides it; with
/// more, and off Linux, by wall time.
pub fn bench_train(opts: &BenchOptions, out: &mut dyn Write) -> anyhow::Result<Vec<BenchRow>> {
    if let Some(counts) = &opts.threads {
        bench_threads(opts, counts, out)?;
        return Ok(Vec::new());
    }
    let threads = match std::env::var("RAYON_NUM_THREADS") {
        Ok(v) => v.parse::<usize>().ok().filter(|&k| k > 0).ok_or_else(|| {
            anyhow::anyhow!("RAYON_NUM_THREADS must be a positive integer, got {v:?}")
        })?,
        Err(_) => {
            std::env::set_var("RAYON_NUM_THREADS", "1");
            1
        }
    };
    // With one thread, all work runs on the pool's thread, which also times it.
    let cpu = threads == 1 && thread_cpu_ns().is_some();
    let pool = super::threads::pool(threads)?;
    let (t, b) = (100usize, 64usize);
    let (inputs, targets, n_in) = first_batch(Collection::Cog20, 1, t, b)?;
    // (name, sheet, family, repetitions, candle repetitions, large).
    let local = |d: f64| Family::Local { d, torus: false };
    let cases: Vec<(&str, Sheet, Family, usize, usize, bool)> = vec![
        (
            "dense N=256",
            Sheet::new(16, 16),
            Family::Dense,
            5,
            2,
            false,
        ),
        (
            "local d=2 N=625",
            Sheet::new(25, 25),
            local(2.0),
            5,
            1,
            false,
        ),
        (
            "dense N=1024",
            Sheet::new(32, 32),
            Family::Dense,
            3,
            1,
            true,
        ),
        (
            "local d=6 N=2500",
            Sheet::new(50, 50),
            local(6.0),
            2,
            1,
            true,
        ),
    ];
    writeln!(out, "gyrus bench train: T={t} B={b} cog20 (I={n_in}, O={}), RAYON_NUM_THREADS={threads} (hand-written: the default chunk of {DEFAULT_CHUNK} streams), ms/step, median of {}; hand and dense-mask timed in turns, mask/hand = median of the per-turn ratios", tasks::N_CLASSES, if cpu { "thread CPU time" } else { "wall time" })?;
    writeln!(
        out,
        "{:<18} {:<8} {:>10} {:>12} {:>10} {:>12} {:>12}",
        "config", "act", "hand", "dense-mask", "candle", "mask/hand", "candle/hand"
    )?;
    let mut rows = Vec::new();
    for (name, sheet, family, reps, candle_reps, large) in cases {
        if let Some(only) = &opts.only {
            if !name.contains(only.as_str()) {
                continue;
            }
        }
        for act in [Activation::Tanh, Activation::Relu] {
            let reps = if opts.quick {
                reps.min(if large { 1 } else { 3 })
            } else {
                reps
            };
            let mut cfg = NetConfig::new(sheet, n_in, tasks::N_CLASSES);
            cfg.family = family.clone();
            cfg.activation = act;
            let net = Network::new(&cfg, 1)?;
            let masked = matches!(family, Family::Local { .. });
            let mut tr = Trainer::new(net.clone(), t, b)?;
            let mut rng = Rng::new(7);
            let hand = || tr.train_step(&inputs, &targets, &mut rng).map(|_| ());
            let (hand_ms, masked_ms, masked_ratio) = if masked {
                // Timed in turns with the hand-written step, for a ratio robust to drift.
                let mut tr_m = Trainer::new(net.clone(), t, b)?;
                tr_m.set_kernel(RecurrentKernel::DenseMasked);
                let mut rng_m = Rng::new(7);
                let (h, m, r) = pool.install(|| {
                    time_in_turns(reps, cpu, hand, || {
                        tr_m.train_step(&inputs, &targets, &mut rng_m).map(|_| ())
                    })
                })?;
                (h, Some(m), Some(r))
            } else {
                (pool.install(|| time_ms(reps, cpu, hand))?, None, None)
            };
            let candle_ms = if opts.candle && !(opts.quick && large) {
                let sigma = cfg.noise_sigma();
                let mut rng = Rng::new(7);
                let mut noise = vec![0.0f32; sheet.n_units() * t * b];
                Some(pool.install(|| {
                    time_ms(candle_reps, cpu, || {
                        // Same work as the hand-written step: draw the noise, forward, backward.
                        noise.fill(0.0);
                        add_noise(noise_seed(&mut rng), sigma, &mut noise);
                        oracle_gradients(
                            &net,
                            &inputs,
                            &targets,
                            t,
                            b,
                            Some(&noise),
                            candle_core::DType::F32,
                        )?;
                        Ok(())
                    })
                })?)
            } else {
                None
            };
            let fmt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
            let ratio =
                |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{:.2}x", x / hand_ms));
            writeln!(
                out,
                "{:<18} {:<8} {:>10.1} {:>12} {:>10} {:>12} {:>12}",
                name,
                act.name(),
                hand_ms,
                fmt(masked_ms),
                fmt(candle_ms),
                masked_ratio.map_or("-".to_string(), |r| format!("{r:.2}x")),
                ratio(candle_ms)
            )?;
            rows.push(BenchRow {
                name: name.to_string(),
                activation: act,
                hand_ms,
                masked_ms,
                masked_ratio,
                candle_ms,
            });
        }
    }
    if opts.only.as_deref().is_none_or(|o| INPUTS_NAME.contains(o)) {
        bench_inputs(if opts.quick { 3 } else { 5 }, cpu, out)?;
    }
    Ok(rows)
}

/// What `--only` matches for [`bench_inputs`].
const INPUTS_NAME: &str = "input products N=625";

/// The input products of one window at N = 625 (W_in x_t + b_h and dW_in += dA_t x_t for each of
/// T = 100 steps, B = 64), as the trainer runs them, over the nonzero inputs (`inputs.rs`,
/// including building the lists), against the same products as dense skinny GEMMs (`skinny.rs`),
/// timed in turns, on the first cog20 and Mod-Cog batches.
fn bench_inputs(reps: usize, cpu: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let (t, b, n) = (100usize, 64usize, 625usize);
    let tb = t * b;
    writeln!(
        out,
        "{INPUTS_NAME}: ms per window (T={t} B={b}) of the input projection and dW_in, over the nonzero inputs vs dense"
    )?;
    for collection in [Collection::Cog20, Collection::ModCog] {
        let (inputs, _, ni) = first_batch(collection, 1, t, b)?;
        let density = inputs.iter().filter(|&&v| v != 0.0).count() as f64 / inputs.len() as f64;
        let w_in: Vec<f32> = (0..n * ni).map(|i| (i as f32 * 0.37).sin() * 0.1).collect();
        let bias = vec![0.01f32; n];
        let da: Vec<f32> = (0..n * b).map(|i| (i as f32 * 0.11).cos()).collect();
        // Over the nonzero inputs, as `Workspace` runs them.
        let mut sp = SparseInputs::default();
        let (mut a, mut w_in_t) = (AlignedVec::zeros(n * b), vec![0.0f32; ni * n]);
        let (mut dw_t, mut dw) = (vec![0.0f32; ni * n], vec![0.0f32; n * ni]);
        let sparse = || {
            sp.rebuild(&inputs, t, b, ni);
            transpose(&w_in, 0, n, ni, ni, &mut w_in_t, n);
            for s in 0..t {
                sp.project(s, &w_in_t, &bias, n, &mut a);
            }
            dw_t.fill(0.0);
            for s in 0..t {
                sp.add_weight_grad(s, &da, 0, b, n, &mut dw_t);
            }
            transpose(&dw_t, 0, ni, n, n, &mut dw, ni);
            Ok(())
        };
        // Dense: X^T with rows an odd number of cache lines apart, one skinny product per step.
        let ld_x = (tb.div_ceil(16) | 1) * 16;
        let (mut xt, mut a2) = (vec![0.0f32; ni * ld_x], AlignedVec::zeros(n * b));
        let mut dw2 = vec![0.0f32; n * ni];
        let dense = || {
            transpose(&inputs, 0, tb, ni, ni, &mut xt, ld_x);
            for s in 0..t {
                let x_s = Mat::new(s * b, ni, b, ld_x);
                let w = Mat::new(0, n, ni, ni);
                nn(
                    &mut a2,
                    Mat::new(0, n, b, b),
                    &w_in,
                    w,
                    &xt,
                    x_s,
                    Init::Bias(&bias),
                );
            }
            dw2.fill(0.0);
            for s in 0..t {
                let x_s = Mat::new(s * b * ni, b, ni, ni);
                let da_m = Mat::new(0, n, b, b);
                nn(
                    &mut dw2,
                    Mat::new(0, n, ni, ni),
                    &da,
                    da_m,
                    &inputs,
                    x_s,
                    Init::Add,
                );
            }
            Ok(())
        };
        let (sparse_ms, dense_ms, ratio) = time_in_turns(reps, cpu, sparse, dense)?;
        writeln!(
            out,
            "  {:<8} I={ni:<4} {:>5.1}% nonzero   sparse {sparse_ms:>6.2}   dense {dense_ms:>6.2}   dense/sparse {ratio:.2}x",
            collection.name(),
            100.0 * density
        )?;
    }
    Ok(())
}

/// One configuration of [`bench_threads`] (ms per step, medians over the turns).
#[derive(Clone, Debug)]
pub struct ThreadRow {
    /// Description, e.g. "dense N=256 cog20 T=100".
    pub name: String,
    /// The whole batch as one chunk (the default) at each thread count, its masked steps split
    /// by units over the threads: wall ms and the busiest thread's CPU ms.
    pub whole: Vec<(f64, Option<f64>)>,
    /// Chunks of [`PARALLEL_CHUNK`] streams at each thread count: wall ms and the busiest thread's
    /// CPU ms.
    pub chunked: Vec<(f64, Option<f64>)>,
    /// One thread, chunked over whole-batch CPU time, the median of the per-turn ratios.
    pub chunked_over_whole: Option<f64>,
    /// Speedup of each further thread count over the first, medians of the per-turn ratios: of
    /// wall time, and of the critical path (the busiest thread's CPU time).
    pub speedup: Vec<(f64, Option<f64>)>,
    /// The same for the whole batch as one chunk.
    pub speedup_whole: Vec<(f64, Option<f64>)>,
}

/// One sample of `f` run on `pool` (repeated for at least [`SAMPLE_MS`] of wall time): wall ms per
/// call, and the CPU ms per call of the pool's busiest thread (where Linux gives per-thread CPU
/// time). With one fork-join per step, the busiest thread's CPU time is the step's critical path:
/// what the wall time would be with a core to each thread, whatever else the machine runs.
fn sample_pool(
    pool: &rayon::ThreadPool,
    f: &mut (impl FnMut() -> anyhow::Result<()> + Send),
) -> anyhow::Result<(f64, Option<f64>)> {
    let before = pool.broadcast(|_| thread_cpu_ns());
    let (wall, calls) = pool.install(|| -> anyhow::Result<(f64, u32)> {
        let t0 = Instant::now();
        let mut calls = 0u32;
        while calls == 0 || t0.elapsed().as_secs_f64() * 1e3 < SAMPLE_MS {
            f()?;
            calls += 1;
        }
        Ok((t0.elapsed().as_secs_f64() * 1e3, calls))
    })?;
    let after = pool.broadcast(|_| thread_cpu_ns());
    let busiest = before
        .iter()
        .zip(&after)
        .map(|(a, b)| Some(b.as_ref()? - a.as_ref()?))
        .collect::<Option<Vec<u64>>>()
        .and_then(|v| v.into_iter().max())
        .map(|ns| ns as f64 * 1e-6 / f64::from(calls));
    Ok((wall / f64::from(calls), busiest))
}

/// The load average over the last minute (Linux), for the record.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// `gyrus bench train --threads 1,2,...`: ms per training step (forward, backward, clip, Adam) of
/// the hand-written trainer on rayon pools of each thread count, with the whole batch as one
/// chunk (the default: the threads split the masked steps by units) and in chunks of
/// [`PARALLEL_CHUNK`] streams; all timed in turns (one sample of each, then again), B = 64, tanh, on the first cog20 (T = 100)
/// and Mod-Cog (T = 350) batches. Each sample gives wall time and the busiest pool thread's CPU
/// time (the critical path, robust to other work on the machine); ratios are medians of the
/// per-turn ratios.
pub fn bench_threads(
    opts: &BenchOptions,
    counts: &[usize],
    out: &mut dyn Write,
) -> anyhow::Result<Vec<ThreadRow>> {
    if counts.is_empty() || counts.contains(&0) {
        anyhow::bail!("--threads takes positive thread counts, e.g. 1,2");
    }
    let pools = counts
        .iter()
        .map(|&k| super::threads::pool(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let b = 64usize;
    let reps = if opts.quick { 3 } else { 5 };
    writeln!(
        out,
        "gyrus bench train --threads: B={b}, tanh, ms/step, median of {reps} turns; \
         whole = the batch as one chunk (masked steps split by units), chunks = chunks of {PARALLEL_CHUNK}; \
         wall = wall time, cpu = the busiest thread's CPU time; ratios = medians of per-turn ratios; \
         load average {} ({} cores)",
        load_average(),
        super::threads::cores()
    )?;
    let mut head = format!("{:<26}", "config");
    for k in counts {
        head += &format!(" {:>15}", format!("whole {k}T"));
    }
    for k in counts {
        head += &format!(" {:>15}", format!("chunks {k}T"));
    }
    head += &format!(" {:>13}", "chunks/whole");
    for k in &counts[1..] {
        head += &format!(" {:>15}", format!("whole {k}T/{}T", counts[0]));
    }
    for k in &counts[1..] {
        head += &format!(" {:>15}", format!("chunks {k}T/{}T", counts[0]));
    }
    writeln!(out, "{head}")?;
    let local = |d: f64| Family::Local { d, torus: false };
    let nets = vec![
        ("dense N=256", Sheet::new(16, 16), Family::Dense),
        ("local d=2 N=625", Sheet::new(25, 25), local(2.0)),
        ("dense N=1024", Sheet::new(32, 32), Family::Dense),
        ("local d=6 N=2500", Sheet::new(50, 50), local(6.0)),
    ];
    // Mod-Cog also at the two sizes of the papers' Table 1 (10^4 steps each).
    let mut table1 = nets.clone();
    table1.push(("dense N=676", Sheet::new(26, 26), Family::Dense));
    table1.push(("local d=10 N=2500", Sheet::new(50, 50), local(10.0)));
    let mut rows = Vec::new();
    for (collection, t, nets) in [
        (Collection::Cog20, 100usize, nets),
        (Collection::ModCog, 350, table1),
    ] {
        let (inputs, targets, n_in) = first_batch(collection, 1, t, b)?;
        for (net_name, sheet, family) in &nets {
            let name = format!("{net_name} {} T={t}", collection.name());
            if opts
                .only
                .as_ref()
                .is_some_and(|o| !name.contains(o.as_str()))
            {
                continue;
            }
            let mut cfg = NetConfig::new(*sheet, n_in, tasks::N_CLASSES);
            cfg.family = family.clone();
            cfg.activation = Activation::Tanh;
            let net = Network::new(&cfg, 1)?;
            let mut whole = Trainer::with_chunk(net.clone(), t, b, b)?;
            let mut chunked = Trainer::with_chunk(net, t, b, PARALLEL_CHUNK)?;
            let (mut rng_w, mut rng_c) = (Rng::new(7), Rng::new(7));
            let mut step_w = || whole.train_step(&inputs, &targets, &mut rng_w).map(|_| ());
            let mut step_c = || {
                chunked
                    .train_step(&inputs, &targets, &mut rng_c)
                    .map(|_| ())
            };
            // Warm-up.
            for p in &pools {
                p.install(&mut step_w)?;
                p.install(&mut step_c)?;
            }
            let mut t_whole = vec![Vec::new(); counts.len()];
            let mut t_k = vec![Vec::new(); counts.len()];
            for _ in 0..reps {
                for (p, v) in pools.iter().zip(t_whole.iter_mut()) {
                    v.push(sample_pool(p, &mut step_w)?);
                }
                for (p, v) in pools.iter().zip(t_k.iter_mut()) {
                    v.push(sample_pool(p, &mut step_c)?);
                }
            }
            let med = |v: &[(f64, Option<f64>)]| {
                let wall = median(v.iter().map(|x| x.0).collect());
                let cpu = v.iter().map(|x| x.1).collect::<Option<Vec<f64>>>();
                (wall, cpu.map(median))
            };
            // Medians of the per-turn ratios a / b, of wall and of CPU time.
            let ratio = |a: &[(f64, Option<f64>)], b: &[(f64, Option<f64>)]| {
                let wall = median(a.iter().zip(b).map(|(x, y)| x.0 / y.0).collect());
                let cpu = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| Some(x.1? / y.1?))
                    .collect::<Option<Vec<f64>>>();
                (wall, cpu.map(median))
            };
            let row = ThreadRow {
                name,
                whole: t_whole.iter().map(|v| med(v)).collect(),
                chunked: t_k.iter().map(|v| med(v)).collect(),
                chunked_over_whole: ratio(&t_k[0], &t_whole[0]).1,
                speedup: t_k[1..].iter().map(|v| ratio(&t_k[0], v)).collect(),
                speedup_whole: t_whole[1..].iter().map(|v| ratio(&t_whole[0], v)).collect(),
            };
            let ms = |(w, c): (f64, Option<f64>)| match c {
                Some(c) => format!("{w:.1}/{c:.1}"),
                None => format!("{w:.1}/-"),
            };
            let x = |(w, c): (f64, Option<f64>)| match c {
                Some(c) => format!("{w:.2}x/{c:.2}x"),
                None => format!("{w:.2}x/-"),
            };
            let mut line = format!("{:<26}", row.name);
            for &m in row.whole.iter().chain(&row.chunked) {
                line += &format!(" {:>15}", ms(m));
            }
            line += &format!(
                " {:>13}",
                row.chunked_over_whole
                    .map_or("-".to_string(), |r| format!("{r:.3}x"))
            );
            for &r in row.speedup_whole.iter().chain(&row.speedup) {
                line += &format!(" {:>15}", x(r));
            }
            writeln!(out, "{line}")?;
            rows.push(row);
        }
    }
    writeln!(out, "load average at the end: {}", load_average())?;
    Ok(rows)
}
