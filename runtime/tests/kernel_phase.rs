//! `kernel::phase`: chaining the four phases gives exactly the bits of `kernel::step` /
//! `kernel::step_int8` (aligned zero-copy and misaligned blobs, which must also agree with each
//! other), and each phase checks its sizes.

mod common;

use common::{random_model, Misaligned, Spec};
use gyrus_runtime::aligned::AlignedCopy;
use gyrus_runtime::format::ModelView;
use gyrus_runtime::kernel::{self, phase, KernelError, State};
use gyrus_runtime::tasks::Rng;

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Runs 12 steps with `kernel::step[_int8]` and with the phases; returns both (hidden, output)
/// bit traces.
fn traces(view: &ModelView<'_>, int8: bool, seed: u64) -> (Vec<u32>, Vec<u32>) {
    let (n, ni, no) = (view.n_hidden(), view.n_inputs(), view.n_outputs());
    let mut rng = Rng::new(seed);
    let mut buf = vec![0.0; State::buffer_len(n)];
    let mut state = State::new(n, &mut buf).unwrap();
    let (mut h, mut next) = (vec![0.0f32; n], vec![0.0f32; n]);
    let (mut o1, mut o2) = (vec![0.0; no], vec![0.0; no]);
    let mut hq = vec![0i16; n + 1];
    let (mut t1, mut t2) = (Vec::new(), Vec::new());
    for _ in 0..12 {
        let u: Vec<f32> = (0..ni).map(|_| 2.0 * rng.uniform() - 0.5).collect();
        if int8 {
            kernel::step_int8(view, &mut state, &u, &mut o1).unwrap();
        } else {
            kernel::step(view, &mut state, &u, &mut o1).unwrap();
        }
        let scratch = if int8 { Some(&mut hq[..]) } else { None };
        phase::recurrent(view, &h, &mut next, scratch).unwrap();
        phase::input(view, &u, &mut next, int8).unwrap();
        phase::activation(view, &h, &mut next).unwrap();
        let scratch = if int8 { Some(&mut hq[..]) } else { None };
        phase::readout(view, &next, &mut o2, scratch).unwrap();
        core::mem::swap(&mut h, &mut next);
        t1.extend(bits(state.hidden()).into_iter().chain(bits(&o1)));
        t2.extend(bits(&h).into_iter().chain(bits(&o2)));
    }
    (t1, t2)
}

#[test]
fn phases_chained_equal_step_bit_for_bit() {
    let specs = [
        Spec {
            int8: true,
            ..Spec::default()
        },
        Spec {
            rows: 9,
            cols: 8,
            radius: 2.3,
            prune_every: 5,
            out_zero_fraction: 0.6,
            alpha: 0.3,
            int8: true,
            ..Spec::default()
        },
    ];
    for (k, spec) in specs.into_iter().enumerate() {
        let blob = random_model(40 + k as u64, spec).emit();
        let (al, mis) = (AlignedCopy::new(&blob), Misaligned::new(&blob));
        let fast = ModelView::from_bytes(al.bytes()).unwrap();
        let slow = ModelView::from_bytes(mis.bytes()).unwrap();
        assert!(fast.is_zero_copy() && !slow.is_zero_copy());
        for int8 in [false, true] {
            let (a, b) = traces(&fast, int8, k as u64);
            assert_eq!(a, b, "spec {k} int8={int8}: phases vs step");
            let (c, _) = traces(&slow, int8, k as u64);
            assert_eq!(a, c, "spec {k} int8={int8}: zero-copy vs misaligned");
            // The traces are not trivially zero.
            assert!(a.iter().any(|&x| x != 0));
        }
    }
}

#[test]
fn phases_check_sizes() {
    let repr = random_model(3, Spec::default());
    let blob = repr.emit();
    let view = ModelView::from_bytes(&blob).unwrap();
    let (n, ni, no) = (view.n_hidden(), view.n_inputs(), view.n_outputs());
    let (h, mut acc) = (vec![0.0; n], vec![0.0; n]);
    let mut short = vec![0.0; n - 1];
    assert_eq!(
        phase::recurrent(&view, &h, &mut short, None),
        Err(KernelError::Hidden {
            needed: n,
            got: n - 1
        })
    );
    assert_eq!(
        phase::recurrent(&view, &h, &mut acc, Some(&mut vec![0; n + 1])),
        Err(KernelError::NoInt8)
    );
    let int8 = random_model(
        3,
        Spec {
            int8: true,
            ..Spec::default()
        },
    )
    .emit();
    let int8 = ModelView::from_bytes(&int8).unwrap();
    assert_eq!(
        phase::recurrent(&int8, &h, &mut acc, Some(&mut vec![0; n])),
        Err(KernelError::Scratch {
            needed: n + 1,
            got: n
        })
    );
    assert_eq!(
        phase::readout(&int8, &h, &mut vec![0.0; no], Some(&mut vec![0; n])),
        Err(KernelError::Scratch {
            needed: n + 1,
            got: n
        })
    );
    assert_eq!(
        phase::input(&view, &vec![0.0; ni + 1], &mut acc, false),
        Err(KernelError::Input {
            needed: ni,
            got: ni + 1
        })
    );
    assert_eq!(
        phase::activation(&view, &short, &mut acc),
        Err(KernelError::Hidden {
            needed: n,
            got: n - 1
        })
    );
    assert_eq!(
        phase::readout(&view, &h, &mut vec![0.0; no + 2], None),
        Err(KernelError::Output {
            needed: no,
            got: no + 2
        })
    );
    assert_eq!(phase::readout(&view, &h, &mut vec![0.0; no], None), Ok(()));
}
