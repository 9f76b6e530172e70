//! Task identities: the 20 base tasks, the Mod-Cog variants, names, and collections.

use core::fmt;

/// The family a base task belongs to; it decides the trial structure and where noise goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Family {
    /// go, rtgo, dlygo, anti, rtanti, dlyanti: reach to (or away from) one stimulus.
    GoAnti,
    /// dm1, dm2, ctxdm1, ctxdm2, multidm: pick the stronger of two simultaneous stimuli.
    Dm,
    /// dlydm1 ... multidlydm: pick the stronger of two stimuli separated by a delay.
    DlyDm,
    /// dms, dnms, dmc, dnmc: compare a test stimulus with a remembered sample.
    Matching,
}

macro_rules! bases {
    ($($variant:ident = $name:literal, $family:ident;)*) => {
        /// One of the 20 tasks of Yang et al. 2019; the discriminant is its rule index in `cog20`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[repr(u8)]
        pub enum Base {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Base {
            /// All 20 base tasks in rule-index order.
            pub const ALL: [Base; 20] = [$(Base::$variant),*];

            /// The task's name as NeuroGym spells it.
            pub const fn name(self) -> &'static str {
                match self { $(Base::$variant => $name,)* }
            }

            /// The task's family.
            pub const fn family(self) -> Family {
                match self { $(Base::$variant => Family::$family,)* }
            }
        }
    };
}

bases! {
    Go = "go", GoAnti;
    RtGo = "rtgo", GoAnti;
    DlyGo = "dlygo", GoAnti;
    Anti = "anti", GoAnti;
    RtAnti = "rtanti", GoAnti;
    DlyAnti = "dlyanti", GoAnti;
    Dm1 = "dm1", Dm;
    Dm2 = "dm2", Dm;
    CtxDm1 = "ctxdm1", Dm;
    CtxDm2 = "ctxdm2", Dm;
    MultiDm = "multidm", Dm;
    DlyDm1 = "dlydm1", DlyDm;
    DlyDm2 = "dlydm2", DlyDm;
    CtxDlyDm1 = "ctxdlydm1", DlyDm;
    CtxDlyDm2 = "ctxdlydm2", DlyDm;
    MultiDlyDm = "multidlydm", DlyDm;
    Dms = "dms", Matching;
    Dnms = "dnms", Matching;
    Dmc = "dmc", Matching;
    Dnmc = "dnmc", Matching;
}

impl Base {
    /// The rule index of the task in `cog20`.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// True for the 11 tasks with a delay period, the ones Mod-Cog's interval variants apply to.
    pub const fn has_delay(self) -> bool {
        matches!(
            self,
            Base::DlyGo
                | Base::DlyAnti
                | Base::DlyDm1
                | Base::DlyDm2
                | Base::CtxDlyDm1
                | Base::CtxDlyDm2
                | Base::MultiDlyDm
                | Base::Dms
                | Base::Dnms
                | Base::Dmc
                | Base::Dnmc
        )
    }

    /// True for the reaction-time tasks (rtgo, rtanti): the stimulus is shown during the decision.
    pub const fn is_reaction_time(self) -> bool {
        matches!(self, Base::RtGo | Base::RtAnti)
    }

    /// The 11 delay tasks in rule-index order.
    pub const DELAYED: [Base; 11] = [
        Base::DlyGo,
        Base::DlyAnti,
        Base::DlyDm1,
        Base::DlyDm2,
        Base::CtxDlyDm1,
        Base::CtxDlyDm2,
        Base::MultiDlyDm,
        Base::Dms,
        Base::Dnms,
        Base::Dmc,
        Base::Dnmc,
    ];
}

/// A direction of displacement around the ring: `Right` is +1 unit, `Left` is -1 unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Shift {
    /// +1 ring unit (counter-clockwise in angle), suffix `r`.
    Right,
    /// -1 ring unit, suffix `l`.
    Left,
}

impl Shift {
    /// +1 or -1.
    pub const fn sign(self) -> i32 {
        match self {
            Shift::Right => 1,
            Shift::Left => -1,
        }
    }

    const fn suffix(self) -> &'static str {
        match self {
            Shift::Right => "r",
            Shift::Left => "l",
        }
    }
}

/// A task: a base task with optional Mod-Cog interval (`intr`/`intl`) and sequence
/// (`seqr`/`seql`) modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Task {
    /// The base task.
    pub base: Base,
    /// Interval estimation: the delay is drawn per trial and displaces the response.
    /// Only valid on tasks with a delay.
    pub interval: Option<Shift>,
    /// Sequence generation: the target drifts one unit per decision step.
    pub seq: Option<Shift>,
}

/// Why a task or collection name was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NameError {
    /// The name is not a base task with known suffixes.
    UnknownTask,
    /// An interval suffix on a task that has no delay period.
    NoDelay,
    /// Not one of `cog20`, `modcog`, `modcog-full`.
    UnknownCollection,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::UnknownTask => "unknown task name",
            NameError::NoDelay => "interval variants (intr/intl) exist only for tasks with a delay",
            NameError::UnknownCollection => {
                "unknown collection (valid: cog20, modcog, modcog-full)"
            }
        })
    }
}

impl Task {
    /// The plain base task.
    pub const fn base(base: Base) -> Self {
        Task {
            base,
            interval: None,
            seq: None,
        }
    }

    /// A task with modifiers; `None` if an interval is asked of a task without a delay.
    pub const fn new(base: Base, interval: Option<Shift>, seq: Option<Shift>) -> Option<Self> {
        if interval.is_some() && !base.has_delay() {
            return None;
        }
        Some(Task {
            base,
            interval,
            seq,
        })
    }

    /// The task's family (that of its base).
    pub const fn family(&self) -> Family {
        self.base.family()
    }

    /// Parses a name such as `dlygo`, `dmsintl`, `goseqr` or `dlydm1intr_seql`.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let (rest, seq) = match strip_suffix_pair(name, "seq") {
            Some((head, shift)) => (head, Some(shift)),
            None => (name, None),
        };
        let (rest, underscore) = match rest.strip_suffix('_') {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let (head, interval) = match strip_suffix_pair(rest, "int") {
            Some((h, shift)) => (h, Some(shift)),
            None => (rest, None),
        };
        // The underscore separates the two suffixes and appears only between them.
        if underscore != (seq.is_some() && interval.is_some()) {
            return Err(NameError::UnknownTask);
        }
        let base = Base::ALL
            .iter()
            .copied()
            .find(|b| b.name() == head)
            .ok_or(NameError::UnknownTask)?;
        Task::new(base, interval, seq).ok_or(NameError::NoDelay)
    }
}

fn strip_suffix_pair<'a>(name: &'a str, stem: &str) -> Option<(&'a str, Shift)> {
    for shift in [Shift::Right, Shift::Left] {
        let cut = name.len().checked_sub(stem.len() + 1)?;
        if name.is_char_boundary(cut)
            && name[cut..].starts_with(stem)
            && name[cut + stem.len()..] == *shift.suffix()
        {
            return Some((&name[..cut], shift));
        }
    }
    None
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base.name())?;
        if let Some(s) = self.interval {
            write!(f, "int{}", s.suffix())?;
            if self.seq.is_some() {
                f.write_str("_")?;
            }
        }
        if let Some(s) = self.seq {
            write!(f, "seq{}", s.suffix())?;
        }
        Ok(())
    }
}

/// The named task batteries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Collection {
    /// The 20 Yang et al. tasks.
    Cog20,
    /// Mod-Cog as released: cog20, 22 interval tasks, 40 sequence tasks (82).
    ModCog,
    /// Mod-Cog plus the 44 interval-by-sequence compositions (126).
    ModCogFull,
}

impl Collection {
    /// All collections.
    pub const ALL: [Collection; 3] = [
        Collection::Cog20,
        Collection::ModCog,
        Collection::ModCogFull,
    ];

    /// The collection's name on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Collection::Cog20 => "cog20",
            Collection::ModCog => "modcog",
            Collection::ModCogFull => "modcog-full",
        }
    }

    /// Parses `cog20`, `modcog` or `modcog-full`.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        Collection::ALL
            .iter()
            .copied()
            .find(|c| c.name() == name)
            .ok_or(NameError::UnknownCollection)
    }

    /// Number of tasks (= rule inputs).
    pub const fn len(self) -> usize {
        match self {
            Collection::Cog20 => 20,
            Collection::ModCog => 82,
            Collection::ModCogFull => 126,
        }
    }

    /// Never empty; present for API symmetry with [`Collection::len`].
    pub const fn is_empty(self) -> bool {
        false
    }

    /// The task with rule index `i`, or `None` past the end.
    ///
    /// Order: the 20 base tasks; then, for each of the 11 delay tasks in rule order, `intr`, `intl`;
    /// then, for each of the 20 base tasks, `seqr`, `seql`; then (modcog-full only), for each delay
    /// task, `intr_seqr`, `intr_seql`, `intl_seqr`, `intl_seql`.
    pub const fn get(self, i: usize) -> Option<Task> {
        if i >= self.len() {
            return None;
        }
        const R: Option<Shift> = Some(Shift::Right);
        const L: Option<Shift> = Some(Shift::Left);
        let (base, interval, seq) = if i < 20 {
            (Base::ALL[i], None, None)
        } else if i < 42 {
            let k = i - 20;
            (
                Base::DELAYED[k / 2],
                if k.is_multiple_of(2) { R } else { L },
                None,
            )
        } else if i < 82 {
            let k = i - 42;
            (
                Base::ALL[k / 2],
                None,
                if k.is_multiple_of(2) { R } else { L },
            )
        } else {
            let k = i - 82;
            let interval = if (k % 4) < 2 { R } else { L };
            let seq = if k.is_multiple_of(2) { R } else { L };
            (Base::DELAYED[k / 4], interval, seq)
        };
        Some(Task {
            base,
            interval,
            seq,
        })
    }

    /// Iterates the tasks in rule order.
    pub fn iter(self) -> impl Iterator<Item = Task> {
        (0..self.len()).filter_map(move |i| self.get(i))
    }
}

/// The tasks a network is trained on, in rule-input order: a named collection or a caller's list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskList<'a> {
    /// A named battery.
    Collection(Collection),
    /// An explicit list (rule index = position). Must not be empty.
    Custom(&'a [Task]),
}

impl TaskList<'_> {
    /// Number of tasks (= rule inputs).
    pub fn len(&self) -> usize {
        match self {
            TaskList::Collection(c) => c.len(),
            TaskList::Custom(t) => t.len(),
        }
    }

    /// True for an empty custom list (which the generator refuses).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The task with rule index `i`.
    pub fn get(&self, i: usize) -> Option<Task> {
        match self {
            TaskList::Collection(c) => c.get(i),
            TaskList::Custom(t) => t.get(i).copied(),
        }
    }

    /// Iterates the tasks in rule order.
    pub fn iter(&self) -> impl Iterator<Item = Task> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }

    /// Rule index of a task, if present.
    pub fn position(&self, task: Task) -> Option<usize> {
        self.iter().position(|t| t == task)
    }
}

impl From<Collection> for TaskList<'_> {
    fn from(c: Collection) -> Self {
        TaskList::Collection(c)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::collections::HashSet;
    use std::string::ToString;

    #[test]
    fn collections_have_the_documented_sizes_and_unique_names() {
        for c in Collection::ALL {
            let names: HashSet<_> = c.iter().map(|t| t.to_string()).collect();
            assert_eq!(names.len(), c.len(), "{}", c.name());
        }
        assert_eq!(
            Collection::ModCog
                .iter()
                .filter(|t| t.interval.is_some())
                .count(),
            22
        );
        assert_eq!(
            Collection::ModCog
                .iter()
                .filter(|t| t.seq.is_some())
                .count(),
            40
        );
        assert_eq!(
            Collection::ModCogFull
                .iter()
                .filter(|t| t.seq.is_some() && t.interval.is_some())
                .count(),
            44
        );
    }

    #[test]
    fn collections_nest() {
        for i in 0..20 {
            assert_eq!(Collection::Cog20.get(i), Collection::ModCog.get(i));
        }
        for i in 0..82 {
            assert_eq!(Collection::ModCog.get(i), Collection::ModCogFull.get(i));
        }
        assert_eq!(Collection::Cog20.get(20), None);
    }

    #[test]
    fn names_round_trip() {
        for t in Collection::ModCogFull.iter() {
            assert_eq!(Task::parse(&t.to_string()), Ok(t));
        }
        assert_eq!(
            Collection::ModCogFull.get(82).unwrap().to_string(),
            "dlygointr_seqr"
        );
        assert_eq!(Collection::ModCog.get(21).unwrap().to_string(), "dlygointl");
        assert_eq!(Collection::ModCog.get(43).unwrap().to_string(), "goseql");
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(Task::parse("gointr"), Err(NameError::NoDelay));
        assert_eq!(Task::parse("fly"), Err(NameError::UnknownTask));
        assert_eq!(Task::parse("dlygointrseqr"), Err(NameError::UnknownTask));
        assert_eq!(Task::parse(""), Err(NameError::UnknownTask));
        assert_eq!(Task::parse("seqr"), Err(NameError::UnknownTask));
        assert_eq!(
            Collection::parse("cog21"),
            Err(NameError::UnknownCollection)
        );
    }
}
