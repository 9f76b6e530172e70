//! The feature `misaligned`: with it (the default) a blob at an address that is not 4-aligned
//! steps through the little-endian views, bit for bit like an aligned copy; without it (the
//! firmware's build: `./test.sh` also runs this file with `--no-default-features`) every kernel
//! entry point refuses such a blob with `KernelError::Misaligned`, and the aligned copy steps.

mod common;

use common::{assert_same_steps, random_model, Misaligned, Spec};
use gyrus_runtime::aligned::AlignedCopy;
use gyrus_runtime::format::ModelView;
use gyrus_runtime::kernel::{self, phase, KernelError, State};

#[test]
fn a_misaligned_blob_steps_only_with_the_feature() {
    let repr = random_model(
        7,
        Spec {
            int8: true,
            ..Spec::default()
        },
    );
    let blob = repr.to_bytes().unwrap();
    let (a, m) = (AlignedCopy::new(&blob), Misaligned::new(&blob));
    let (aligned, misaligned) = (
        ModelView::from_bytes(a.bytes()).unwrap(),
        ModelView::from_bytes(m.bytes()).unwrap(),
    );
    assert!(aligned.is_zero_copy());
    assert!(!misaligned.is_zero_copy());
    let n = repr.n_hidden;
    let u: Vec<f32> = (0..repr.n_inputs).map(|j| (j % 3) as f32 * 0.5).collect();
    for int8 in [false, true] {
        let mut acc = vec![0.0; n];
        let phase_got = phase::input(&misaligned, &u, &mut acc, int8);
        if cfg!(feature = "misaligned") {
            phase_got.unwrap();
            assert_same_steps(&aligned, &misaligned, int8, [u.clone()], "misaligned");
        } else {
            assert_eq!(phase_got, Err(KernelError::Misaligned), "int8 {int8}");
            let step = if int8 {
                kernel::step_int8
            } else {
                kernel::step
            };
            let mut buf = vec![0.0; State::buffer_len(n)];
            let mut state = State::new(n, &mut buf).unwrap();
            let mut out = vec![0.0; repr.n_outputs];
            let got = step(&misaligned, &mut state, &u, &mut out);
            assert_eq!(got, Err(KernelError::Misaligned), "int8 {int8}");
            assert!(got.unwrap_err().to_string().contains("aligned buffer"));
            // The refused step left the state as it was.
            assert!(state.hidden().iter().all(|&x| x == 0.0));
        }
    }
}
