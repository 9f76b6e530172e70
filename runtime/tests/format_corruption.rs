//! Property tests: no byte string makes the opener panic; every corrupted blob is refused; and
//! any blob the opener accepts can be stepped without panicking (the validation is enough for the
//! kernels' unchecked access).

mod common;

use common::{random_model, Spec};
use gyrus_runtime::format::{
    crc32, FormatError, ModelRepr, ModelView, Part, RecLayout, CRC_LEN, DIAG_LANES, HEADER_LEN,
    MAX_ACT_FRAC_BITS, OLDEST_READ, VERSION,
};
use gyrus_runtime::kernel::{self, State};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::sync::OnceLock;

fn valid() -> &'static [u8] {
    static BLOB: OnceLock<Vec<u8>> = OnceLock::new();
    BLOB.get_or_init(|| {
        random_model(
            11,
            Spec {
                rows: 3,
                cols: 3,
                int8: true,
                out_zero_fraction: 0.9,
                ..Spec::default()
            },
        )
        .emit()
    })
}

/// A blob with the f32 recurrent weights in diagonals: 34 units on a 6 x 7 sheet (two whole
/// groups of 16 rows and a partial one), int8 weights too.
fn valid_diag() -> &'static [u8] {
    static BLOB: OnceLock<Vec<u8>> = OnceLock::new();
    BLOB.get_or_init(|| random_model(12, Spec::partial_diagonals()).emit())
}

/// Steps an accepted model a few times with both kernels; must not panic. The f32 recurrent
/// product on a plain `h` and on the state's padded one give the same bits.
fn exercise(view: &ModelView<'_>) {
    if view.has_f32() {
        let n = view.n_hidden();
        let hp: Vec<f32> = (0..n + 2 * State::PAD)
            .map(|i| {
                if (State::PAD..State::PAD + n).contains(&i) {
                    (i as f32 * 0.7).sin()
                } else {
                    0.0
                }
            })
            .collect();
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        kernel::phase::recurrent(view, &hp[State::PAD..State::PAD + n], &mut a, None).unwrap();
        kernel::phase::recurrent_padded(view, &hp, &mut b, None).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
    }
    let mut buf = vec![0.0; State::buffer_len(view.n_hidden())];
    let mut state = State::new(view.n_hidden(), &mut buf).unwrap();
    let input = vec![0.5; view.n_inputs()];
    let mut out = vec![0.0; view.n_outputs()];
    for _ in 0..3 {
        if view.has_f32() {
            kernel::step(view, &mut state, &input, &mut out).unwrap();
        }
        if view.int8().is_some() {
            kernel::step_int8(view, &mut state, &input, &mut out).unwrap();
        }
    }
    let _ = gyrus_runtime::measure::measure(view);
}

fn fix_crc(blob: &mut [u8]) {
    let n = blob.len() - CRC_LEN;
    let c = crc32(&blob[..n]);
    blob[n..].copy_from_slice(&c.to_le_bytes());
}

/// XORs `edits` into the section `at` of a copy of `blob` (CRC recomputed): the result is refused,
/// or it steps without panicking and is exactly the canonical encoding of the model it opens as
/// (re-encoding gives the same bytes).
fn edited_is_refused_or_canonical(
    blob: &[u8],
    at: fn(&[u8]) -> std::ops::Range<usize>,
    edits: &[(prop::sample::Index, u8)],
) -> Result<(), TestCaseError> {
    let mut blob = blob.to_vec();
    let at = at(&blob);
    for (i, x) in edits {
        blob[at.start + i.index(at.len())] ^= *x;
    }
    fix_crc(&mut blob);
    if let Ok(view) = ModelView::from_bytes(&blob) {
        exercise(&view);
        prop_assert_eq!(ModelRepr::parse(&view).emit(), blob);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        prop_assert!(ModelView::from_bytes(&bytes).is_err());
    }

    #[test]
    fn random_bodies_behind_a_valid_header_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut blob = valid()[..HEADER_LEN].to_vec();
        blob.extend(&body);
        let len = (blob.len() + CRC_LEN) as u32;
        blob[8..12].copy_from_slice(&len.to_le_bytes());
        blob.extend([0; CRC_LEN]);
        fix_crc(&mut blob);
        // Checksum right, so only the body checks stand between these bytes and the kernel.
        if let Ok(view) = ModelView::from_bytes(&blob) {
            exercise(&view);
        }
    }

    #[test]
    fn bit_flips_are_refused(flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4)) {
        let mut blob = valid().to_vec();
        for (i, bit) in &flips {
            let i = i.index(blob.len());
            blob[i] ^= 1 << bit;
        }
        prop_assume!(blob != valid());
        prop_assert!(ModelView::from_bytes(&blob).is_err());
    }

    #[test]
    fn edits_with_a_recomputed_crc_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut blob = valid().to_vec();
        let body = HEADER_LEN..blob.len() - CRC_LEN;
        for (i, v) in &edits {
            let i = body.start + i.index(body.len());
            blob[i] = *v;
        }
        fix_crc(&mut blob);
        if let Ok(view) = ModelView::from_bytes(&blob) {
            exercise(&view);
        }
    }

    #[test]
    fn truncation_is_refused_as_truncation(cut in 1usize..2000) {
        let blob = valid();
        let len = blob.len().saturating_sub(cut);
        let err = ModelView::from_bytes(&blob[..len]).unwrap_err();
        if len < HEADER_LEN + CRC_LEN {
            prop_assert_eq!(err, FormatError::TooShort { len });
        } else {
            prop_assert_eq!(err, FormatError::Truncated { declared: blob.len() as u32, got: len });
        }
    }

    #[test]
    fn extension_is_refused_as_trailing_bytes(extra in proptest::collection::vec(any::<u8>(), 1..64)) {
        let mut blob = valid().to_vec();
        blob.extend(&extra);
        prop_assert_eq!(
            ModelView::from_bytes(&blob).unwrap_err(),
            FormatError::TrailingBytes { declared: valid().len() as u32, got: blob.len() }
        );
    }

    #[test]
    fn unknown_versions_are_refused_by_version(version in any::<u16>()) {
        prop_assume!(!(OLDEST_READ..=VERSION).contains(&version));
        let mut blob = valid().to_vec();
        blob[4..6].copy_from_slice(&version.to_le_bytes());
        fix_crc(&mut blob);
        prop_assert_eq!(
            ModelView::from_bytes(&blob).unwrap_err(),
            FormatError::UnsupportedVersion { found: version, supported: VERSION }
        );
    }

    /// The int8 pair layout is the only copy of the int8 recurrent weights, so an edit of it
    /// (CRC recomputed) may be another valid matrix; but it is either refused or exactly the
    /// canonical layout of the matrix it opens as (re-encoding gives the same bytes), and it
    /// steps without panicking.
    #[test]
    fn edits_of_the_int8_pair_layout_are_refused_or_canonical(edits in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4)) {
        edited_is_refused_or_canonical(valid(), pair_section, &edits)?;
    }

    /// The same for the f32 recurrent layout: refused, or canonical.
    #[test]
    fn edits_of_the_f32_recurrent_layout_are_refused_or_canonical(edits in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4)) {
        edited_is_refused_or_canonical(valid(), ell_section, &edits)?;
    }

    /// The same for the diagonal layout: refused, or canonical (and stepping reads no byte
    /// outside the padded state: the product on a plain `h` agrees with the padded one).
    #[test]
    fn edits_of_the_f32_diagonal_layout_are_refused_or_canonical(edits in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4)) {
        edited_is_refused_or_canonical(valid_diag(), diag_section, &edits)?;
    }

    /// Any activation format above the maximum is refused.
    #[test]
    fn activation_formats_above_the_maximum_are_refused(bits in (MAX_ACT_FRAC_BITS + 1)..) {
        let mut m = ModelRepr::from_bytes(valid()).unwrap();
        m.int8.as_mut().unwrap().act_frac_bits = bits;
        prop_assert_eq!(
            ModelView::from_bytes(&m.emit()).unwrap_err(),
            FormatError::ActivationFormat(bits)
        );
    }
}

/// Where the int8 pair layout of [`valid`] lies: its words, written out from the documented rule
/// (`common::pair_words`), found in the blob.
fn pair_section(blob: &[u8]) -> std::ops::Range<usize> {
    let m = ModelRepr::from_bytes(blob).unwrap();
    let want: Vec<u8> = common::pair_words(&m)
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let start = blob
        .windows(want.len())
        .position(|w| w == want.as_slice())
        .expect("the blob holds the documented pair layout");
    start..start + want.len()
}

/// Where the f32 recurrent layout of [`valid`] lies: from its group headers to the end of its
/// weights (the length prefixes between them included).
fn ell_section(blob: &[u8]) -> std::ops::Range<usize> {
    let view = ModelView::from_bytes(blob).unwrap();
    let secs = view.sections();
    let at = |prefix: &str| {
        secs.iter()
            .find(|(n, _)| n.starts_with(prefix))
            .unwrap()
            .1
            .clone()
    };
    at("f32 recurrent: group").start..at("f32 recurrent: weights").end
}

/// The bytes of one named section of `blob`.
fn section(blob: &[u8], name: &str) -> std::ops::Range<usize> {
    let view = ModelView::from_bytes(blob).unwrap();
    let secs = view.sections();
    secs.iter().find(|(n, _)| *n == name).unwrap().1.clone()
}

/// Where the diagonal layout of [`valid_diag`] lies: from its counts to the end of its weights.
fn diag_section(blob: &[u8]) -> std::ops::Range<usize> {
    section(blob, "f32 recurrent (diagonal): counts").start
        ..section(blob, "f32 recurrent (diagonal): weights").end
}

/// Hand-made corruptions of the diagonal layout (CRC recomputed), each refused with the error
/// that names it, without panicking: the weight of a lane that stores nothing set to -0.0 or to
/// a nonzero value at a column outside the matrix, two diagonals swapped (not ascending), a
/// diagonal moved so that it holds no stored weight and its window leaves the padded state, a
/// NaN weight, and counts that do not match the arrays.
#[test]
fn corrupted_diagonal_layouts_are_refused() {
    let blob = valid_diag();
    let view = ModelView::from_bytes(blob).unwrap();
    assert_eq!(view.rec_layout(), Some(RecLayout::Diagonal));
    let n = view.n_hidden();
    assert!(n % DIAG_LANES != 0 && n > 2 * DIAG_LANES);
    let (cnt, dia, val) = (
        section(blob, "f32 recurrent (diagonal): counts"),
        section(blob, "f32 recurrent (diagonal): diagonals"),
        section(blob, "f32 recurrent (diagonal): weights"),
    );
    let u16_at = |i: usize| u16::from_le_bytes([blob[i], blob[i + 1]]);
    let f32_at = |i: usize| f32::from_le_bytes(blob[i..i + 4].try_into().unwrap());
    let edit = |at: usize, bytes: &[u8]| {
        let mut b = blob.to_vec();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        fix_crc(&mut b);
        ModelView::from_bytes(&b).map(|_| ())
    };
    let rk = |r: Result<(), FormatError>| {
        matches!(
            r,
            Err(FormatError::ColumnIndex {
                part: Part::RecurrentKernel,
                ..
            })
        )
    };
    // Group 0's first diagonal is the most negative one: its lane 0 reads column o < 0, which
    // stores nothing, so its weight is +0.0.
    let o0 = u16_at(dia.start) as i16;
    assert!(o0 < 0);
    assert_eq!(f32_at(val.start).to_bits(), 0);
    assert!(rk(edit(val.start, &(-0.0f32).to_le_bytes())));
    assert!(rk(edit(val.start, &0.5f32.to_le_bytes())));
    // A stored weight made NaN.
    let stored = (0..DIAG_LANES)
        .map(|l| val.start + 4 * l)
        .find(|&i| f32_at(i) != 0.0)
        .unwrap();
    assert!(matches!(
        edit(stored, &f32::NAN.to_le_bytes()),
        Err(FormatError::BadValue {
            part: Part::RecurrentKernel,
            ..
        })
    ));
    // Diagonals 0 and 1 of group 0 swapped: no longer ascending.
    let o1 = u16_at(dia.start + 2);
    let mut swapped = o1.to_le_bytes().to_vec();
    swapped.extend(o0.to_le_bytes());
    assert!(rk(edit(dia.start, &swapped)));
    // Diagonal 0 moved far before the state: its window leaves the padded state and it stores
    // nothing (the opener checks both; the diagonal must stay below diagonal 1).
    assert!(rk(edit(dia.start, &(-(n as i16) - 20).to_le_bytes())));
    assert!(rk(edit(dia.start, &i16::MIN.to_le_bytes())));
    // Counts that do not add up to the arrays.
    let c0 = u16_at(cnt.start);
    assert!(matches!(
        edit(cnt.start, &(c0 + 1).to_le_bytes()),
        Err(FormatError::Length {
            part: Part::RecurrentKernel,
            ..
        })
    ));
    assert!(matches!(
        edit(cnt.start, &(c0 - 1).to_le_bytes()),
        Err(FormatError::Length {
            part: Part::RecurrentKernel,
            ..
        })
    ));
    // A count moved from one group to the next: lengths match, but group 0's last diagonal is
    // now group 1's first, and its lanes' columns no longer match what is stored.
    let c1 = u16_at(cnt.start + 2);
    let mut moved = (c0 - 1).to_le_bytes().to_vec();
    moved.extend((c1 + 1).to_le_bytes());
    assert!(edit(cnt.start, &moved).is_err());
}

#[test]
fn the_valid_diagonal_blob_opens_and_steps() {
    let view = ModelView::from_bytes(valid_diag()).unwrap();
    exercise(&view);
}

#[test]
fn the_int8_pair_layout_is_the_documented_one() {
    let blob = valid();
    let at = pair_section(blob);
    // More than the header and one step: the layout is not trivial.
    assert!(at.len() > 4 * 7, "{} bytes", at.len());
}

/// A row whose `sum |q|` exceeds the bound is refused (its i32 sum could overflow): 600 units, one
/// dense row of weights +-1 (q = +-127).
#[test]
fn int8_rows_that_could_overflow_are_refused() {
    let n = 600;
    let mut w = vec![0.0f32; n * n];
    for (c, v) in w[..n].iter_mut().enumerate() {
        *v = if c % 3 == 0 { -1.0 } else { 1.0 };
    }
    let mut m = common::random_model(5, Spec::default());
    m.n_hidden = n;
    m.sheet_rows = 30;
    m.sheet_cols = 20;
    m.positions = (0..n as u16).map(|u| (u / 20, u % 20)).collect();
    m.recurrent = gyrus_runtime::format::CsrRepr::from_dense(n, n, &w, |x| x != 0.0);
    m.input = gyrus_runtime::format::MatrixRepr::compact(n, m.n_inputs, &vec![0.1; n * m.n_inputs]);
    m.output =
        gyrus_runtime::format::MatrixRepr::compact(m.n_outputs, n, &vec![0.1; n * m.n_outputs]);
    m.b_h = vec![0.0; n];
    assert!(m.to_bytes().is_ok(), "the f32 model is valid");
    m.quantize_int8(1.0);
    assert_eq!(
        ModelView::from_bytes(&m.emit()).unwrap_err(),
        FormatError::Int8RowRange { row: 0 }
    );
    // The exporter's check refuses it before encoding, with the limit and the row's sum
    // (400 weights +1 and 200 -1, all |q| = 127).
    assert_eq!(
        m.to_bytes().unwrap_err(),
        FormatError::Limit {
            limit: gyrus_runtime::format::Limit::Int8RowAbsQ,
            value: 600 * 127
        }
    );
    // 516 entries of |q| = 127 stay within the bound (65,532).
    for v in &mut w[516..n] {
        *v = 0.0;
    }
    m.recurrent = gyrus_runtime::format::CsrRepr::from_dense(n, n, &w, |x| x != 0.0);
    m.quantize_int8(1.0);
    assert!(ModelView::from_bytes(&m.emit()).is_ok());
}

#[test]
fn the_valid_blob_opens() {
    let view = ModelView::from_bytes(valid()).unwrap();
    exercise(&view);
}
