//! One trial: its periods, stimuli and correct answer, and its per-step inputs and targets.

use super::rng::Rng;
use super::task::{Base, Family, Task};
use super::{Config, Error, N_SENSORY, RING_UNITS};

/// Most periods a trial has (matching tasks: fixation, sample, delay, test, decision).
pub const MAX_PERIODS: usize = 5;
/// Most stimuli a trial shows (context tasks: two directions on each of two rings).
pub const MAX_STIMULI: usize = 4;

/// Coherences of the dm tasks, in units of 0.08 (0.08, 0.16, 0.32, 0.64).
const DM_COHERENCE_UNITS: [i32; 4] = [1, 2, 4, 8];
/// Strengths of the delayed dm tasks, in tenths (0.3, 0.6, 1.0).
const DLY_STRENGTH_TENTHS: [i32; 3] = [3, 6, 10];

/// What happens in a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PeriodKind {
    /// Hold fixation, nothing shown.
    Fixation,
    /// The stimulus (go/anti, dm).
    Stimulus,
    /// First stimulus of a delayed dm task.
    Stim1,
    /// Memory delay, nothing shown.
    Delay,
    /// Second stimulus of a delayed dm task.
    Stim2,
    /// Sample of a matching task.
    Sample,
    /// Test of a matching task.
    Test,
    /// Respond (fixation input off).
    Decision,
}

impl PeriodKind {
    /// Lower-case name, as NeuroGym names periods.
    pub const fn name(self) -> &'static str {
        match self {
            PeriodKind::Fixation => "fixation",
            PeriodKind::Stimulus => "stimulus",
            PeriodKind::Stim1 => "stim1",
            PeriodKind::Delay => "delay",
            PeriodKind::Stim2 => "stim2",
            PeriodKind::Sample => "sample",
            PeriodKind::Test => "test",
            PeriodKind::Decision => "decision",
        }
    }
}

/// A period: steps `start..end` of the trial (possibly empty, e.g. a zero delay).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Period {
    /// What happens.
    pub kind: PeriodKind,
    /// First step.
    pub start: u16,
    /// One past the last step.
    pub end: u16,
}

impl Period {
    /// Number of steps.
    pub const fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// True for a zero-length period.
    pub const fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// A stimulus: a bump on one ring, shown during one period.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stimulus {
    /// 0 = ring 1 (inputs 1..=16), 1 = ring 2 (inputs 17..=32).
    pub ring: u8,
    /// Direction as a ring unit index 0..16 (angle 2*pi*dir/16).
    pub dir: u8,
    /// Strength s; the bump peaks at 0.8*s on unit `dir`.
    pub strength: f32,
    /// The period during which it is shown.
    pub period: PeriodKind,
}

/// The value of ring unit `unit` for a stimulus at ring unit `dir` with strength `s`:
/// `0.8 * exp(-0.5 * (d / (pi/8))^2) * s`, with d the circular distance (a whole number of
/// units of pi/8, since stimuli lie on the grid).
pub fn bump(dir: u8, unit: usize, s: f32) -> f32 {
    let diff = (unit as i32 - i32::from(dir)).rem_euclid(RING_UNITS as i32);
    let m = diff.min(RING_UNITS as i32 - diff) as f32;
    0.8 * libm::expf(-0.5 * m * m) * s
}

/// The category of a ring unit for dmc/dnmc: `true` = upper half (angles in (0, pi], units 1..=8).
pub const fn upper_half(dir: u8) -> bool {
    dir >= 1 && dir as usize <= RING_UNITS / 2
}

/// The direction of the stronger stimulus: `a` when `margin` (A's strength minus B's) is positive,
/// `b` when negative, and on a tie (margin 0, only multidm and multidlydm) a coin flip, as the
/// reference breaks ties (so the target is random on those trials).
fn stronger(margin: i32, a: u8, b: u8, rng: &mut Rng) -> u8 {
    match margin.signum() {
        1 => a,
        -1 => b,
        _ if rng.coin() => a,
        _ => b,
    }
}

fn wrap(dir: i32) -> u8 {
    dir.rem_euclid(RING_UNITS as i32) as u8
}

/// A generated trial: everything needed to write its inputs and targets, plus its metadata.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trial {
    /// The task.
    pub task: Task,
    /// Its rule index (which rule input is on).
    pub rule: u16,
    /// Number of rule inputs of the task list.
    pub n_rules: u16,
    /// Noise standard deviation on the noisy inputs (0 for noise-free trials).
    pub sigma: f32,
    /// Direction (ring unit) of the correct response at the first decision step, after the interval
    /// displacement; `None` when the correct behaviour is to keep fixating. On a tie of multidm or
    /// multidlydm (equal summed strengths) it is the direction a coin picked.
    pub answer: Option<u8>,
    /// Matching tasks: whether the test matched the sample (by direction or by category).
    pub matched: Option<bool>,
    /// Interval tasks: the drawn delay D in ms.
    pub interval_ms: Option<u16>,
    periods: [Period; MAX_PERIODS],
    n_periods: u8,
    stimuli: [Stimulus; MAX_STIMULI],
    bumps: [[f32; RING_UNITS]; MAX_STIMULI],
    n_stimuli: u8,
}

/// Fixation durations (ms) a task draws from.
const fn fixation_choices(family: Family) -> &'static [u32] {
    match family {
        Family::GoAnti => &[500],
        Family::Dm | Family::DlyDm => &[200, 300, 400],
        Family::Matching => &[300],
    }
}

/// Interval tasks draw their delay D uniformly from {0, 100, ..., 1100} ms.
const INTERVAL_DELAYS_MS: u32 = 12;

/// The fixed delay (ms) of a delay task without the interval modifier.
const fn fixed_delay(family: Family) -> u32 {
    match family {
        Family::GoAnti => 500,
        _ => 1000,
    }
}

/// The periods of `task` with the given fixation and delay durations (ms); each duration is floored
/// to a multiple of `dt_ms`. Returns the periods and how many there are.
fn layout(task: Task, fix_ms: u32, delay_ms: u32, dt_ms: u32) -> ([Period; MAX_PERIODS], usize) {
    use PeriodKind::*;
    let seq = task.seq.is_some();
    let decision = |plain: u32| if seq { 1000 } else { plain };
    let (kinds, durations): (&[PeriodKind], [u32; MAX_PERIODS]) = match task.family() {
        Family::GoAnti if task.base.is_reaction_time() => {
            // Sequence variants of rt tasks keep the 500 ms decision.
            (&[Fixation, Decision], [fix_ms, 500, 0, 0, 0])
        }
        Family::GoAnti if task.base.has_delay() => (
            &[Fixation, Stimulus, Delay, Decision],
            [fix_ms, 500, delay_ms, decision(500), 0],
        ),
        Family::GoAnti => (
            &[Fixation, Stimulus, Decision],
            [fix_ms, 500, decision(500), 0, 0],
        ),
        Family::Dm => (
            &[Fixation, Stimulus, Decision],
            [fix_ms, 500, decision(200), 0, 0],
        ),
        Family::DlyDm => (
            &[Fixation, Stim1, Delay, Stim2, Decision],
            [fix_ms, 500, delay_ms, 500, decision(200)],
        ),
        Family::Matching => (
            &[Fixation, Sample, Delay, Test, Decision],
            [fix_ms, 500, delay_ms, 500, decision(900)],
        ),
    };
    let mut periods = [Period {
        kind: Fixation,
        start: 0,
        end: 0,
    }; MAX_PERIODS];
    let mut step = 0u16;
    for ((p, &kind), ms) in periods.iter_mut().zip(kinds).zip(durations) {
        let n = (ms / dt_ms) as u16;
        *p = Period {
            kind,
            start: step,
            end: step + n,
        };
        step += n;
    }
    (periods, kinds.len())
}

impl Trial {
    /// Draws a trial of `task` with rule index `rule` among `n_rules`, using `rng`.
    ///
    /// Errors: invalid config, or `rule >= n_rules`.
    pub fn generate(
        task: Task,
        rule: usize,
        n_rules: usize,
        cfg: &Config,
        rng: &mut Rng,
    ) -> Result<Trial, Error> {
        cfg.validate()?;
        if rule >= n_rules || n_rules > u16::MAX as usize {
            return Err(Error::RuleIndex);
        }
        if task.interval.is_some() && !task.base.has_delay() {
            return Err(Error::Task);
        }
        let family = task.family();
        let interval_ms = task
            .interval
            .map(|_| 100 * rng.below(INTERVAL_DELAYS_MS) as u16);
        let fixes = fixation_choices(family);
        let fix_ms = fixes[rng.below(fixes.len() as u32) as usize];
        let delay_ms = interval_ms.map_or(fixed_delay(family), u32::from);
        let (periods, n_periods) = layout(task, fix_ms, delay_ms, u32::from(cfg.dt_ms));
        let mut stimuli = [Stimulus {
            ring: 0,
            dir: 0,
            strength: 0.0,
            period: PeriodKind::Fixation,
        }; MAX_STIMULI];
        let mut n_stimuli = 0usize;
        let mut add = |ring: u8, dir: u8, strength: f32, period: PeriodKind| {
            stimuli[n_stimuli] = Stimulus {
                ring,
                dir,
                strength,
                period,
            };
            n_stimuli += 1;
        };
        let mut matched = None;
        let answer: Option<u8>;
        let base = task.base;
        match family {
            Family::GoAnti => {
                let ring = rng.below(2) as u8;
                let target = rng.below(RING_UNITS as u32) as u8;
                let anti = matches!(base, Base::Anti | Base::RtAnti | Base::DlyAnti);
                let dir = if anti {
                    wrap(i32::from(target) + 8)
                } else {
                    target
                };
                let period = if base.is_reaction_time() {
                    PeriodKind::Decision
                } else {
                    PeriodKind::Stimulus
                };
                add(ring, dir, 1.0, period);
                answer = Some(target);
            }
            Family::Dm => {
                let dir_a = rng.below(RING_UNITS as u32) as u8;
                let dir_b = wrap(i32::from(dir_a) + 1 + rng.below(RING_UNITS as u32 - 1) as i32);
                // Signed coherence per ring, in units of 0.08: positive means A is stronger.
                // multidm's two rings may cancel (1/8 of trials, as in the reference): a tie.
                let mut coh = [0i32; 2];
                for c in coh.iter_mut() {
                    let k = DM_COHERENCE_UNITS[rng.below(4) as usize];
                    *c = if rng.coin() { k } else { -k };
                }
                let rings: &[u8] = match base {
                    Base::Dm1 => &[0],
                    Base::Dm2 => &[1],
                    _ => &[0, 1],
                };
                for &r in rings {
                    let c = coh[r as usize] as f32 * 0.08;
                    add(r, dir_a, 0.5 + c / 2.0, PeriodKind::Stimulus);
                    add(r, dir_b, 0.5 - c / 2.0, PeriodKind::Stimulus);
                }
                let decider = match base {
                    Base::Dm1 | Base::CtxDm1 => coh[0],
                    Base::Dm2 | Base::CtxDm2 => coh[1],
                    _ => coh[0] + coh[1],
                };
                answer = Some(stronger(decider, dir_a, dir_b, rng));
            }
            Family::DlyDm => {
                let dir_a = rng.below(RING_UNITS as u32) as u8;
                let dir_b = wrap(i32::from(dir_a) + 1 + rng.below(RING_UNITS as u32 - 1) as i32);
                // Per ring, (stim1, stim2) strengths in tenths, two distinct values. multidlydm's
                // sums over both rings may be equal (1/6 of trials, as in the reference): a tie.
                let mut s = [[0i32; 2]; 2];
                for pair in s.iter_mut() {
                    let i = rng.below(3) as usize;
                    let j = (i + 1 + rng.below(2) as usize) % 3;
                    *pair = [DLY_STRENGTH_TENTHS[i], DLY_STRENGTH_TENTHS[j]];
                }
                let rings: &[u8] = match base {
                    Base::DlyDm1 => &[0],
                    Base::DlyDm2 => &[1],
                    _ => &[0, 1],
                };
                for &r in rings {
                    let [s1, s2] = s[r as usize];
                    add(r, dir_a, s1 as f32 / 10.0, PeriodKind::Stim1);
                    add(r, dir_b, s2 as f32 / 10.0, PeriodKind::Stim2);
                }
                let decider = match base {
                    Base::DlyDm1 | Base::CtxDlyDm1 => s[0][0] - s[0][1],
                    Base::DlyDm2 | Base::CtxDlyDm2 => s[1][0] - s[1][1],
                    _ => s[0][0] + s[1][0] - s[0][1] - s[1][1],
                };
                answer = Some(stronger(decider, dir_a, dir_b, rng));
            }
            Family::Matching => {
                let ring = rng.below(2) as u8;
                let sample = rng.below(RING_UNITS as u32) as u8;
                let is_match = rng.coin();
                let test = match base {
                    Base::Dms | Base::Dnms => {
                        if is_match {
                            sample
                        } else {
                            wrap(i32::from(sample) + 8)
                        }
                    }
                    _ => {
                        let upper = upper_half(sample) == is_match;
                        let k = rng.below(8) as i32;
                        if upper {
                            1 + k as u8
                        } else {
                            wrap(9 + k)
                        }
                    }
                };
                add(ring, sample, 1.0, PeriodKind::Sample);
                add(ring, test, 1.0, PeriodKind::Test);
                let respond = matches!(base, Base::Dms | Base::Dmc) == is_match;
                matched = Some(is_match);
                answer = respond.then_some(test);
            }
        }
        let answer = match (answer, task.interval, interval_ms) {
            (Some(a), Some(shift), Some(d)) => {
                Some(wrap(i32::from(a) + shift.sign() * i32::from(d / 100)))
            }
            (a, _, _) => a,
        };
        let mut bumps = [[0.0; RING_UNITS]; MAX_STIMULI];
        for (bump_row, st) in bumps.iter_mut().zip(&stimuli[..n_stimuli]) {
            for (u, v) in bump_row.iter_mut().enumerate() {
                *v = bump(st.dir, u, st.strength);
            }
        }
        Ok(Trial {
            task,
            rule: rule as u16,
            n_rules: n_rules as u16,
            sigma: cfg.sigma(),
            answer,
            matched,
            interval_ms,
            periods,
            n_periods: n_periods as u8,
            stimuli,
            bumps,
            n_stimuli: n_stimuli as u8,
        })
    }

    /// The periods in order; they tile `0..len()`.
    pub fn periods(&self) -> &[Period] {
        &self.periods[..usize::from(self.n_periods)]
    }

    /// The stimuli shown.
    pub fn stimuli(&self) -> &[Stimulus] {
        &self.stimuli[..usize::from(self.n_stimuli)]
    }

    /// Length in steps.
    pub fn len(&self) -> usize {
        self.periods().last().map_or(0, |p| usize::from(p.end))
    }

    /// True for a zero-length trial (never produced by a valid config).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first step of the decision period.
    pub fn decision_start(&self) -> usize {
        self.periods()
            .iter()
            .find(|p| p.kind == PeriodKind::Decision)
            .map_or(self.len(), |p| usize::from(p.start))
    }

    /// The period containing step `t`.
    pub fn period_at(&self, t: usize) -> Option<&Period> {
        self.periods()
            .iter()
            .find(|p| usize::from(p.start) <= t && t < usize::from(p.end))
    }

    /// The first period of a kind.
    pub fn period(&self, kind: PeriodKind) -> Option<&Period> {
        self.periods().iter().find(|p| p.kind == kind)
    }

    /// Number of inputs per step: 33 sensory + the rule inputs.
    pub fn n_inputs(&self) -> usize {
        N_SENSORY + usize::from(self.n_rules)
    }

    /// The target class at step `t`: 0 = fixate, k+1 = respond towards ring unit k.
    pub fn target(&self, t: usize) -> u8 {
        let ds = self.decision_start();
        match self.answer {
            Some(a) if t >= ds => {
                let drift = self.task.seq.map_or(0, |s| s.sign()) * (t - ds) as i32;
                wrap(i32::from(a) + drift) + 1
            }
            _ => 0,
        }
    }

    /// Writes the inputs of step `t` into `input` (length [`Trial::n_inputs`]), drawing noise from
    /// `rng`, and returns the target class. Steps must be written in order for the noise stream to
    /// match [`Trial::write`].
    pub fn write_step(&self, t: usize, rng: &mut Rng, input: &mut [f32]) -> Result<u8, Error> {
        let n_in = self.n_inputs();
        if input.len() != n_in {
            return Err(Error::Buffer {
                needed: n_in,
                got: input.len(),
            });
        }
        input.fill(0.0);
        let kind = self.period_at(t).map(|p| p.kind);
        input[0] = if t < self.decision_start() { 1.0 } else { 0.0 };
        for (st, bump) in self.stimuli().iter().zip(&self.bumps) {
            if Some(st.period) == kind {
                let off = 1 + RING_UNITS * usize::from(st.ring);
                for (x, v) in input[off..off + RING_UNITS].iter_mut().zip(bump) {
                    *x += v;
                }
            }
        }
        input[N_SENSORY + usize::from(self.rule)] = 1.0;
        if self.sigma > 0.0 {
            if let Some(range) = self.noisy_inputs(kind) {
                for x in &mut input[range] {
                    *x += self.sigma * rng.normal();
                }
            }
        }
        Ok(self.target(t))
    }

    /// Which inputs get noise in a period of this trial (see the spec's "Input noise").
    fn noisy_inputs(&self, kind: Option<PeriodKind>) -> Option<core::ops::Range<usize>> {
        match (self.task.family(), kind?) {
            (Family::Dm, PeriodKind::Stimulus)
            | (Family::DlyDm, PeriodKind::Stim1 | PeriodKind::Stim2) => Some(0..N_SENSORY),
            (Family::Matching, PeriodKind::Sample | PeriodKind::Test) => {
                let off = 1 + RING_UNITS * usize::from(self.stimuli[0].ring);
                Some(off..off + RING_UNITS)
            }
            _ => None,
        }
    }

    /// Writes the whole trial: `inputs` is `len * n_inputs` (time-major), `targets` is `len`.
    pub fn write(
        &self,
        rng: &mut Rng,
        inputs: &mut [f32],
        targets: &mut [u8],
    ) -> Result<(), Error> {
        let (len, n_in) = (self.len(), self.n_inputs());
        if inputs.len() != len * n_in {
            return Err(Error::Buffer {
                needed: len * n_in,
                got: inputs.len(),
            });
        }
        if targets.len() != len {
            return Err(Error::Buffer {
                needed: len,
                got: targets.len(),
            });
        }
        for (t, (row, target)) in inputs.chunks_exact_mut(n_in).zip(targets).enumerate() {
            *target = self.write_step(t, rng, row)?;
        }
        Ok(())
    }
}

/// The shortest and longest trial of a task, in steps, under `cfg` (`None` for an invalid config).
pub fn length_range(task: Task, cfg: &Config) -> Option<(usize, usize)> {
    cfg.validate().ok()?;
    let family = task.family();
    let dt = u32::from(cfg.dt_ms);
    let (mut lo, mut hi) = (usize::MAX, 0);
    for &fix in fixation_choices(family) {
        for k in 0..INTERVAL_DELAYS_MS {
            let delay = if task.interval.is_some() {
                100 * k
            } else {
                fixed_delay(family)
            };
            let (periods, n) = layout(task, fix, delay, dt);
            let len = usize::from(periods[n - 1].end);
            lo = lo.min(len);
            hi = hi.max(len);
        }
    }
    Some((lo, hi))
}
