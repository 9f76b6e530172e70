//! `gyrus sweep --backend slurm` against a real Slurm: a private single-node cluster on localhost
//! (tests/slurm/start-cluster.sh; every file of it in a fresh temp dir, its own munge socket and
//! ports) runs a 4-point sweep as one job array through `sbatch`; every run folder must end with a
//! finished checkpoint, `resubmit` then submits nothing, and a point whose results are removed is
//! resubmitted alone and resumed from its checkpoint. The daemons are stopped by pid (a guard's
//! Drop, so also when an assertion fails).
//!
//! The options, the dry run and `run-point` are also checked without a cluster. The cluster test is
//! skipped, with a message saying why, only where Slurm is not installed (`.ci/install-tools`
//! installs it) or the test does not run as root (slurmd must).

mod common;

use common::text;
use gyrus_trainer::train::checkpoint;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BASE: &str = "tasks = \"go,anti\"\nsteps = 20\nbatch = 4\nseq_len = 20\neval_trials = 4\n\
                    eval_every = 10\ncheckpoint_every = 10\n[net]\nsheet = { rows = 3, cols = 3 }\n\
                    family = { kind = \"l1\", lambda = 1e-4 }\n";
const GRID: &str = "lambda=0,1e-3; seed=1..2";
/// The longest wait for the cluster's jobs to leave the queue.
const WAIT: Duration = Duration::from_secs(90);

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slurm")
}

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| d.join(cmd).is_file())
            || ["/usr/sbin", "/sbin"]
                .iter()
                .any(|d| Path::new(d).join(cmd).is_file())
    })
}

/// Why the test cannot run here, if it cannot.
fn missing() -> Option<String> {
    let absent: Vec<&str> = [
        "sbatch",
        "squeue",
        "srun",
        "sinfo",
        "scancel",
        "slurmctld",
        "slurmd",
        "munged",
        "munge",
    ]
    .into_iter()
    .filter(|c| !on_path(c))
    .collect();
    if !absent.is_empty() {
        return Some(format!(
            "Slurm is not installed (missing: {}); `.ci/install-tools` installs the Debian \
             packages slurm-wlm and munge",
            absent.join(", ")
        ));
    }
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("a test cluster needs root (slurmd launches the jobs)".into());
    }
    None
}

/// A running test cluster; stops its daemons by pid when dropped.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let c = Cluster {
            dir: dir.to_path_buf(),
        };
        let o = Command::new(scripts().join("start-cluster.sh"))
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "starting the test cluster failed: {}\nlogs in {}",
            text(&o),
            dir.display()
        );
        c
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("slurm.conf")
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", self.conf());
        c
    }

    fn gyrus(&self, args: &[&str]) -> Output {
        self.cmd(env!("CARGO_BIN_EXE_gyrus"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Lines `squeue` prints for `job` (all jobs if `None`).
    fn queued(&self, job: Option<&str>) -> Vec<String> {
        let mut c = self.cmd("squeue");
        c.args(["-h", "-r", "-o", "%i %T"]);
        if let Some(j) = job {
            c.args(["-j", j]);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "squeue: {}", text(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Polls squeue until `job` has left the queue; fails after [`WAIT`].
    fn wait(&self, job: &str) {
        let start = Instant::now();
        loop {
            let q = self.queued(Some(job));
            if q.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "job {job} still queued after {WAIT:?}: {q:?}\nslurmd log: {}",
                std::fs::read_to_string(self.dir.join("slurmd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Cancels the cluster's jobs, then SIGTERM (SIGKILL after 10 s) to the pids in its folder.
        let _ = Command::new(scripts().join("stop-cluster.sh"))
            .arg(&self.dir)
            .status();
    }
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The job id of the latest submission and its indices.
fn last_job(sweep: &Path) -> (String, Vec<u64>, usize) {
    let j = json(&sweep.join("slurm/jobs.json"));
    let subs = j["submissions"].as_array().unwrap();
    let s = subs.last().unwrap();
    (
        s["job_id"].as_str().unwrap().to_string(),
        s["indices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_u64().unwrap())
            .collect(),
        subs.len(),
    )
}

#[test]
fn a_sweep_runs_as_a_slurm_job_array() {
    if let Some(why) = missing() {
        eprintln!("SKIPPED sweep_slurm: {why}");
        return;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let root = std::env::temp_dir().join(format!("gyrus-slurm-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let cluster = Cluster::start(&root.join("cluster"));
    assert_eq!(
        cluster.queued(None),
        Vec::<String>::new(),
        "a fresh cluster has no jobs"
    );

    let base = root.join("base.toml");
    std::fs::write(&base, BASE).unwrap();
    let sweep = root.join("sweeps/p");
    let s = sweep.to_str().unwrap();
    let o = cluster.gyrus(&[
        "sweep",
        "--backend",
        "slurm",
        "--grid",
        GRID,
        "--base",
        base.to_str().unwrap(),
        "--out",
        s,
        "--max-parallel",
        "2",
        "--time",
        "0:10:00",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("submitted Slurm job"), "{}", text(&o));
    let (job, indices, n) = last_job(&sweep);
    assert_eq!((indices, n), (vec![0, 1, 2, 3], 1));
    let script = std::fs::read_to_string(sweep.join("slurm/submit-001.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3%2\n"), "{script}");
    assert!(
        script.contains(&format!(
            "{} sweep run-point {s} --index \"$SLURM_ARRAY_TASK_ID\"",
            env!("CARGO_BIN_EXE_gyrus")
        )),
        "{script}"
    );
    // Right after submitting, status shows the points queued (or already finished).
    let st = text(&cluster.gyrus(&["sweep", "status", s]));
    assert!(
        st.contains("in the queue") || st.contains("4 finished"),
        "{st}"
    );
    assert!(st.contains(&format!("Slurm jobs submitted: {job}")), "{st}");

    cluster.wait(&job);
    let m = json(&sweep.join("manifest.json"));
    let points = m["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    for p in points {
        let run = sweep.join(p["run_dir"].as_str().unwrap());
        let log = std::fs::read_to_string(run.join("sweep.log")).unwrap_or_default();
        assert!(
            run.join("eval.json").exists(),
            "{} did not finish; its log:\n{log}",
            run.display()
        );
        let ck = checkpoint::load(&run.join("checkpoint.safetensors")).unwrap();
        assert_eq!(ck.meta("step").unwrap(), "20", "{}", run.display());
        assert_eq!(
            std::fs::read_to_string(run.join("config.toml")).unwrap(),
            p["config"].as_str().unwrap()
        );
        assert!(log.contains("train --config"), "{log}");
    }
    let logs = std::fs::read_dir(sweep.join("slurm/logs")).unwrap().count();
    assert_eq!(logs, 4, "one Slurm output file per array task");
    let st = text(&cluster.gyrus(&["sweep", "status", s]));
    assert!(st.contains("4 points: 4 finished, 0 started"), "{st}");

    // Everything finished: resubmit submits nothing.
    let o = cluster.gyrus(&["sweep", "resubmit", s]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("nothing to submit"), "{}", text(&o));
    assert_eq!(last_job(&sweep).2, 1, "no new submission recorded");
    assert_eq!(cluster.queued(None), Vec::<String>::new());

    // A point that lost its results (as if preempted after its last checkpoint) is resubmitted
    // alone, with the first submission's options, and resumed from its checkpoint.
    let run3 = sweep.join(points[3]["run_dir"].as_str().unwrap());
    std::fs::remove_file(run3.join("eval.json")).unwrap();
    let st = text(&cluster.gyrus(&["sweep", "status", s]));
    assert!(st.contains("3 finished, 1 started"), "{st}");
    let o = cluster.gyrus(&["sweep", "resubmit", s]);
    assert!(o.status.success(), "{}", text(&o));
    let (job2, indices, n) = last_job(&sweep);
    assert_eq!((indices, n), (vec![3], 2));
    assert_ne!(job2, job);
    let script = std::fs::read_to_string(sweep.join("slurm/submit-002.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=3%2\n"), "{script}");
    assert!(script.contains("#SBATCH --time=0:10:00\n"), "{script}");
    cluster.wait(&job2);
    assert!(run3.join("eval.json").exists());
    let log = std::fs::read_to_string(run3.join("sweep.log")).unwrap();
    assert!(log.contains("train --resume"), "{log}");
    let o = cluster.gyrus(&["sweep", "resubmit", s]);
    assert!(text(&o).contains("nothing to submit"), "{}", text(&o));
    assert_eq!(last_job(&sweep).2, 2);

    let pids: Vec<String> = ["slurmd.pid", "slurmctld.pid", "munged.pid"]
        .iter()
        .map(|f| {
            let pid = std::fs::read_to_string(cluster.dir.join(f)).unwrap();
            pid.trim().to_string()
        })
        .collect();
    drop(cluster);
    let left: Vec<&String> = pids
        .iter()
        .filter(|p| Path::new("/proc").join(p).exists())
        .collect();
    assert!(left.is_empty(), "daemons not stopped: {left:?} of {pids:?}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn dry_run_options_and_run_point_need_no_cluster() {
    let root = std::env::temp_dir().join(format!("gyrus-slurm-dry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let base = root.join("base.toml");
    std::fs::write(&base, BASE).unwrap();
    let sweep = root.join("p");
    let s = sweep.to_str().unwrap();
    let b = base.to_str().unwrap();
    let gyrus = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gyrus"))
            .args(args)
            .output()
            .unwrap()
    };
    let o = gyrus(&[
        "sweep",
        "--backend",
        "slurm",
        "--grid",
        GRID,
        "--base",
        b,
        "--out",
        s,
        "--max-parallel",
        "2",
        "--partition",
        "debug",
        "--gpus-per-task",
        "1",
        "--dry-run",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let script = String::from_utf8_lossy(&o.stdout);
    for line in [
        "#!/bin/bash\n",
        "#SBATCH --array=0-3%2\n",
        "#SBATCH --partition=debug\n",
        "#SBATCH --gpus-per-task=1\n",
        "#SBATCH --cpus-per-task=1\n",
        &format!("#SBATCH --output={s}/slurm/logs/%A_%a.out\n"),
    ] {
        assert!(script.contains(line), "{line:?} not in\n{script}");
    }
    assert!(sweep.join("manifest.json").exists());
    assert!(
        !sweep.join("slurm/jobs.json").exists(),
        "a dry run submits nothing"
    );

    let e = text(&gyrus(&["sweep", "--out", s, "--partition", "x"]));
    assert!(e.contains("belong to --backend slurm"), "{e}");
    let e = text(&gyrus(&[
        "sweep",
        "--backend",
        "slurm",
        "--out",
        s,
        "--jobs",
        "2",
    ]));
    assert!(e.contains("--max-parallel"), "{e}");
    let e = text(&gyrus(&[
        "sweep",
        "--backend",
        "slurm",
        "--out",
        s,
        "--time",
        "1:00 x",
        "--dry-run",
    ]));
    assert!(e.contains("cannot go into an sbatch script"), "{e}");
    let e = text(&gyrus(&["sweep", "run-point", s, "--index", "4"]));
    assert!(e.contains("there is no index 4"), "{e}");

    // run-point trains its point (what an array task does), and then has nothing left to do.
    let o = gyrus(&["sweep", "run-point", s, "--index", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let m = json(&sweep.join("manifest.json"));
    let run = sweep.join(m["points"][1]["run_dir"].as_str().unwrap());
    assert!(run.join("eval.json").exists(), "{}", text(&o));
    let st = text(&gyrus(&["sweep", "status", s]));
    assert!(st.contains("1 finished, 0 started"), "{st}");
    let o = gyrus(&["sweep", "run-point", s, "--index", "1"]);
    assert!(
        text(&o).contains("is finished: nothing to do"),
        "{}",
        text(&o)
    );
    // The dry run now leaves the finished point out.
    let o = gyrus(&["sweep", "--backend", "slurm", "--out", s, "--dry-run"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("--array=0,2-3\n"),
        "{}",
        text(&o)
    );
    std::fs::remove_dir_all(&root).unwrap();
}
