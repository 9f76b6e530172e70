//! `gyrus export` and `gyrus inspect` through the binary: a tiny run is trained, exported (f32 and
//! int8), inspected (text and PNG), and a corrupt or missing blob fails with a clear message.

mod common;

use common::{gyrus, ok, s, tmp};
use gyrus_runtime::format::{CsrRepr, ModelRepr, ModelView, RecLayout};
use gyrus_runtime::measure;

/// The number after `label` on the line that starts with it.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} in\n{text}"))[label.len()..]
        .split_whitespace()
        .next()
        .unwrap()
}

#[test]
fn export_then_inspect_a_tiny_run() {
    let dir = tmp("run");
    let run = dir.join("run");
    ok(&[
        "train",
        "--sheet",
        "4x4",
        "--family",
        "local",
        "--radius",
        "1.5",
        "--collection",
        "go,dm1",
        "--steps",
        "30",
        "--batch",
        "8",
        "--seq-len",
        "30",
        "--eval-trials",
        "8",
        "--quiet",
        "--out",
        s(&run),
    ]);
    let blob_path = dir.join("out/model.gyrus");
    let text = ok(&[
        "export",
        s(&run),
        "--out",
        s(&blob_path),
        "--quantize",
        "int8",
    ]);
    assert!(text.contains("units kept"), "{text}");
    assert!(text.contains("agree on every task"), "{text}");
    assert!(text.contains("blob (runtime, int8)"), "{text}");
    let blob = std::fs::read(&blob_path).unwrap();
    let view = ModelView::from_bytes(&blob).unwrap();
    assert!(view.int8().is_some());
    assert_eq!(view.task_names().collect::<Vec<_>>(), ["go", "dm1"]);
    assert_eq!(view.sheet(), (4, 4));
    let m = measure::measure(&view);
    assert_eq!(
        field(&text, "active connections"),
        m.active_connections.to_string()
    );
    assert_eq!(
        field(&text, "wiring length"),
        format!("{:.4}", m.wiring_length)
    );
    assert!(text.contains(&format!("({} bytes)", blob.len())), "{text}");
    // Every stored weight is above the threshold.
    let mut all_above = true;
    view.recurrent()
        .for_each(|_, _, w| all_above &= w.abs() > 1e-2);
    assert!(all_above);

    let png = dir.join("sheet.png");
    let info = ok(&["inspect", s(&blob_path), "--out", s(&png)]);
    let version = format!("format version {}", gyrus_runtime::format::VERSION);
    assert!(info.contains(&version), "{info}");
    let q = view.int8().expect("exported with --quantize int8");
    assert!(
        info.contains(&format!("{} fraction bits", q.act_frac_bits)),
        "{info}"
    );
    assert!(info.contains("go,dm1"), "{info}");
    assert!(info.contains("int8 variant        yes"), "{info}");
    assert!(info.contains("weights             f32 and int8"), "{info}");
    assert_eq!(field(&info, "flash bytes"), blob.len().to_string());
    // Bytes per weight and what each section costs; the sections and the rest add up to the blob.
    assert!(info.contains("bytes per weight"), "{info}");
    assert!(info.contains("int8 recurrent: pair words"), "{info}");
    let listed: usize = info
        .lines()
        .skip_while(|l| !l.starts_with("sections"))
        .skip(1)
        .map(|l| {
            l.split_whitespace()
                .rev()
                .nth(1)
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(listed, blob.len(), "{info}");

    // The f32 recurrent layout: `auto` applies the runtime's rule; `--layout rows` and
    // `--layout diagonal` force one; every blob holds the same matrix and its runtime scores
    // agree with the trainer's on every task.
    let auto = RecLayout::choose(&ModelRepr::parse(&view).recurrent);
    assert_eq!(view.rec_layout(), Some(auto));
    let reported = match auto {
        RecLayout::Rows => "lane groups (chosen: --layout auto)",
        RecLayout::Diagonal => "diagonals (chosen: --layout auto)",
    };
    let line = text
        .lines()
        .find(|l| l.starts_with("f32 recurrent "))
        .unwrap_or_else(|| panic!("no layout line in\n{text}"));
    assert_eq!(line["f32 recurrent".len()..].trim(), reported, "{text}");
    let mut forced = Vec::new();
    for (layout, shown) in [
        (RecLayout::Rows, "sparse (f32 lane groups)"),
        (RecLayout::Diagonal, "sparse (f32 diagonals)"),
    ] {
        let path = dir.join(format!("{}.gyrus", layout.name()));
        let t = ok(&[
            "export",
            s(&run),
            "--out",
            s(&path),
            "--layout",
            layout.name(),
        ]);
        assert!(t.contains("agree on every task"), "{t}");
        assert!(t.contains("(forced by --layout)"), "{t}");
        let b = std::fs::read(&path).unwrap();
        let v = ModelView::from_bytes(&b).unwrap();
        assert_eq!(v.rec_layout(), Some(layout));
        assert_eq!(
            CsrRepr::from_weights(&v.recurrent()),
            CsrRepr::from_weights(&view.recurrent())
        );
        let info = ok(&["inspect", s(&path)]);
        assert!(info.contains(shown), "{info}");
        forced.push(b);
    }
    assert_ne!(forced[0], forced[1]);
    let bad = gyrus(&[
        "export",
        s(&run),
        "--out",
        s(&dir.join("y.gyrus")),
        "--layout",
        "cols",
    ]);
    assert!(!bad.status.success());

    // The int8 weights alone: a smaller blob without f32 weight matrices, refused by nothing.
    let small = dir.join("int8.gyrus");
    let text = ok(&["export", s(&run), "--out", s(&small), "--weights", "int8"]);
    assert!(text.contains("blob (runtime, int8)"), "{text}");
    assert!(!text.contains("blob (runtime, f32)"), "{text}");
    let small_blob = std::fs::read(&small).unwrap();
    assert!(small_blob.len() < blob.len());
    let sv = ModelView::from_bytes(&small_blob).unwrap();
    assert!(!sv.has_f32() && sv.int8().is_some());
    let info = ok(&["inspect", s(&small)]);
    assert!(info.contains("weights             int8 only"), "{info}");
    assert!(!info.contains("f32 recurrent"), "{info}");
    // `--weights f32` with `--quantize int8` contradicts itself.
    let out = gyrus(&[
        "export",
        s(&run),
        "--out",
        s(&dir.join("x.gyrus")),
        "--weights",
        "f32",
        "--quantize",
        "int8",
    ]);
    assert!(!out.status.success());
    assert!(!dir.join("x.gyrus").exists());
    assert_eq!(
        field(&info, "active connections"),
        m.active_connections.to_string()
    );
    let img = std::fs::read(&png).unwrap();
    assert_eq!(&img[..8], b"\x89PNG\r\n\x1a\n");

    // No pruning keeps more weights than the default threshold.
    let full = dir.join("full.gyrus");
    ok(&["export", s(&run), "--out", s(&full), "--threshold", "0"]);
    let full_blob = std::fs::read(&full).unwrap();
    let fv = ModelView::from_bytes(&full_blob).unwrap();
    assert!(fv.recurrent().nnz() > view.recurrent().nnz());
    assert!(fv.int8().is_none());

    // Exporting over an existing blob goes through a temporary, so a failed write (here the
    // temporary's name is taken by a folder) names the file and leaves the old blob intact, and a
    // failed export to a new path leaves no file at all.
    std::fs::create_dir(dir.join(".full.gyrus.tmp")).unwrap();
    let out = gyrus(&["export", s(&run), "--out", s(&full), "--quantize", "int8"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("full.gyrus"), "{err}");
    assert_eq!(std::fs::read(&full).unwrap(), full_blob);
    std::fs::create_dir(dir.join(".new.gyrus.tmp")).unwrap();
    let out = gyrus(&["export", s(&run), "--out", s(&dir.join("new.gyrus"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.join("new.gyrus").exists());

    // A corrupt blob: non-zero exit, the format error's message, no panic.
    let mut bad = blob.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x5a;
    let bad_path = dir.join("bad.gyrus");
    std::fs::write(&bad_path, &bad).unwrap();
    let out = gyrus(&["inspect", s(&bad_path)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is not a valid gyrus model"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = gyrus(&["inspect", s(&dir.join("missing.gyrus"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    // A folder that holds no run.
    let out = gyrus(&["export", s(&dir.join("nothing")), "--out", s(&full)]);
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 18.9: `gyrus inspect` and `gyrus deploy sim` refuse the same blob, a task list that does
/// not fit the inputs (3 tasks for 35 inputs, CRC valid), with the same message from the runtime.
#[test]
fn inspect_refuses_a_task_list_that_does_not_fit_the_inputs() {
    use gyrus_runtime::format::{Activation, CsrRepr, MatrixRepr, ModelRepr, Readout};
    let dir = tmp("task-shape");
    std::fs::create_dir_all(&dir).unwrap();
    let (n, n_in) = (2, 35);
    let m = ModelRepr {
        n_inputs: n_in,
        n_hidden: n,
        n_outputs: 17,
        sheet_rows: 1,
        sheet_cols: 2,
        pitch: 1.0,
        positions: vec![(0, 0), (0, 1)],
        recurrent: CsrRepr::from_dense(n, n, &[0.0, 0.5, 0.5, 0.0], |w| w != 0.0),
        input: MatrixRepr::compact(n, n_in, &vec![0.25; n * n_in]),
        output: MatrixRepr::compact(17, n, &vec![0.25; 17 * n]),
        b_h: vec![0.0; n],
        b_o: vec![0.0; 17],
        activation: Activation::Tanh,
        alpha: 1.0,
        readout: Readout::Argmax,
        tasks: vec!["go".into(), "dm1".into(), "dm2".into()],
        wiring_length: 1.0,
        active_connections: 2,
        seed: 1,
        int8: None,
        weights: gyrus_runtime::format::Weights::F32,
        layout: gyrus_runtime::format::RecLayout::Rows,
    };
    let path = dir.join("bad.gyrus");
    std::fs::write(&path, m.emit()).unwrap();
    for args in [
        vec!["inspect", s(&path)],
        vec!["deploy", "sim", s(&path), "--trials", "1"],
    ] {
        let out = gyrus(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "gyrus {args:?} accepted the blob");
        assert!(
            err.contains("3 tasks need 36 inputs and 17 outputs, the network has 35 and 17"),
            "gyrus {args:?}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
