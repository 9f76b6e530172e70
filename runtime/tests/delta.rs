//! Event-driven (delta) execution against the plain kernel: the outgoing structure is the
//! transpose, theta = 0 follows the plain kernel over whole trials, a huge theta sends nothing
//! (the network runs as if it had no recurrent weights), and the last-sent values stay within
//! theta of the state they were sent from.

mod common;

use common::{random_model, Spec};
use gyrus_runtime::format::{Activation, CsrRepr, ModelView};
use gyrus_runtime::kernel::delta::{self, DeltaError, DeltaState, Outgoing};
use gyrus_runtime::kernel::{self, State};
use gyrus_runtime::tasks::{argmax, eval_trial, Config, Task, TaskList};

struct Bufs {
    off: Vec<u32>,
    tgt: Vec<u16>,
    w: Vec<f32>,
}

fn bufs(view: &ModelView<'_>) -> Bufs {
    let (a, b, c) = Outgoing::buffer_lens(view);
    Bufs {
        off: vec![0; a],
        tgt: vec![0; b],
        w: vec![0.0; c],
    }
}

fn spec(activation: Activation) -> Spec {
    Spec {
        rows: 6,
        cols: 6,
        radius: 1.5,
        activation,
        alpha: 0.2,
        ..Spec::default()
    }
}

#[test]
fn outgoing_is_the_transpose() {
    let m = random_model(3, spec(Activation::Tanh));
    let blob = m.to_bytes().unwrap();
    let view = ModelView::from_bytes(&blob).unwrap();
    let mut b = bufs(&view);
    let out = Outgoing::build(&view, &mut b.off, &mut b.tgt, &mut b.w).unwrap();
    let n = view.n_hidden();
    let dense = m.recurrent.to_dense();
    assert_eq!(out.n_units(), n);
    assert_eq!(out.nnz(), m.recurrent.nnz());
    for j in 0..n {
        let want: Vec<(u16, f32)> = (0..n)
            .filter(|&i| dense[i * n + j] != 0.0)
            .map(|i| (i as u16, dense[i * n + j]))
            .collect();
        let (t, w) = out.of(j);
        let got: Vec<(u16, f32)> = t.iter().copied().zip(w.iter().copied()).collect();
        assert_eq!(got, want, "column {j}");
    }
}

/// Runs `trials` trials of each task with the plain kernel and the delta kernel side by side;
/// returns the largest output difference, and checks decisions and the send invariant.
fn compare(m: &gyrus_runtime::format::ModelRepr, theta: f32, trials: u64) -> (f32, u64, u64) {
    let blob = m.to_bytes().unwrap();
    let view = ModelView::from_bytes(&blob).unwrap();
    let mut b = bufs(&view);
    let out = Outgoing::build(&view, &mut b.off, &mut b.tgt, &mut b.w).unwrap();
    let n = view.n_hidden();
    let tasks: Vec<Task> = m.tasks.iter().map(|s| Task::parse(s).unwrap()).collect();
    let list = TaskList::Custom(&tasks);
    let cfg = Config::default();
    let mut pbuf = vec![0.0; State::buffer_len(n)];
    let mut dbuf = vec![0.0; DeltaState::buffer_len(n)];
    let mut plain = State::new(n, &mut pbuf).unwrap();
    let mut ds = DeltaState::new(n, &mut dbuf).unwrap();
    let mut input = vec![0.0; view.n_inputs()];
    let (mut o1, mut o2) = (vec![0.0; view.n_outputs()], vec![0.0; view.n_outputs()]);
    let (mut worst, mut messages, mut updates) = (0.0f32, 0u64, 0u64);
    let mut steps = 0u64;
    for rule in 0..tasks.len() {
        for i in 0..trials {
            let (trial, mut rng) = eval_trial(&list, rule, 11, i, &cfg).unwrap();
            plain.reset();
            ds.reset();
            for t in 0..trial.len() {
                trial.write_step(t, &mut rng, &mut input).unwrap();
                let before: Vec<f32> = ds.hidden().to_vec();
                kernel::step(&view, &mut plain, &input, &mut o1).unwrap();
                let c = delta::step(&view, &out, &mut ds, theta, &input, &mut o2).unwrap();
                for (h, s) in before.iter().zip(ds.sent()) {
                    assert!((h - s).abs() <= theta, "sent value drifted past theta");
                }
                assert!(c.messages as usize <= n);
                assert!(c.updates as usize <= out.nnz());
                messages += u64::from(c.messages);
                updates += u64::from(c.updates);
                steps += 1;
                if theta == 0.0 {
                    assert_eq!(argmax(&o1), argmax(&o2), "decision differs at step {t}");
                }
                for (a, b) in o1.iter().zip(&o2) {
                    worst = worst.max((a - b).abs());
                }
            }
        }
    }
    assert!(steps > 0);
    (worst, messages, updates)
}

#[test]
fn theta_zero_follows_the_plain_kernel_over_whole_trials() {
    for act in [Activation::Tanh, Activation::Relu, Activation::Softplus] {
        let m = random_model(5, spec(act));
        let (worst, messages, updates) = compare(&m, 0.0, 4);
        assert!(worst <= 1e-5, "{act:?}: outputs differ by {worst}");
        assert!(messages > 0 && updates > 0);
    }
}

#[test]
fn a_larger_theta_sends_fewer_messages() {
    let m = random_model(7, spec(Activation::Tanh));
    let (_, m0, u0) = compare(&m, 0.0, 2);
    let (_, m1, u1) = compare(&m, 0.05, 2);
    assert!(m1 < m0, "theta 0.05 sent {m1} messages, theta 0 {m0}");
    assert!(u1 < u0);
}

#[test]
fn a_huge_theta_runs_the_network_without_recurrence() {
    let m = random_model(9, spec(Activation::Tanh));
    let mut cut = m.clone();
    let n = m.n_hidden;
    cut.recurrent = CsrRepr::from_dense(n, n, &vec![0.0; n * n], |x| x != 0.0);
    let (blob, blob_cut) = (m.to_bytes().unwrap(), cut.to_bytes().unwrap());
    let (view, view_cut) = (
        ModelView::from_bytes(&blob).unwrap(),
        ModelView::from_bytes(&blob_cut).unwrap(),
    );
    let mut b = bufs(&view);
    let out = Outgoing::build(&view, &mut b.off, &mut b.tgt, &mut b.w).unwrap();
    let mut pbuf = vec![0.0; State::buffer_len(n)];
    let mut dbuf = vec![0.0; DeltaState::buffer_len(n)];
    let mut plain = State::new(n, &mut pbuf).unwrap();
    let mut ds = DeltaState::new(n, &mut dbuf).unwrap();
    let input: Vec<f32> = (0..view.n_inputs()).map(|k| (k % 3) as f32 * 0.5).collect();
    let (mut o1, mut o2) = (vec![0.0; view.n_outputs()], vec![0.0; view.n_outputs()]);
    for _ in 0..20 {
        kernel::step(&view_cut, &mut plain, &input, &mut o1).unwrap();
        let c = delta::step(&view, &out, &mut ds, 1e9, &input, &mut o2).unwrap();
        assert_eq!(c, delta::StepCount::default());
        assert_eq!(o1, o2);
        assert_eq!(plain.hidden(), ds.hidden());
    }
    assert!(ds.hidden().iter().any(|&h| h != 0.0));
}

#[test]
fn bad_buffers_and_theta_are_errors() {
    let m = random_model(1, spec(Activation::Tanh));
    let blob = m.to_bytes().unwrap();
    let view = ModelView::from_bytes(&blob).unwrap();
    let mut b = bufs(&view);
    let mut short = vec![0u16; b.tgt.len() - 1];
    assert!(matches!(
        Outgoing::build(&view, &mut b.off, &mut short, &mut b.w),
        Err(DeltaError::Buffer { .. })
    ));
    let out = Outgoing::build(&view, &mut b.off, &mut b.tgt, &mut b.w).unwrap();
    let n = view.n_hidden();
    let mut tiny = vec![0.0; DeltaState::buffer_len(n) - 1];
    assert!(DeltaState::new(n, &mut tiny).is_err());
    let mut dbuf = vec![0.0; DeltaState::buffer_len(n)];
    let mut ds = DeltaState::new(n, &mut dbuf).unwrap();
    let input = vec![0.0; view.n_inputs()];
    let mut o = vec![0.0; view.n_outputs()];
    for theta in [-0.1, f32::NAN, f32::INFINITY] {
        assert_eq!(
            delta::step(&view, &out, &mut ds, theta, &input, &mut o),
            Err(DeltaError::Theta)
        );
    }
    let mut o_bad = vec![0.0; view.n_outputs() + 1];
    assert!(matches!(
        delta::step(&view, &out, &mut ds, 0.0, &input, &mut o_bad),
        Err(DeltaError::Kernel(_))
    ));
    // A structure built for another model is refused.
    let other = random_model(
        2,
        Spec {
            rows: 3,
            ..spec(Activation::Tanh)
        },
    );
    let blob2 = other.to_bytes().unwrap();
    let view2 = ModelView::from_bytes(&blob2).unwrap();
    assert!(matches!(
        delta::step(&view2, &out, &mut ds, 0.0, &input, &mut o),
        Err(DeltaError::Outgoing { .. }) | Err(DeltaError::Kernel(_))
    ));
}
