//! Property tests: no byte string makes the opener panic; every corrupted blob is refused; and
//! any blob the opener accepts can be stepped without panicking (the validation is enough for the
//! kernels' unchecked access).

mod common;

use common::{random_model, Spec};
use gyrus_runtime::format::{crc32, FormatError, ModelView, CRC_LEN, HEADER_LEN};
use gyrus_runtime::kernel::{self, State};
use proptest::prelude::*;
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

/// Steps an accepted model a few times with both kernels; must not panic.
fn exercise(view: &ModelView<'_>) {
    let mut buf = vec![0.0; State::buffer_len(view.n_hidden())];
    let mut state = State::new(view.n_hidden(), &mut buf).unwrap();
    let input = vec![0.5; view.n_inputs()];
    let mut out = vec![0.0; view.n_outputs()];
    for _ in 0..3 {
        kernel::step(view, &mut state, &input, &mut out).unwrap();
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
    fn unknown_versions_are_refused_by_version(version in 2u16..) {
        let mut blob = valid().to_vec();
        blob[4..6].copy_from_slice(&version.to_le_bytes());
        fix_crc(&mut blob);
        prop_assert_eq!(
            ModelView::from_bytes(&blob).unwrap_err(),
            FormatError::UnsupportedVersion { found: version, supported: 1 }
        );
    }
}

#[test]
fn the_valid_blob_opens() {
    let view = ModelView::from_bytes(valid()).unwrap();
    exercise(&view);
}
