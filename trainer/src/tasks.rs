//! Task lists as the trainer handles them: a named collection or an explicit list of task names,
//! parsed with errors that name the valid choices and suggest close names.

use anyhow::{anyhow, bail, Result};
use gyrus_runtime::tasks::{Collection, NameError, Task, TaskList};

/// A task list that owns its tasks: a named collection, or an explicit list in rule order
/// (non-empty, no duplicates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tasks {
    tasks: Vec<Task>,
    collection: Option<Collection>,
}

impl Tasks {
    /// A named collection.
    pub fn collection(c: Collection) -> Self {
        Tasks {
            tasks: c.iter().collect(),
            collection: Some(c),
        }
    }

    /// An explicit list: refuses an empty list and duplicates.
    pub fn custom(tasks: Vec<Task>) -> Result<Self> {
        if tasks.is_empty() {
            bail!(
                "no tasks given: name a collection ({}) or task names",
                collection_choices()
            );
        }
        for (i, t) in tasks.iter().enumerate() {
            if tasks[..i].contains(t) {
                bail!("task {t} is listed twice");
            }
        }
        Ok(Tasks {
            tasks,
            collection: None,
        })
    }

    /// Parses a collection name or a comma-separated list of task names.
    pub fn parse(desc: &str) -> Result<Self> {
        let desc = desc.trim();
        if let Ok(c) = Collection::parse(desc) {
            return Ok(Tasks::collection(c));
        }
        let names: Vec<&str> = desc
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if names.len() == 1 && !names[0].contains(',') && Task::parse(names[0]).is_err() {
            // One unknown word: it may have been meant as a collection.
            let task_err = parse_task(names[0]).unwrap_err();
            bail!("{task_err}; or a collection: {}", collection_choices());
        }
        Tasks::custom(
            names
                .into_iter()
                .map(parse_task)
                .collect::<Result<Vec<_>>>()?,
        )
    }

    /// The generator's view of the list.
    pub fn list(&self) -> TaskList<'_> {
        match self.collection {
            Some(c) => TaskList::Collection(c),
            None => TaskList::Custom(&self.tasks),
        }
    }

    /// The tasks in rule order.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Number of tasks (rule inputs).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Never true for a constructed list.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// A short name: the collection's, or `custom list of N tasks`.
    pub fn name(&self) -> String {
        match self.collection {
            Some(c) => c.name().to_string(),
            None => format!("custom list of {} tasks", self.tasks.len()),
        }
    }

    /// Task names in rule order.
    pub fn names(&self) -> Vec<String> {
        self.tasks.iter().map(ToString::to_string).collect()
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
    fn lists_parse() {
        assert_eq!(Tasks::parse("modcog").unwrap().len(), 82);
        assert_eq!(
            Tasks::parse(" go , dms ").unwrap().names(),
            vec!["go", "dms"]
        );
        let e = Tasks::parse("go,go").unwrap_err().to_string();
        assert!(e.contains("twice"), "{e}");
        let e = Tasks::parse("cog21").unwrap_err().to_string();
        assert!(e.contains("cog20") && e.contains("modcog-full"), "{e}");
        assert!(Tasks::parse("").is_err());
    }
}
