//! Integration tests of `gyrus tasks` and `gyrus bench tasks`, running the built binary.

mod common;

use common::{fails, gyrus};
use gyrus_runtime::tasks::{fill_batch, Collection, Config, Stream, TaskList};
use gyrus_trainer::npz::read_npz;
use std::path::PathBuf;
use std::process::{Command, Output};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(args: &[&str]) -> String {
    let o = gyrus(args);
    assert!(o.status.success(), "gyrus {args:?} failed:\n{}", stderr(&o));
    stdout(&o)
}

/// Runs a command that must fail cleanly; returns its stderr.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_tasks");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// Table rows: lines whose first field is a rule index.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f.first().is_some_and(|x| x.parse::<usize>().is_ok()))
        .collect()
}

#[test]
fn list_prints_every_task_of_each_collection() {
    for (name, n) in [("cog20", 20), ("modcog", 82), ("modcog-full", 126)] {
        let out = ok(&["tasks", "list", "--collection", name]);
        let rows = rows(&out);
        assert_eq!(rows.len(), n, "{name}:\n{out}");
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row[0], i.to_string(), "{name}: rule indices in order");
        }
    }
    let out = ok(&["tasks", "list", "--collection", "cog20"]);
    let rows = rows(&out);
    assert_eq!(rows[2][1], "dlygo");
    assert_eq!(rows[2].last().unwrap(), "20");
    assert_eq!(rows[6][1], "dm1");
    assert_eq!(rows[6].last().unwrap(), "9-11");
    assert_eq!(rows[16][1], "dms");
    assert_eq!(rows[16].last().unwrap(), "32");
    // An explicit list keeps its order; the default is the full battery.
    let custom = rule_and_name(&["tasks", "list", "--tasks", "dmsintr,goseqr"]);
    assert_eq!(
        custom,
        vec![
            ("0".into(), "dmsintr".into()),
            ("1".into(), "goseqr".into())
        ]
    );
    assert_eq!(rows_of(&["tasks", "list"]), 126);
    // dt = 50 doubles the steps of go.
    let fine = ok(&["tasks", "list", "--collection", "cog20", "--dt", "50"]);
    assert_eq!(last_field(&fine, "go"), "30");
}

fn rule_and_name(args: &[&str]) -> Vec<(String, String)> {
    rows(&ok(args))
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}

fn rows_of(args: &[&str]) -> usize {
    rows(&ok(args)).len()
}

fn last_field(table: &str, task: &str) -> String {
    rows(table)
        .into_iter()
        .find(|r| r[1] == task)
        .map(|r| r.last().unwrap().clone())
        .unwrap_or_default()
}

#[test]
fn show_writes_png_and_svg() {
    let png = scratch("dlygo.png");
    let out = ok(&[
        "tasks",
        "show",
        "dlygo",
        "--seed",
        "3",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(
        out.contains("dlygo") && out.contains("rule 2 of cog20"),
        "{out}"
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert!(
        (700..4000).contains(&width) && (400..4000).contains(&height),
        "{width}x{height}"
    );
    assert!(
        bytes.len() > 10_000,
        "a real picture, not an empty frame: {} bytes",
        bytes.len()
    );

    let svg = scratch("dmsintr_seql.svg");
    ok(&[
        "tasks",
        "show",
        "dmsintr_seql",
        "--out",
        svg.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.trim_end().ends_with("</svg>"));
    for label in [
        "dmsintr_seql",
        "fixation",
        "sample",
        "decision",
        "ring 1",
        "target",
        "rule 111 of modcog-full",
    ] {
        assert!(text.contains(label), "SVG lacks {label:?}");
    }
}

fn numpy_available() -> bool {
    Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn dump_matches_fill_batch_and_loads_in_numpy() {
    let (b, t, seed) = (5usize, 70usize, 42u64);
    let path = scratch("batch.npz");
    let out = ok(&[
        "tasks",
        "dump",
        "--collection",
        "cog20",
        "--batch",
        "5",
        "--seq-len",
        "70",
        "--seed",
        "42",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(out.contains("wrote"), "{out}");
    let arrays = read_npz(&std::fs::read(&path).unwrap()).unwrap();
    let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["inputs", "targets", "tasks"]);

    let list = TaskList::Collection(Collection::Cog20);
    let cfg = Config::default();
    let mut streams: Vec<Stream> = (0..b as u64).map(|i| Stream::new(seed, i)).collect();
    let mut inputs = vec![0.0f32; t * b * 53];
    let mut targets = vec![0u8; t * b];
    fill_batch(&mut streams, &list, &cfg, &mut inputs, &mut targets).unwrap();

    let (_, x) = &arrays[0];
    assert_eq!(x.descr, "<f4");
    assert_eq!(x.shape, vec![t, b, 53]);
    assert_eq!(x.to_f32().unwrap(), inputs);
    let (_, y) = &arrays[1];
    assert_eq!(y.descr, "<i8");
    assert_eq!(y.shape, vec![t, b]);
    let y: Vec<i64> = y.to_i64().unwrap();
    assert_eq!(y, targets.iter().map(|&v| i64::from(v)).collect::<Vec<_>>());
    assert!(y.iter().any(|&v| v > 0), "70 steps include decisions");
    let names = arrays[2].1.to_strings().unwrap();
    assert_eq!(names.len(), 20);
    assert_eq!((names[0].as_str(), names[19].as_str()), ("go", "dnmc"));

    if !numpy_available() {
        println!("numpy not installed: skipping numpy cross-check");
        return;
    }
    let script = r#"
import sys, numpy as np
d = np.load(sys.argv[1])
x, y, names = d["inputs"], d["targets"], d["tasks"]
print(x.dtype, x.shape, y.dtype, y.shape, names.shape, names[0], names[-1])
print(repr(float(x.astype(np.float64).sum())), int(y.sum()), repr(float(x[7, 3, 2])))
"#;
    let o = Command::new("python3")
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "numpy could not load the npz:\n{}",
        stderr(&o)
    );
    let text = stdout(&o);
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("float32 ({t}, {b}, 53) int64 ({t}, {b}) (20,) go dnmc")
    );
    let fields: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let sum: f64 = inputs.iter().map(|&v| f64::from(v)).sum();
    let np_sum: f64 = fields[0].parse().unwrap();
    assert!(
        (np_sum - sum).abs() <= 1e-9 * sum.abs().max(1.0),
        "{np_sum} vs {sum}"
    );
    let tsum: i64 = targets.iter().map(|&v| i64::from(v)).sum();
    assert_eq!(fields[1].parse::<i64>().unwrap(), tsum);
    let probe: f64 = fields[2].parse().unwrap();
    assert_eq!(probe as f32, inputs[(7 * b + 3) * 53 + 2]);
}

#[test]
fn bad_input_gives_clear_errors() {
    let out = scratch("never.png");
    let out = out.to_str().unwrap();
    let err = fails(&["tasks", "show", "dlgo", "--out", out]);
    assert!(
        err.contains("unknown task 'dlgo'") && err.contains("dlygo"),
        "{err}"
    );
    assert!(err.contains("gyrus tasks list"), "{err}");
    let err = fails(&["tasks", "show", "gointr", "--out", out]);
    assert!(err.contains("only for tasks with a delay"), "{err}");
    let err = fails(&["tasks", "list", "--collection", "modcog2"]);
    for c in ["cog20", "modcog", "modcog-full"] {
        assert!(err.contains(c), "{err}");
    }
    let err = fails(&[
        "tasks",
        "show",
        "goseqr",
        "--collection",
        "cog20",
        "--out",
        out,
    ]);
    assert!(err.contains("not in cog20"), "{err}");
    let err = fails(&[
        "tasks",
        "show",
        "go",
        "--out",
        scratch("x.jpg").to_str().unwrap(),
    ]);
    assert!(err.contains(".png or .svg"), "{err}");
    let err = fails(&["tasks", "list", "--tasks", "go,go"]);
    assert!(err.contains("twice"), "{err}");

    let npz = scratch("bad.npz");
    let npz = npz.to_str().unwrap();
    let dump = |batch: &str, seq: &str| {
        fails(&[
            "tasks",
            "dump",
            "--batch",
            batch,
            "--seq-len",
            seq,
            "--out",
            npz,
        ])
    };
    assert!(dump("0", "10").contains("--batch must be between 1"));
    assert!(dump("4", "0").contains("--seq-len must be between 1"));
    assert!(dump("60000", "100000").contains("too large"));
    let err = fails(&[
        "tasks",
        "dump",
        "--batch=-3",
        "--seq-len",
        "10",
        "--out",
        npz,
    ]);
    assert!(err.contains("invalid value '-3' for '--batch"), "{err}");
    let err = fails(&["tasks", "list", "--dt", "0"]);
    assert!(err.contains("--dt") && err.contains("1..=100"), "{err}");
    let err = fails(&["tasks", "list", "--dt", "250"]);
    assert!(err.contains("--dt"), "{err}");
    let err = fails(&["tasks", "list", "--noise=-1"]);
    assert!(err.contains("--noise"), "{err}");
    assert!(
        !std::path::Path::new(npz).exists(),
        "no file written on error"
    );
}

#[test]
fn bench_quick_prints_the_ratio() {
    let out = ok(&[
        "bench",
        "tasks",
        "--quick",
        "--batch",
        "8",
        "--seq-len",
        "40",
        "--hidden",
        "32",
    ]);
    for c in [
        "cog20",
        "modcog",
        "modcog-full",
        "build batch",
        "dense RNN forward",
    ] {
        assert!(out.contains(c), "bench output lacks {c}:\n{out}");
    }
    let ratio_line = out
        .lines()
        .find(|l| l.starts_with("ratio batch / forward"))
        .unwrap_or_else(|| panic!("no ratio line:\n{out}"));
    let ratio: f64 = ratio_line
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ratio.is_finite() && ratio > 0.0, "{ratio_line}");
}
