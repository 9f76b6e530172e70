//! Round trips emit -> open -> parse, alignment of the arrays, and the errors of invalid models.

mod common;

use common::{assert_same_steps, random_model, Misaligned, Spec};
use gyrus_runtime::aligned::AlignedCopy;
use gyrus_runtime::format::{
    crc32, Activation, CsrRepr, FormatError, Limit, MatrixRepr, ModelRepr, ModelView, Part,
    Precision, RecLayout, Weights, CRC_LEN, HEADER_LEN, MAX_KERNEL_HIDDEN,
};
use gyrus_runtime::kernel::{self, State};

/// Every spec of [`base_specs`] in both f32 recurrent layouts, plus a wider local mask in
/// diagonals (34 units: two whole groups of 16 rows and a partial one).
fn specs() -> Vec<Spec> {
    let mut v = base_specs();
    v.extend(base_specs().into_iter().map(|s| Spec {
        layout: RecLayout::Diagonal,
        ..s
    }));
    v.push(Spec::partial_diagonals());
    v
}

fn base_specs() -> Vec<Spec> {
    vec![
        Spec::default(),
        Spec {
            int8: true,
            out_zero_fraction: 0.9,
            activation: Activation::Relu,
            alpha: 0.2,
            ..Spec::default()
        },
        Spec {
            rows: 3,
            cols: 7,
            prune_every: 0,
            radius: 0.0,
            n_inputs: 3,
            n_outputs: 2,
            activation: Activation::Softplus,
            int8: true,
            ..Spec::default()
        },
    ]
}

#[test]
fn emit_open_parse_is_the_identity() {
    for (k, spec) in specs().into_iter().enumerate() {
        let repr = random_model(k as u64, spec);
        let blob = repr.to_bytes().expect("a valid model opens");
        let back = ModelRepr::from_bytes(&blob).unwrap();
        assert_eq!(back, repr, "spec {k}");
        assert_eq!(back.emit(), blob, "re-emitting gives the same bytes");
        let view = ModelView::from_bytes(&blob).unwrap();
        assert_eq!(view.n_hidden(), repr.n_hidden);
        assert_eq!(view.task_names().collect::<Vec<_>>(), repr.tasks);
        assert_eq!(view.n_tasks(), repr.tasks.len());
        assert_eq!(view.blob().len(), blob.len());
        if repr.int8.is_none() {
            continue;
        }
        // The int8 weights alone: no f32 weight matrix, the int8 part read back unchanged, the
        // f32 matrices read back as the dequantised int8 weights.
        let mut only = repr.clone();
        only.weights = Weights::Int8;
        let small = only.to_bytes().unwrap();
        assert!(small.len() < blob.len());
        let v8 = ModelView::from_bytes(&small).unwrap();
        assert!(!v8.has_f32() && v8.recurrent_of(Precision::F32).is_none());
        let back = ModelRepr::from_bytes(&small).unwrap();
        assert_eq!(back.int8, repr.int8, "spec {k}");
        assert_eq!(back.weights, Weights::Int8);
        assert_eq!(back.emit(), small, "re-emitting gives the same bytes");
        let q = repr.int8.as_ref().unwrap();
        let r = &q.recurrent;
        for row in 0..r.rows {
            let (s, e) = (r.row_ptr[row] as usize, r.row_ptr[row + 1] as usize);
            let mut got = Vec::new();
            v8.recurrent()
                .for_each_in_row(row, |c, w| got.push((c, w.to_bits())));
            let want: Vec<(usize, u32)> = (s..e)
                .map(|i| {
                    let w = f32::from(r.values[i]) * q.rec_scale[row];
                    (usize::from(r.col_idx[i]), w.to_bits())
                })
                .collect();
            assert_eq!(got, want, "spec {k} row {row}");
        }
    }
}

/// The compressed rows and dense matrices derived from a blob's kernel layouts are the matrices
/// that were exported (the public way tools read weights: `WeightsView`).
#[test]
fn compressed_rows_and_dense_matrices_derive_from_the_kernel_layouts() {
    for (k, spec) in specs().into_iter().enumerate() {
        let repr = random_model(k as u64, spec);
        let blob = repr.to_bytes().unwrap();
        let view = ModelView::from_bytes(&blob).unwrap();
        let rec = view.recurrent();
        assert_eq!(CsrRepr::from_weights(&rec), repr.recurrent, "spec {k}");
        assert_eq!(rec.stored(), repr.recurrent.nnz());
        assert_eq!(rec.to_dense_vec(), repr.recurrent.to_dense());
        assert_eq!(view.input_weights().to_dense_vec(), repr.input.to_dense());
        assert_eq!(view.output_weights().to_dense_vec(), repr.output.to_dense());
        let mut seen = 0;
        rec.for_each(|r, c, w| {
            seen += 1;
            assert_eq!(repr.recurrent.to_dense()[r * repr.n_hidden + c], w);
        });
        assert_eq!(seen, repr.recurrent.nnz());
        let (mut rp, mut ci, mut v) = (vec![0; 2], vec![0; 1], vec![0.0; 1]);
        assert_eq!(
            rec.to_csr(&mut rp, &mut ci, &mut v),
            Err((repr.n_hidden + 1, repr.recurrent.nnz()))
        );
    }
}

#[test]
fn the_model_matrices_use_the_smaller_encoding() {
    let sparse = random_model(
        1,
        Spec {
            out_zero_fraction: 0.95,
            ..Spec::default()
        },
    );
    assert!(matches!(sparse.output, MatrixRepr::Csr(_)));
    assert!(matches!(sparse.input, MatrixRepr::Dense { .. }));
}

#[test]
fn arrays_are_four_aligned_so_an_aligned_blob_is_zero_copy() {
    for (k, spec) in specs().into_iter().enumerate() {
        let blob = random_model(k as u64, spec).emit();
        let aligned = AlignedCopy::new(&blob);
        let view = ModelView::from_bytes(aligned.bytes()).unwrap();
        assert!(view.is_zero_copy(), "spec {k}");
        for data in [view.hidden_bias().bytes(), view.output_bias().bytes()] {
            let off = data.as_ptr() as usize - aligned.bytes().as_ptr() as usize;
            assert_eq!(off % 4, 0);
            assert!(off + data.len() <= blob.len());
        }
    }
}

#[test]
fn a_misaligned_copy_opens_and_steps_bit_identically() {
    let repr = random_model(
        3,
        Spec {
            int8: true,
            ..Spec::default()
        },
    );
    let blob = repr.emit();
    let (a, m) = (AlignedCopy::new(&blob), Misaligned::new(&blob));
    let fast = ModelView::from_bytes(a.bytes()).unwrap();
    let slow = ModelView::from_bytes(m.bytes()).unwrap();
    assert!(fast.is_zero_copy());
    assert!(!slow.is_zero_copy());
    let n = repr.n_hidden;
    let (mut b1, mut b2) = (
        vec![0.0; State::buffer_len(n)],
        vec![0.0; State::buffer_len(n)],
    );
    let (mut s1, mut s2) = (
        State::new(n, &mut b1).unwrap(),
        State::new(n, &mut b2).unwrap(),
    );
    let (mut o1, mut o2) = (vec![0.0; 17], vec![0.0; 17]);
    for t in 0..10 {
        let u: Vec<f32> = (0..35)
            .map(|i| ((i * 7 + t * 3) % 11) as f32 / 11.0)
            .collect();
        let int8 = t % 2 == 1;
        let f = if int8 {
            kernel::step_int8
        } else {
            kernel::step
        };
        f(&fast, &mut s1, &u, &mut o1).unwrap();
        f(&slow, &mut s2, &u, &mut o2).unwrap();
        assert_eq!(bits(s1.hidden()), bits(s2.hidden()));
        assert_eq!(bits(&o1), bits(&o2));
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn refused(repr: &ModelRepr) -> FormatError {
    let err = repr
        .to_bytes()
        .expect_err("an invalid model must be refused");
    assert!(!err.to_string().is_empty());
    err
}

#[test]
fn invalid_models_are_refused_with_the_right_error() {
    let good = random_model(5, Spec::default());
    let n = good.n_hidden;

    let mut m = good.clone();
    m.alpha = 1.5;
    assert_eq!(refused(&m), FormatError::Alpha);
    m.alpha = 0.0;
    assert_eq!(refused(&m), FormatError::Alpha);

    let mut m = good.clone();
    m.positions.swap(0, 1);
    assert_eq!(refused(&m), FormatError::Position { unit: 1 });

    let mut m = good.clone();
    m.positions[2] = (0, good.sheet_cols);
    assert!(matches!(refused(&m), FormatError::Position { .. }));

    // The recurrent weights are stored in the kernel's layout only (`format::ell`): compressed
    // rows that are not valid give a layout that is refused.
    let kernel = |e: FormatError| {
        matches!(
            e,
            FormatError::ColumnIndex {
                part: Part::RecurrentKernel,
                ..
            } | FormatError::Length {
                part: Part::RecurrentKernel,
                ..
            }
        )
    };
    let mut m = good.clone();
    m.recurrent.col_idx[0] = n as u16;
    assert!(kernel(refused(&m)));
    let mut m = good.clone();
    m.recurrent.col_idx.swap(0, 1);
    assert!(kernel(refused(&m)));
    let mut m = good.clone();
    m.recurrent.values[3] = 0.0;
    assert!(kernel(refused(&m)), "a stored zero weight");

    let mut m = good.clone();
    m.recurrent.values[3] = f32::NAN;
    assert!(matches!(
        refused(&m),
        FormatError::BadValue {
            part: Part::RecurrentKernel,
            ..
        }
    ));

    let mut m = good.clone();
    m.b_o.pop();
    assert!(matches!(
        refused(&m),
        FormatError::Length {
            part: Part::OutputBias,
            ..
        }
    ));

    let mut m = good.clone();
    m.tasks[1] = "dlyfly".into();
    assert_eq!(refused(&m), FormatError::TaskName { index: 1 });

    let mut m = good.clone();
    m.sheet_rows = 1;
    assert_eq!(refused(&m), FormatError::Sheet);

    let mut m = good.clone();
    m.pitch = f32::INFINITY;
    assert_eq!(refused(&m), FormatError::Pitch);

    let mut m = good.clone();
    m.quantize_int8(1.0);
    m.int8.as_mut().unwrap().rec_scale[0] = -1.0;
    assert_eq!(
        refused(&m),
        FormatError::BadValue {
            part: Part::Int8Recurrent,
            index: 0
        }
    );

    let mut m = good.clone();
    m.quantize_int8(1.0);
    match &mut m.int8.as_mut().unwrap().input {
        MatrixRepr::Dense { values, .. } => values.pop(),
        MatrixRepr::Csr(c) => c.values.pop(),
    };
    assert!(matches!(
        refused(&m),
        FormatError::Length {
            part: Part::Int8Input,
            ..
        }
    ));

    let mut m = good;
    m.n_hidden = 0;
    assert_eq!(refused(&m), FormatError::Dimensions);
}

/// A dense input matrix is written by column (format version 6): one whose `values` do not hold
/// exactly `rows * cols` weights is refused with the length named, as in rows (the reordering
/// must not drop the extra weights and let the blob open), f32 and int8.
#[test]
fn a_dense_input_matrix_of_the_wrong_length_is_refused() {
    let mut good = random_model(5, Spec::default());
    good.quantize_int8(1.0);
    good.weights = Weights::Both;
    let (n, ni) = (good.n_hidden, good.n_inputs);
    let dense: Vec<f32> = (0..n * ni).map(|k| 0.01 * (k % 7) as f32 + 0.01).collect();
    good.input = MatrixRepr::Dense {
        rows: n,
        cols: ni,
        values: dense.clone(),
    };
    let q = good.int8.as_mut().unwrap();
    q.input = MatrixRepr::Dense {
        rows: n,
        cols: ni,
        values: (0..n * ni).map(|k| (k % 5) as i8 + 1).collect(),
    };
    let blob = good.to_bytes().unwrap();
    assert_eq!(ModelRepr::from_bytes(&blob).unwrap(), good);
    for extra in [1usize, ni, n] {
        let mut m = good.clone();
        if let MatrixRepr::Dense { values, .. } = &mut m.input {
            values.extend(std::iter::repeat_n(0.5, extra));
        }
        assert!(
            matches!(
                m.to_bytes(),
                Err(FormatError::Length {
                    part: Part::Input,
                    ..
                })
            ),
            "f32, {extra} extra: {:?}",
            m.to_bytes().map(|b| b.len())
        );
        let mut m = good.clone();
        if let MatrixRepr::Dense { values, .. } = &mut m.int8.as_mut().unwrap().input {
            values.extend(std::iter::repeat_n(3, extra));
        }
        assert!(
            matches!(
                m.to_bytes(),
                Err(FormatError::Length {
                    part: Part::Int8Input,
                    ..
                })
            ),
            "int8, {extra} extra: {:?}",
            m.to_bytes().map(|b| b.len())
        );
    }
}

/// Issue 18.9: a blob whose task list does not fit its inputs (3 tasks, 35 inputs) is refused
/// when it is opened, by every reader, with the sizes named.
#[test]
fn a_task_list_that_does_not_fit_the_inputs_is_refused() {
    let mut m = random_model(5, Spec::default());
    assert_eq!((m.tasks.len(), m.n_inputs, m.n_outputs), (2, 35, 17));
    m.tasks.push("dm1".into());
    let want = FormatError::TaskShape {
        tasks: 3,
        inputs: 35,
        outputs: 17,
        needed_inputs: 36,
        needed_outputs: 17,
    };
    assert_eq!(ModelView::from_bytes(&m.emit()).unwrap_err(), want);
    assert_eq!(m.check_limits().unwrap_err(), want);
    assert!(
        want.to_string().contains("3 tasks need 36 inputs"),
        "{want}"
    );
    // The same with a wrong output count, and no task list at all is fine for any shape.
    let mut m = random_model(5, Spec::default());
    m.n_outputs = 16;
    m.output = MatrixRepr::compact(16, m.n_hidden, &vec![0.25; 16 * m.n_hidden]);
    m.b_o.pop();
    assert!(matches!(
        ModelView::from_bytes(&m.emit()),
        Err(FormatError::TaskShape { outputs: 16, .. })
    ));
    m.tasks.clear();
    assert!(m.to_bytes().is_ok());
}

/// Issue 21.2: the exporter's check refuses a model over a runtime limit before anything is
/// encoded, naming the limit and the value; the reader refuses the same blob with the same error.
#[test]
fn models_over_a_runtime_limit_are_refused_before_encoding() {
    let mut m = random_model(5, Spec::default());
    m.tasks.clear();
    m.n_hidden = MAX_KERNEL_HIDDEN + 1;
    let want = FormatError::Limit {
        limit: Limit::Hidden,
        value: (MAX_KERNEL_HIDDEN + 1) as u64,
    };
    assert_eq!(m.check_limits().unwrap_err(), want);
    assert_eq!(m.to_bytes().unwrap_err(), want);
    let text = want.to_string();
    assert!(
        text.contains("MAX_KERNEL_HIDDEN = 16384") && text.contains("16385"),
        "{text}"
    );
    let mut m = random_model(5, Spec::default());
    m.tasks.clear();
    m.n_inputs = 70_000;
    assert_eq!(
        m.check_limits().unwrap_err(),
        FormatError::Limit {
            limit: Limit::Inputs,
            value: 70_000
        }
    );
    let mut m = random_model(5, Spec::default());
    m.tasks.clear();
    m.n_outputs = 65_536;
    assert!(matches!(
        m.check_limits(),
        Err(FormatError::Limit {
            limit: Limit::Outputs,
            value: 65_536
        })
    ));
    // Every limit has a name, a description and a maximum for the messages and the docs.
    for l in Limit::ALL {
        assert!(!l.name().is_empty() && !l.what().is_empty() && l.max() > 0);
    }
}

/// Rewrites the CRC after an edit, so that the check behind it is reached.
fn fix_crc(blob: &mut [u8]) {
    let n = blob.len() - CRC_LEN;
    let c = crc32(&blob[..n]);
    blob[n..].copy_from_slice(&c.to_le_bytes());
}

#[test]
fn header_errors() {
    let blob = random_model(6, Spec::default()).emit();
    let mut v1 = blob.clone();
    v1[4] = 1;
    let want = FormatError::UnsupportedVersion {
        found: 1,
        supported: gyrus_runtime::format::VERSION,
    };
    assert_eq!(ModelView::from_bytes(&v1).unwrap_err(), want);
    fix_crc(&mut v1);
    assert_eq!(ModelView::from_bytes(&v1).unwrap_err(), want);
    assert!(want.to_string().contains("version 1"));
    // A version-2 blob (the format before every matrix was stored once) is refused with a
    // message that says how to re-export it; a newer version with one that does not.
    let v2 = FormatError::UnsupportedVersion {
        found: 2,
        supported: gyrus_runtime::format::VERSION,
    };
    assert!(v2.to_string().contains("re-export"), "{v2}");
    assert!(v2.to_string().contains("gyrus export"), "{v2}");
    // A version-3 blob (int8 recurrent weights as i16) is refused the same way, CRC intact
    // (versions 4 and 5 are still read: `version_4_blobs_open_as_lane_groups`,
    // `version_5_blobs_open_with_inputs_by_row`).
    assert_eq!(gyrus_runtime::format::VERSION, 6);
    let mut v3 = blob.clone();
    v3[4..6].copy_from_slice(&3u16.to_le_bytes());
    fix_crc(&mut v3);
    let e3 = ModelView::from_bytes(&v3).unwrap_err();
    assert_eq!(
        e3,
        FormatError::UnsupportedVersion {
            found: 3,
            supported: 6
        }
    );
    assert!(e3.to_string().contains("gyrus export RUN_DIR"), "{e3}");
    let v9 = FormatError::UnsupportedVersion {
        found: 9,
        supported: gyrus_runtime::format::VERSION,
    };
    assert!(!v9.to_string().contains("re-export"), "{v9}");

    let mut bad = blob.clone();
    bad[0] = b'X';
    assert_eq!(
        ModelView::from_bytes(&bad).unwrap_err(),
        FormatError::BadMagic
    );

    let cut = &blob[..blob.len() - 1];
    assert_eq!(
        ModelView::from_bytes(cut).unwrap_err(),
        FormatError::Truncated {
            declared: blob.len() as u32,
            got: blob.len() - 1
        }
    );
    assert_eq!(
        ModelView::from_bytes(&blob[..10]).unwrap_err(),
        FormatError::TooShort { len: 10 }
    );
    let mut long = blob.clone();
    long.push(0);
    assert_eq!(
        ModelView::from_bytes(&long).unwrap_err(),
        FormatError::TrailingBytes {
            declared: blob.len() as u32,
            got: blob.len() + 1
        }
    );

    let mut flipped = blob.clone();
    flipped[HEADER_LEN + 5] ^= 0x10;
    assert!(matches!(
        ModelView::from_bytes(&flipped).unwrap_err(),
        FormatError::Crc { .. }
    ));

    // A faulty writer: right header and CRC, body that does not decode.
    let mut garbage = blob[..HEADER_LEN].to_vec();
    garbage.extend([0xFF; 9]);
    let len = (garbage.len() + CRC_LEN) as u32;
    garbage[8..12].copy_from_slice(&len.to_le_bytes());
    garbage.extend([0; 4]);
    fix_crc(&mut garbage);
    assert_eq!(
        ModelView::from_bytes(&garbage).unwrap_err(),
        FormatError::Malformed
    );
}

/// Where the variant tag of the matrix whose data is at `data` lies: the body writes the tag,
/// the pad's length (0-3) and zero pad bytes, the data's length (varint), then the data.
fn matrix_tag(blob: &[u8], data: &std::ops::Range<usize>) -> usize {
    let varint = |mut n: usize| {
        let mut k = 1;
        while n >= 0x80 {
            n >>= 7;
            k += 1;
        }
        k
    };
    let p = data.start - varint(data.len());
    (0..4)
        .map(|pad| (pad, p - pad - 2))
        .find(|&(pad, tag)| {
            blob[p - pad - 1] == pad as u8
                && blob[p - pad..p].iter().all(|&b| b == 0)
                && blob[tag] == 2
        })
        .expect("a matrix stored by column")
        .1
}

/// A version-5 blob, written out here from a version-6 one: each dense input matrix (stored by
/// column, `MatWire` variant 2) back in rows (variant 0, the data transposed in place, so every
/// length and alignment stays), version 5, CRC fixed.
fn as_version_5(v6: &[u8]) -> Vec<u8> {
    let view = ModelView::from_bytes(v6).unwrap();
    let (rows, cols) = (view.n_hidden(), view.n_inputs());
    let mut v5 = v6.to_vec();
    for (name, range) in view.sections() {
        if !name.ends_with("input: weights (dense, by column)") {
            continue;
        }
        let tag = matrix_tag(v6, &range);
        v5[tag] = 0;
        let size = range.len() / (rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                let (to, from) = (
                    range.start + size * (r * cols + c),
                    range.start + size * (c * rows + r),
                );
                v5[to..to + size].copy_from_slice(&v6[from..from + size]);
            }
        }
    }
    v5[4..6].copy_from_slice(&5u16.to_le_bytes());
    fix_crc(&mut v5);
    v5
}

/// A version-4 blob, written out here from a version-5 one in lane groups: the same body without
/// the f32 recurrent layout's variant tag (the byte after the `Some` of the f32 part), version 4,
/// length and CRC fixed (its arrays are then misaligned by one byte, which the reader allows).
fn as_version_4(v5: &[u8]) -> Vec<u8> {
    let view = ModelView::from_bytes(v5).unwrap();
    assert_eq!(view.rec_layout(), Some(RecLayout::Rows));
    let b_o = view
        .sections()
        .into_iter()
        .find(|(n, _)| *n == "b_o")
        .unwrap()
        .1;
    let at = b_o.end;
    assert_eq!(&v5[at..at + 2], &[1, 0], "Some(f32 part), RecWire::Rows");
    let mut v4 = v5[..at + 1].to_vec();
    v4.extend(&v5[at + 2..v5.len() - CRC_LEN]);
    v4[4..6].copy_from_slice(&4u16.to_le_bytes());
    let len = (v4.len() + CRC_LEN) as u32;
    v4[8..12].copy_from_slice(&len.to_le_bytes());
    let c = crc32(&v4);
    v4.extend(c.to_le_bytes());
    v4
}

/// The same steps (f32, and int8 when the blob has it) on two views: equal bits, on mostly zero
/// inputs, as the tasks give, and one step with none.
fn same_steps(a: &ModelView<'_>, b: &ModelView<'_>, repr: &ModelRepr, what: &str) {
    for int8 in [false, true] {
        if int8 && repr.int8.is_none() {
            continue;
        }
        let inputs = (0..3).map(|t| {
            (0..repr.n_inputs)
                .map(|j| {
                    if (j + t) % 3 == 0 && t < 2 {
                        0.25 + j as f32 * 0.125
                    } else {
                        0.0
                    }
                })
                .collect()
        });
        assert_same_steps(a, b, int8, inputs, what);
    }
}

/// Version-5 blobs (dense input matrices in rows) still open: the same model (re-encoding writes
/// the version-6 blob byte for byte) and the same steps, f32 and int8; a matrix by column under a
/// version-5 header, or an output matrix by column in any version, is refused.
#[test]
fn version_5_blobs_open_with_inputs_by_row() {
    let mut by_column = 0;
    for (k, spec) in specs().into_iter().enumerate() {
        let repr = random_model(k as u64, spec);
        let v6 = repr.to_bytes().unwrap();
        let v6view = ModelView::from_bytes(&v6).unwrap();
        assert_eq!(v6view.version(), 6);
        let v5 = as_version_5(&v6);
        let view = ModelView::from_bytes(&v5).unwrap();
        assert_eq!(view.version(), 5);
        assert_eq!(ModelRepr::parse(&view), repr, "spec {k}");
        assert_eq!(ModelRepr::parse(&view).emit(), v6, "spec {k}");
        same_steps(&view, &v6view, &repr, &format!("spec {k}"));
        let cols: Vec<_> = v6view
            .sections()
            .into_iter()
            .filter(|(n, _)| n.ends_with("(dense, by column)"))
            .collect();
        if cols.is_empty() {
            continue;
        }
        by_column += 1;
        let mut wrong = v6.clone();
        wrong[4..6].copy_from_slice(&5u16.to_le_bytes());
        fix_crc(&mut wrong);
        let e = ModelView::from_bytes(&wrong).unwrap_err();
        assert!(matches!(e, FormatError::ByColumn { .. }), "{e}");
        assert!(e.to_string().contains("version 6"), "{e}");
        // The output matrix by column: the f32 or int8 output's dense tag (0) turned into 2.
        for (name, range) in v6view.sections() {
            if !name.ends_with("output: weights (dense)") {
                continue;
            }
            let mut out = v6.clone();
            let p = range.start - if range.len() >= 128 { 2 } else { 1 };
            let tag = (0..4)
                .map(|pad| p - pad - 2)
                .find(|&t| out[t] == 0 && out[t + 1] <= 3)
                .unwrap();
            out[tag] = 2;
            fix_crc(&mut out);
            let e = ModelView::from_bytes(&out).unwrap_err();
            assert!(matches!(e, FormatError::ByColumn { .. }), "{name}: {e}");
        }
    }
    assert!(
        by_column >= 3,
        "specs with a dense input matrix: {by_column}"
    );
}

/// Version-4 blobs still open, as lane groups: the same model (re-encoding writes the version-5
/// blob byte for byte) and the same steps; a version-5 body under a version-4 header, or the
/// reverse, is refused as malformed.
#[test]
fn version_4_blobs_open_as_lane_groups() {
    for (k, spec) in base_specs().into_iter().enumerate() {
        let repr = random_model(k as u64, spec);
        let v5 = as_version_5(&repr.to_bytes().unwrap());
        let v4 = as_version_4(&v5);
        assert_eq!(v4.len() + 1, v5.len());
        let view = ModelView::from_bytes(&v4).unwrap();
        assert_eq!(view.rec_layout(), Some(RecLayout::Rows));
        assert_eq!(view.version(), 4);
        // Its arrays are misaligned at any address, so a runtime built without the feature
        // `misaligned` (the firmware) refuses to step it, and says to re-encode it.
        let aligned = AlignedCopy::new(&v4);
        assert!(!ModelView::from_bytes(aligned.bytes())
            .unwrap()
            .is_zero_copy());
        let text = kernel::KernelError::Misaligned.to_string();
        assert!(
            text.contains("version-4") && text.contains("reencode"),
            "{text}"
        );
        assert_eq!(ModelView::from_bytes(&v5).unwrap().version(), 5);
        assert_eq!(ModelRepr::parse(&view), repr, "spec {k}");
        assert_eq!(ModelRepr::parse(&view).emit(), repr.emit(), "spec {k}");
        let v5view = ModelView::from_bytes(&v5).unwrap();
        let inputs = (0..3).map(|_| vec![0.25; repr.n_inputs]);
        assert_same_steps(&view, &v5view, false, inputs, &format!("spec {k}"));
        let mut wrong = v5.clone();
        wrong[4..6].copy_from_slice(&4u16.to_le_bytes());
        fix_crc(&mut wrong);
        assert_eq!(
            ModelView::from_bytes(&wrong).unwrap_err(),
            FormatError::Malformed
        );
        let mut wrong = v4.clone();
        wrong[4..6].copy_from_slice(&5u16.to_le_bytes());
        fix_crc(&mut wrong);
        assert!(ModelView::from_bytes(&wrong).is_err());
    }
}
