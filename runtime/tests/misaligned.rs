//! The feature `misaligned`: with it (the default) a blob at an address that is not 4-aligned
//! steps through the little-endian views, bit for bit like an aligned copy; without it (the
//! firmware's build: `./test.sh` also runs this file with `--no-default-features`) every kernel
//! entry point refuses such a blob with `KernelError::Misaligned`, and the aligned copy steps.

mod common;

use common::{random_model, Misaligned, Spec};
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
        let step = if int8 {
            kernel::step_int8
        } else {
            kernel::step
        };
        let (mut b1, mut b2) = (
            vec![0.0; State::buffer_len(n)],
            vec![0.0; State::buffer_len(n)],
        );
        let (mut s1, mut s2) = (
            State::new(n, &mut b1).unwrap(),
            State::new(n, &mut b2).unwrap(),
        );
        let (mut o1, mut o2) = (vec![0.0; repr.n_outputs], vec![0.0; repr.n_outputs]);
        step(&aligned, &mut s1, &u, &mut o1).unwrap();
        let got = step(&misaligned, &mut s2, &u, &mut o2);
        let mut acc = vec![0.0; n];
        let phase_got = phase::input(&misaligned, &u, &mut acc, int8);
        if cfg!(feature = "misaligned") {
            got.unwrap();
            phase_got.unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&o1), bits(&o2), "int8 {int8}");
            assert_eq!(bits(s1.hidden()), bits(s2.hidden()), "int8 {int8}");
        } else {
            assert_eq!(got, Err(KernelError::Misaligned), "int8 {int8}");
            assert_eq!(phase_got, Err(KernelError::Misaligned), "int8 {int8}");
            assert!(got.unwrap_err().to_string().contains("aligned buffer"));
            // The refused step left the state as it was.
            assert!(s2.hidden().iter().all(|&x| x == 0.0));
        }
    }
}
