//! `kernel::phase`: chaining the four phases gives exactly the bits of `kernel::step` /
//! `kernel::step_int8` (aligned zero-copy and misaligned blobs, which must also agree with each
//! other), and each phase checks its sizes. `kernel::step_int8` quantises the hidden state once
//! per step (the readout leaves it quantised for the next step, `State`): it must equal the
//! phases, which quantise what each needs, and must quantise again after anything else changed
//! the state.

mod common;

use common::{random_model, Misaligned, Spec};
use gyrus_runtime::aligned::AlignedCopy;
use gyrus_runtime::format::ModelView;
use gyrus_runtime::kernel::{self, dense, phase, KernelError, State};
use gyrus_runtime::tasks::Rng;

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Runs 12 steps with `kernel::step[_int8]` and with the phases; returns both (hidden, output)
/// bit traces. From the second step on, `step_int8` reuses the quantised state its readout left
/// in the state's scratch, while `phase::recurrent` quantises `h` itself.
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

/// `step_int8` skips quantising `h` when the state's scratch is known to hold it (the previous
/// int8 step left it there). Each case: 3 int8 steps, then something else changes the state (or
/// the last step uses another activation format), then one int8 step, which must give the bits
/// of a fresh state started from the same `h`.
#[test]
fn int8_step_requantises_after_anything_else_changed_the_state() {
    let repr = random_model(
        7,
        Spec {
            int8: true,
            ..Spec::default()
        },
    );
    let mut other = repr.clone();
    other.int8.as_mut().unwrap().act_frac_bits -= 3;
    let (a, b) = (
        AlignedCopy::new(&repr.emit()),
        AlignedCopy::new(&other.emit()),
    );
    let view = ModelView::from_bytes(a.bytes()).unwrap();
    let view2 = ModelView::from_bytes(b.bytes()).unwrap();
    let (n, ni, no) = (view.n_hidden(), view.n_inputs(), view.n_outputs());
    let mut rng = Rng::new(5);
    let inputs: Vec<Vec<f32>> = (0..4)
        .map(|_| (0..ni).map(|_| 2.0 * rng.uniform() - 0.5).collect())
        .collect();
    let mut dbuf = vec![0.0; dense::Dense::buffer_len(&view)];
    let dense_model = dense::Dense::expand(&view, &mut dbuf).unwrap();
    let u = &inputs[3];
    type Change<'c> = &'c dyn Fn(&mut State<'_>);
    let cases: [(&str, Change<'_>, &ModelView<'_>); 7] = [
        ("nothing", &|_| {}, &view),
        (
            "hidden_mut",
            &|s| {
                for (i, x) in s.hidden_mut().iter_mut().enumerate() {
                    *x = 0.25 * (i % 5) as f32 - 0.4;
                }
            },
            &view,
        ),
        ("reset", &|s| s.reset(), &view),
        ("padded_parts", &|s| s.padded_parts().2.fill(12345), &view),
        (
            "f32 step",
            &|s| kernel::step(&view, s, u, &mut vec![0.0; no]).unwrap(),
            &view,
        ),
        (
            "dense step",
            &|s| dense::step_dense(&dense_model, s, u, &mut vec![0.0; no]).unwrap(),
            &view,
        ),
        ("another activation format", &|_| {}, &view2),
    ];
    for (name, change, last) in cases {
        let mut buf = vec![0.0; State::buffer_len(n)];
        let mut state = State::new(n, &mut buf).unwrap();
        let mut out = vec![0.0; no];
        for u in &inputs[..3] {
            kernel::step_int8(&view, &mut state, u, &mut out).unwrap();
        }
        change(&mut state);
        let h = state.hidden().to_vec();
        kernel::step_int8(last, &mut state, &inputs[3], &mut out).unwrap();
        let mut fresh_buf = vec![0.0; State::buffer_len(n)];
        let mut fresh = State::new(n, &mut fresh_buf).unwrap();
        fresh.hidden_mut().copy_from_slice(&h);
        let mut fresh_out = vec![0.0; no];
        kernel::step_int8(last, &mut fresh, &inputs[3], &mut fresh_out).unwrap();
        assert_eq!(bits(state.hidden()), bits(fresh.hidden()), "{name}: state");
        assert_eq!(bits(&out), bits(&fresh_out), "{name}: output");
        assert!(out.iter().any(|&x| x != 0.0), "{name}: trivial output");
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
