//! How many threads a training process uses, and how a sweep divides the cores between its runs.
//!
//! A training step runs its chunks of streams on the current rayon pool ([`super::Trainer`]);
//! `gyrus train` builds that pool with [`threads`] threads. The results do not depend on the count.

use anyhow::{bail, Context};

/// Where a thread count came from (for the run's log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The `--threads` flag.
    Flag,
    /// The environment variable `RAYON_NUM_THREADS`.
    Rayon,
    /// The environment variable `SLURM_CPUS_PER_TASK` (a Slurm task's `--cpus-per-task`).
    Slurm,
    /// Every core this process may run on.
    Cores,
}

impl Source {
    /// A short description, e.g. "RAYON_NUM_THREADS".
    pub fn describe(self) -> &'static str {
        match self {
            Source::Flag => "--threads",
            Source::Rayon => "RAYON_NUM_THREADS",
            Source::Slurm => "SLURM_CPUS_PER_TASK",
            Source::Cores => "all cores",
        }
    }
}

/// The cores this process may run on (1 if unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The thread count of a training process: `flag` if given, else `RAYON_NUM_THREADS`, else
/// `SLURM_CPUS_PER_TASK`, else every core; with where it came from.
pub fn threads(flag: Option<usize>) -> anyhow::Result<(usize, Source)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    resolve(
        flag,
        var("RAYON_NUM_THREADS").as_deref(),
        var("SLURM_CPUS_PER_TASK").as_deref(),
        cores(),
    )
}

/// [`threads`] from the given values (`rayon` and `slurm`: the environment variables' text).
fn resolve(
    flag: Option<usize>,
    rayon: Option<&str>,
    slurm: Option<&str>,
    cores: usize,
) -> anyhow::Result<(usize, Source)> {
    let parse = |name: &str, v: &str| -> anyhow::Result<usize> {
        match v.trim().parse::<usize>() {
            Ok(k) if k > 0 => Ok(k),
            _ => bail!("{name} must be a positive integer, got {v:?}"),
        }
    };
    Ok(match (flag, rayon, slurm) {
        (Some(0), ..) => bail!("--threads must be at least 1"),
        (Some(k), ..) => (k, Source::Flag),
        (None, Some(v), _) => (parse("RAYON_NUM_THREADS", v)?, Source::Rayon),
        (None, None, Some(v)) => (parse("SLURM_CPUS_PER_TASK", v)?, Source::Slurm),
        (None, None, None) => (cores.max(1), Source::Cores),
    })
}

/// A rayon pool of `threads` threads (the training step and evaluation run inside it).
pub fn pool(threads: usize) -> anyhow::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("gyrus-train-{i}"))
        .build()
        .with_context(|| format!("starting {threads} threads"))
}

/// How a local sweep divides `cores` between `points` runs: (runs at once, threads per run), with
/// runs x threads <= cores. Given neither, as many runs as fit (one per core, at most the points)
/// and the cores left to each divided among them; given one, the other from it; given both, both.
pub fn split_cores(
    cores: usize,
    points: usize,
    jobs: Option<usize>,
    threads: Option<usize>,
) -> (usize, usize) {
    let cores = cores.max(1);
    match (jobs, threads) {
        (Some(j), Some(t)) => (j.max(1), t.max(1)),
        (Some(j), None) => (j.max(1), (cores / j.max(1)).max(1)),
        (None, Some(t)) => ((cores / t.max(1)).max(1), t.max(1)),
        (None, None) => {
            let j = points.clamp(1, cores);
            (j, cores / j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_then_rayon_then_slurm_then_the_cores() {
        assert_eq!(
            resolve(Some(3), Some("2"), Some("4"), 8).unwrap(),
            (3, Source::Flag)
        );
        assert_eq!(
            resolve(None, Some("2"), Some("4"), 8).unwrap(),
            (2, Source::Rayon)
        );
        assert_eq!(
            resolve(None, None, Some(" 4"), 8).unwrap(),
            (4, Source::Slurm)
        );
        assert_eq!(resolve(None, None, None, 8).unwrap(), (8, Source::Cores));
        assert_eq!(resolve(None, None, None, 0).unwrap(), (1, Source::Cores));
        let e = resolve(None, Some("two"), None, 8).unwrap_err().to_string();
        assert!(e.contains("RAYON_NUM_THREADS") && e.contains("two"), "{e}");
        assert!(resolve(None, None, Some("0"), 8).is_err());
        assert!(resolve(Some(0), None, None, 8).is_err());
    }

    #[test]
    fn sweeps_never_ask_for_more_than_the_cores() {
        for cores in [1, 2, 3, 16, 32] {
            for points in [1, 2, 3, 5, 40] {
                let (j, t) = split_cores(cores, points, None, None);
                assert!(j >= 1 && t >= 1 && j * t <= cores, "{cores} {points}");
                assert!(j <= points, "{cores} {points}");
                for k in 1..=cores {
                    let (j, t) = split_cores(cores, points, Some(k), None);
                    assert!(j == k && j * t <= cores.max(k));
                    let (j, t) = split_cores(cores, points, None, Some(k));
                    assert!(t == k && j * t <= cores);
                }
            }
        }
        assert_eq!(split_cores(32, 3, None, None), (3, 10));
        assert_eq!(split_cores(32, 100, None, None), (32, 1));
        assert_eq!(split_cores(16, 100, Some(4), None), (4, 4));
        assert_eq!(split_cores(16, 100, None, Some(8)), (2, 8));
        assert_eq!(split_cores(2, 100, Some(3), Some(5)), (3, 5));
    }
}
