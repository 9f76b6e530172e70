//! Command-line options shared by subcommands that generate tasks: which tasks (`--collection` or
//! `--tasks`) and the generator settings (`--dt`, `--noise`), with errors that name the valid
//! choices.

use anyhow::{anyhow, bail, Result};
use clap::Args;
use gyrus_runtime::tasks::{Collection, Config, Family, NameError, Task, TaskList};

/// Which tasks: a named collection or an explicit list (mutually exclusive).
#[derive(Args, Clone, Debug, Default)]
pub struct TaskSelection {
    /// Named task collection: cog20, modcog or modcog-full.
    #[arg(long, value_name = "NAME", conflicts_with = "tasks")]
    pub collection: Option<String>,
    /// Explicit comma-separated task list; the rule-input order is the list order.
    #[arg(long, value_name = "A,B,C", value_delimiter = ',')]
    pub tasks: Option<Vec<String>>,
}

/// Generator settings.
#[derive(Args, Clone, Debug)]
pub struct GeneratorArgs {
    /// Time step in ms (1 to 100); every period is floored to a multiple of it.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub dt: u16,
    /// Input-noise multiplier (1 = reference std 1/sqrt(dt), 0 = noise-free).
    #[arg(long, value_name = "X", default_value_t = 1.0, value_parser = parse_noise)]
    pub noise: f32,
}

impl GeneratorArgs {
    /// The generator config, validated.
    pub fn config(&self) -> Result<Config> {
        let cfg = Config {
            dt_ms: self.dt,
            noise: self.noise,
        };
        cfg.validate().map_err(|e| anyhow!("{e}"))?;
        Ok(cfg)
    }
}

fn parse_noise(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("'{s}' is not a finite, non-negative number")),
    }
}

/// A task list that owns its tasks: what a [`TaskSelection`] resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tasks {
    /// A named collection.
    Collection(Collection),
    /// An explicit list, in rule order (non-empty, no duplicates).
    Custom(Vec<Task>),
}

impl Tasks {
    /// The generator's view of the list.
    pub fn list(&self) -> TaskList<'_> {
        match self {
            Tasks::Collection(c) => TaskList::Collection(*c),
            Tasks::Custom(t) => TaskList::Custom(t),
        }
    }

    /// A short name: the collection's, or `custom list`.
    pub fn name(&self) -> String {
        match self {
            Tasks::Collection(c) => c.name().to_string(),
            Tasks::Custom(_) => "custom list".to_string(),
        }
    }

    /// The task names in rule order.
    pub fn names(&self) -> Vec<String> {
        self.list().iter().map(|t| t.to_string()).collect()
    }
}

impl TaskSelection {
    /// True when neither option was given.
    pub fn is_empty(&self) -> bool {
        self.collection.is_none() && self.tasks.is_none()
    }

    /// The selected tasks, or `default` when neither option was given.
    pub fn resolve(&self, default: Collection) -> Result<Tasks> {
        if let Some(c) = &self.collection {
            return Ok(Tasks::Collection(parse_collection(c)?));
        }
        match &self.tasks {
            None => Ok(Tasks::Collection(default)),
            Some(names) => {
                let names: Vec<&str> = names
                    .iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect();
                if names.is_empty() {
                    bail!("--tasks needs at least one task name; `gyrus tasks list` shows them");
                }
                let mut tasks = Vec::with_capacity(names.len());
                for name in names {
                    let task = parse_task(name)?;
                    if tasks.contains(&task) {
                        bail!("task {name} appears twice in --tasks");
                    }
                    tasks.push(task);
                }
                Ok(Tasks::Custom(tasks))
            }
        }
    }
}

/// The names of the named collections, for messages: `cog20 (20 tasks), ...`.
pub fn collection_choices() -> String {
    Collection::ALL
        .iter()
        .map(|c| format!("{} ({} tasks)", c.name(), c.len()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a collection name; the error lists the valid ones.
pub fn parse_collection(name: &str) -> Result<Collection> {
    Collection::parse(name).map_err(|_| {
        anyhow!(
            "unknown collection '{name}'; valid collections: {}",
            collection_choices()
        )
    })
}

/// Parses a task name; the error suggests close names and points to `gyrus tasks list`.
pub fn parse_task(name: &str) -> Result<Task> {
    match Task::parse(name) {
        Ok(t) => Ok(t),
        Err(NameError::NoDelay) => {
            let delayed: Vec<&str> = gyrus_runtime::tasks::Base::DELAYED
                .iter()
                .map(|b| b.name())
                .collect();
            bail!(
                "task '{name}': interval variants (intr/intl) exist only for tasks with a delay: {}",
                delayed.join(", ")
            )
        }
        Err(_) => {
            let close = suggestions(name);
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!("; did you mean {}?", close.join(", "))
            };
            bail!("unknown task '{name}'{hint} (`gyrus tasks list --collection modcog-full` shows all task names)")
        }
    }
}

/// Up to three task names closest to `name` (edit distance at most 2, or 3 for long names).
pub fn suggestions(name: &str) -> Vec<String> {
    let lower = name.to_ascii_lowercase();
    let limit = if lower.len() > 8 { 3 } else { 2 };
    let mut scored: Vec<(usize, String)> = Collection::ModCogFull
        .iter()
        .map(|t| t.to_string())
        .map(|n| (edit_distance(&lower, &n), n))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

/// Levenshtein distance between two strings (by characters).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A family's short name for tables.
pub fn family_name(f: Family) -> &'static str {
    match f {
        Family::GoAnti => "go/anti",
        Family::Dm => "dm",
        Family::DlyDm => "delayed dm",
        Family::Matching => "matching",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("dlygo", "dlygo"), 0);
        assert_eq!(edit_distance("dlgo", "dlygo"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn unknown_names_get_suggestions() {
        assert!(suggestions("dlgo").contains(&"dlygo".to_string()));
        let err = parse_task("antii").unwrap_err().to_string();
        assert!(
            err.contains("did you mean") && err.contains("anti"),
            "{err}"
        );
        let err = parse_task("gointr").unwrap_err().to_string();
        assert!(err.contains("dlygo"), "{err}");
        let err = parse_collection("modcog2").unwrap_err().to_string();
        assert!(
            err.contains("cog20") && err.contains("modcog-full"),
            "{err}"
        );
    }

    #[test]
    fn selections_resolve() {
        let sel = TaskSelection {
            collection: None,
            tasks: Some(vec!["dms".into(), "goseqr".into()]),
        };
        let tasks = sel.resolve(Collection::Cog20).unwrap();
        assert_eq!(tasks.names(), vec!["dms", "goseqr"]);
        assert_eq!(
            TaskSelection::default()
                .resolve(Collection::ModCog)
                .unwrap(),
            Tasks::Collection(Collection::ModCog)
        );
        let twice = TaskSelection {
            collection: None,
            tasks: Some(vec!["go".into(), "go".into()]),
        };
        assert!(twice.resolve(Collection::Cog20).is_err());
    }
}
