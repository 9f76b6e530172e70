//! Training batches (streams of concatenated trials cut into windows) and evaluation trials.

use super::rng::{derive_seed, Rng};
use super::task::TaskList;
use super::trial::Trial;
use super::{Config, Error};

const STREAM_DOMAIN: u64 = 0x5354_5245_414d; // "STREAM"
const EVAL_DOMAIN: u64 = 0x4556_414c; // "EVAL"

/// One stream of a batch: an endless sequence of whole trials, each of a task drawn uniformly from
/// the list with no immediate repeat. Windows of a batch cut through it, so a trial may straddle two
/// consecutive batches.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct Stream {
    rng: Rng,
    trial: Option<Trial>,
    pos: usize,
    trials_started: u64,
}

impl Stream {
    /// Stream `index` of the generator seeded with `seed`; streams are independent of each other.
    pub fn new(seed: u64, index: u64) -> Self {
        Stream {
            rng: Rng::new(derive_seed(seed, STREAM_DOMAIN, index)),
            trial: None,
            pos: 0,
            trials_started: 0,
        }
    }

    /// The trial in progress, if any, and the step within it that comes next.
    pub fn current(&self) -> Option<(&Trial, usize)> {
        self.trial.as_ref().map(|t| (t, self.pos))
    }

    /// How many trials this stream has started.
    pub fn trials_started(&self) -> u64 {
        self.trials_started
    }

    /// Writes the next step into `input` (length `n_inputs`) and returns its target, starting a new
    /// trial when the current one is over.
    pub fn next_step(
        &mut self,
        list: &TaskList<'_>,
        cfg: &Config,
        input: &mut [f32],
    ) -> Result<u8, Error> {
        let need_new = match &self.trial {
            Some(t) => self.pos >= t.len(),
            None => true,
        };
        if need_new {
            let n = list.len();
            if n == 0 {
                return Err(Error::EmptyTaskList);
            }
            let prev = self.trial.as_ref().map(|t| usize::from(t.rule));
            let rule = match prev {
                Some(p) if n > 1 => {
                    let r = self.rng.below(n as u32 - 1) as usize;
                    if r >= p {
                        r + 1
                    } else {
                        r
                    }
                }
                _ => self.rng.below(n as u32) as usize,
            };
            let task = list.get(rule).ok_or(Error::RuleIndex)?;
            self.trial = Some(Trial::generate(task, rule, n, cfg, &mut self.rng)?);
            self.pos = 0;
            self.trials_started += 1;
        }
        let trial = self.trial.as_ref().ok_or(Error::EmptyTaskList)?;
        let target = trial.write_step(self.pos, &mut self.rng, input)?;
        self.pos += 1;
        Ok(target)
    }
}

/// Fills one training batch from `streams` (B = `streams.len()`), time-major:
/// `inputs[(t * B + b) * n_inputs + i]` and `targets[t * B + b]`, for t in `0..seq_len`.
///
/// The batch size and sequence length follow from the buffer lengths; each call continues the
/// streams where the previous call left them.
pub fn fill_batch(
    streams: &mut [Stream],
    list: &TaskList<'_>,
    cfg: &Config,
    inputs: &mut [f32],
    targets: &mut [u8],
) -> Result<(), Error> {
    let b = streams.len();
    let n_in = super::n_inputs(list.len());
    if b == 0 || targets.is_empty() || !targets.len().is_multiple_of(b) {
        return Err(Error::Size);
    }
    if list.is_empty() {
        return Err(Error::EmptyTaskList);
    }
    cfg.validate()?;
    if inputs.len() != targets.len() * n_in {
        return Err(Error::Buffer {
            needed: targets.len() * n_in,
            got: inputs.len(),
        });
    }
    for (in_t, tg_t) in inputs
        .chunks_exact_mut(b * n_in)
        .zip(targets.chunks_exact_mut(b))
    {
        for ((stream, input), target) in streams
            .iter_mut()
            .zip(in_t.chunks_exact_mut(n_in))
            .zip(tg_t)
        {
            *target = stream.next_step(list, cfg, input)?;
        }
    }
    Ok(())
}

/// The random source of evaluation trial `i` of rule index `rule` under `seed`; it draws the trial
/// and then its noise.
pub fn eval_rng(seed: u64, rule: usize, i: u64) -> Rng {
    Rng::new(derive_seed(seed, EVAL_DOMAIN ^ ((rule as u64) << 32), i))
}

/// Evaluation trial `i` of the task with rule index `rule`: the trial and the generator positioned
/// to draw its noise, for [`Trial::write`] or step by step with [`Trial::write_step`].
pub fn eval_trial(
    list: &TaskList<'_>,
    rule: usize,
    seed: u64,
    i: u64,
    cfg: &Config,
) -> Result<(Trial, Rng), Error> {
    let task = list.get(rule).ok_or(Error::RuleIndex)?;
    let mut rng = eval_rng(seed, rule, i);
    let trial = Trial::generate(task, rule, list.len(), cfg, &mut rng)?;
    Ok((trial, rng))
}
