//! The phases of one step, one function each, so that firmware and benchmarks can time them apart
//! (the recurrent sparse product alone, per stored weight). Calling them in this order on `h` and
//! a second buffer `next` gives exactly the bits of [`super::step`] / [`super::step_int8`], which
//! run the same code:
//!
//! ```text
//! phase::recurrent(&model, h, next, None)?;   // next = W h          (int8: Some(hq), see below)
//! phase::input(&model, u, next, int8)?;       // next = next + W_in u + b_h (int8: on integers)
//! phase::activation(&model, h, next)?;        // next = (1 - alpha) h + alpha phi(next)
//! phase::readout(&model, next, out, None)?;   // out  = W_out next + b_o  (int8: Some(hq), see below)
//! ```
//!
//! The int8 recurrent product takes a scratch of `n_hidden + 1` i16, where it quantises `h`
//! (`phase::recurrent(&model, h, next, Some(hq))`: `next = ((q hq) 2^-f) s`, see
//! `kernel::pairs`); its cost includes the quantisation. The int8 readout takes the same scratch
//! (`phase::readout(&model, next, out, Some(hq))`), where it quantises `next`; the int8 input
//! product quantises the inputs on the stack (`kernel::qio`). [`super::step_int8`] uses the
//! state's scratches ([`super::State`]) and quantises the hidden state once per step instead of
//! twice (its readout writes the new state in both orders, and the next step's recurrent
//! product reuses it); the phases keep quantising what each needs, so their costs stay
//! comparable, and chained they give the same bits.
//!
//! Every function checks the lengths of its vectors (and, with `int8`, that the blob has the int8
//! variant) and is an `#[inline(never)]` entry point.

use super::activation::leaky_update;
use super::diag::Hidden;
use super::{sparse, KernelError};
use crate::format::{ModelView, DIAG_PAD};

fn len(needed: usize, got: usize, e: fn(usize, usize) -> KernelError) -> Result<(), KernelError> {
    if needed == got {
        Ok(())
    } else {
        Err(e(needed, got))
    }
}

fn hidden(needed: usize, got: usize) -> KernelError {
    KernelError::Hidden { needed, got }
}

/// The weights a phase reads are present: int8 with `int8`, else f32.
fn int8_present(model: &ModelView<'_>, int8: bool) -> Result<(), KernelError> {
    if int8 && model.le.int8.is_none() {
        Err(KernelError::NoInt8)
    } else if !int8 && model.le.f32.is_none() {
        Err(KernelError::NoF32)
    } else {
        Ok(())
    }
}

/// Runs `$body` with `$net` bound to the model's arrays (zero-copy slices or, with the feature
/// `misaligned`, little-endian views); without the feature a misaligned blob returns
/// [`KernelError::Misaligned`] from the calling function.
macro_rules! with_net {
    ($model:expr, $net:ident => $body:expr) => {
        match &$model.fast {
            Some($net) => $body,
            #[cfg(feature = "misaligned")]
            None => {
                let $net = &$model.le;
                $body
            }
            #[cfg(not(feature = "misaligned"))]
            None => return Err(KernelError::Misaligned),
        }
    };
}

/// Recurrent product: `acc = W h` with the f32 weights (`int8 = None`), or with the int8 ones
/// given a scratch of at least `n_hidden + 1` entries (`int8 = Some(hq)`): `h` quantised into
/// `hq`, then `acc_i = ((sum_j q_ij hq_j) 2^-f) s_i`. `h` and `acc` have n_hidden entries. Cost ~
/// stored recurrent weights (int8: pairs of adjacent columns, plus the quantisation; f32 in the
/// diagonal layout: weight slots, and the reads outside `h` bounds-checked, see
/// [`recurrent_padded`]).
#[inline(never)]
pub fn recurrent(
    model: &ModelView<'_>,
    h: &[f32],
    acc: &mut [f32],
    int8: Option<&mut [i16]>,
) -> Result<(), KernelError> {
    len(model.n_hidden(), h.len(), hidden)?;
    recurrent_of(model, Hidden::Plain(h), acc, int8)
}

/// [`recurrent`] on a padded state: `hp` is [`DIAG_PAD`] zeros, `h` (n_hidden values),
/// [`DIAG_PAD`] zeros, as [`super::State::padded_parts`] gives it; the f32 product over the
/// diagonal layout reads the pads instead of checking bounds (what [`super::step`] runs). The
/// same bits as [`recurrent`] on `h` when the pads are zero (nonzero pads change the sums; they
/// are never read out of bounds).
#[inline(never)]
pub fn recurrent_padded(
    model: &ModelView<'_>,
    hp: &[f32],
    acc: &mut [f32],
    int8: Option<&mut [i16]>,
) -> Result<(), KernelError> {
    len(model.n_hidden() + 2 * DIAG_PAD, hp.len(), hidden)?;
    recurrent_of(model, Hidden::Padded(hp), acc, int8)
}

fn recurrent_of(
    model: &ModelView<'_>,
    x: Hidden<'_>,
    acc: &mut [f32],
    int8: Option<&mut [i16]>,
) -> Result<(), KernelError> {
    let n = model.n_hidden();
    len(n, acc.len(), hidden)?;
    match int8 {
        None => {
            int8_present(model, false)?;
            // SAFETY: `sparse::recurrent` needs a validated net (`model` is a `ModelView`, built
            // only by validation), `x` of n_hidden values (plain or padded: checked by the
            // callers), `acc` of length n_hidden (checked above) and, without `hq`, the f32
            // weights (`int8_present` just checked them).
            with_net!(model, net => unsafe { sparse::recurrent(net, x, acc, None, false) })
        }
        Some(hq) => {
            int8_present(model, true)?;
            if hq.len() <= n {
                return Err(KernelError::Scratch {
                    needed: n + 1,
                    got: hq.len(),
                });
            }
            // SAFETY: as above, with `hq` longer than n_hidden (checked just before) and the int8
            // weights present (`int8_present`).
            with_net!(model, net => unsafe { sparse::recurrent(net, x, acc, Some(hq), false) });
        }
    }
    Ok(())
}

/// Input product and hidden bias, added to the recurrent part: `acc = acc + W_in u + b_h` (int8:
/// `acc_i + s'_i sum_k q'_ik u_k + b_h,i`). `u` has n_inputs entries, `acc` n_hidden.
#[inline(never)]
pub fn input(
    model: &ModelView<'_>,
    u: &[f32],
    acc: &mut [f32],
    int8: bool,
) -> Result<(), KernelError> {
    len(model.n_hidden(), acc.len(), hidden)?;
    len(model.n_inputs(), u.len(), |needed, got| {
        KernelError::Input { needed, got }
    })?;
    int8_present(model, int8)?;
    // SAFETY: `sparse::input` needs a validated net (a `ModelView`), `acc` of length n_hidden and
    // `u` of length n_inputs (both checked above), and the int8 weights when `int8` (checked by
    // `int8_present`).
    with_net!(model, net => unsafe { sparse::input(net, u, acc, int8) });
    Ok(())
}

/// Nonlinearity and leak, in place on the pre-activation: `next = (1 - alpha) h + alpha
/// phi(next)`. Same for f32 and int8 weights.
#[inline(never)]
pub fn activation(model: &ModelView<'_>, h: &[f32], next: &mut [f32]) -> Result<(), KernelError> {
    let n = model.n_hidden();
    len(n, h.len(), hidden)?;
    len(n, next.len(), hidden)?;
    leaky_update(model.activation(), model.alpha(), h, next);
    Ok(())
}

/// Readout: `out = W_out h + b_o` with the f32 weights (`int8 = None`), or with the int8 ones given
/// a scratch of at least `n_hidden + 1` entries (`int8 = Some(hq)`): `h` quantised into `hq`, then
/// `out_r = ((sum_j q_rj hq_j) 2^-f) s_r + b_o,r` (`kernel::qio`). `h` has n_hidden entries, `out`
/// n_outputs.
#[inline(never)]
pub fn readout(
    model: &ModelView<'_>,
    h: &[f32],
    out: &mut [f32],
    int8: Option<&mut [i16]>,
) -> Result<(), KernelError> {
    let n = model.n_hidden();
    len(n, h.len(), hidden)?;
    len(model.n_outputs(), out.len(), |needed, got| {
        KernelError::Output { needed, got }
    })?;
    int8_present(model, int8.is_some())?;
    if let Some(hq) = &int8 {
        if hq.len() <= n {
            return Err(KernelError::Scratch {
                needed: n + 1,
                got: hq.len(),
            });
        }
    }
    // SAFETY: as in `recurrent`.
    with_net!(model, net => unsafe { sparse::readout(net, h, out, int8, None) });
    Ok(())
}
