//! Command-line options shared by subcommands that generate tasks: which tasks (`--collection` or
//! `--tasks`) and the generator settings (`--dt`, `--noise`), with errors that name the valid
//! choices.

pub use crate::tasks::{parse_collection, parse_task, Tasks};
use anyhow::{anyhow, bail, Result};
use clap::Args;
use gyrus_runtime::tasks::{Collection, Config, Family};

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

impl TaskSelection {
    /// True when neither option was given.
    pub fn is_empty(&self) -> bool {
        self.collection.is_none() && self.tasks.is_none()
    }

    /// The selected tasks, or `default` when neither option was given.
    pub fn resolve(&self, default: Collection) -> Result<Tasks> {
        if let Some(c) = &self.collection {
            return Ok(Tasks::collection(parse_collection(c)?));
        }
        match &self.tasks {
            None => Ok(Tasks::collection(default)),
            Some(names) => {
                let names: Vec<&str> = names
                    .iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect();
                if names.is_empty() {
                    bail!("--tasks needs at least one task name; `gyrus tasks list` shows them");
                }
                let tasks = names
                    .into_iter()
                    .map(parse_task)
                    .collect::<Result<Vec<_>>>()?;
                Tasks::custom(tasks)
            }
        }
    }
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
            Tasks::collection(Collection::ModCog)
        );
        let twice = TaskSelection {
            collection: None,
            tasks: Some(vec!["go".into(), "go".into()]),
        };
        assert!(twice.resolve(Collection::Cog20).is_err());
    }
}
