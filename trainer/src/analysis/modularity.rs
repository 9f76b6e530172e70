//! Anatomical modularity (Liu et al.): are units of one functional cluster neighbours on the sheet?
//!
//! - Isolated fraction: important units none of whose up to 8 grid neighbours is an important
//!   unit of the same cluster, over all important units.
//! - Mean group size: the important units split into 8-connected groups of same-cluster units;
//!   the mean size of those groups (isolated units are groups of one).
//!
//! Baseline: the same numbers after shuffling the cluster labels among the important units'
//! positions (a random permutation of their positions), many times, seeded.

use crate::model::Sheet;
use gyrus_runtime::tasks::Rng;

/// The two modularity numbers of one labelling of the sheet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Modularity {
    /// Number of important units.
    pub important: usize,
    /// Fraction of important units with no same-cluster important unit among their 8 neighbours.
    pub isolated_fraction: f64,
    /// Number of 8-connected same-cluster groups.
    pub groups: usize,
    /// Mean number of units per group.
    pub mean_group_size: f64,
}

/// Measures a labelling: `labels[n]` is the cluster of unit n, None for an unimportant unit.
/// None when no unit is important.
pub fn measure(sheet: &Sheet, labels: &[Option<usize>]) -> Option<Modularity> {
    assert_eq!(labels.len(), sheet.n_units(), "one label per unit");
    let important = labels.iter().filter(|l| l.is_some()).count();
    if important == 0 {
        return None;
    }
    let mut isolated = 0;
    let mut seen = vec![false; labels.len()];
    let mut groups = 0;
    let mut stack = Vec::new();
    for u in 0..labels.len() {
        let Some(c) = labels[u] else { continue };
        if !neighbours(sheet, u).any(|v| labels[v] == Some(c)) {
            isolated += 1;
        }
        if seen[u] {
            continue;
        }
        groups += 1;
        seen[u] = true;
        stack.push(u);
        while let Some(v) = stack.pop() {
            for w in neighbours(sheet, v) {
                if !seen[w] && labels[w] == Some(c) {
                    seen[w] = true;
                    stack.push(w);
                }
            }
        }
    }
    Some(Modularity {
        important,
        isolated_fraction: isolated as f64 / important as f64,
        groups,
        mean_group_size: important as f64 / groups as f64,
    })
}

/// The up to 8 grid neighbours of unit `u` (no wrap-around).
fn neighbours(sheet: &Sheet, u: usize) -> impl Iterator<Item = usize> + '_ {
    let (r, c) = sheet.pos(u);
    (-1i64..=1)
        .flat_map(|dr| (-1i64..=1).map(move |dc| (dr, dc)))
        .filter(|&d| d != (0, 0))
        .filter_map(move |(dr, dc)| {
            let (rr, cc) = (r as i64 + dr, c as i64 + dc);
            (rr >= 0 && cc >= 0 && (rr as usize) < sheet.rows && (cc as usize) < sheet.cols)
                .then(|| sheet.index(rr as usize, cc as usize))
        })
}

/// Mean, standard deviation and the observed value's percentile within a null distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NullStat {
    /// Mean over the permutations.
    pub mean: f64,
    /// Sample standard deviation over the permutations.
    pub sd: f64,
    /// Percentage of permutations below the observed value, ties counted half.
    pub percentile: f64,
}

impl NullStat {
    fn of(values: &[f64], observed: f64) -> NullStat {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 {
            values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        let below = values.iter().filter(|&&v| v < observed).count() as f64;
        let ties = values.iter().filter(|&&v| v == observed).count() as f64;
        NullStat {
            mean,
            sd: var.sqrt(),
            percentile: 100.0 * (below + 0.5 * ties) / n,
        }
    }
}

/// The permutation baseline of [`measure`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Baseline {
    /// Number of permutations.
    pub permutations: usize,
    /// Seed of the permutations.
    pub seed: u64,
    /// Null distribution of the isolated fraction.
    pub isolated_fraction: NullStat,
    /// Null distribution of the mean group size.
    pub mean_group_size: NullStat,
}

/// Shuffles the important units' labels among their positions `permutations` times (seeded) and
/// compares [`measure`] of `labels` with the shuffled ones. None when no unit is important or
/// `permutations` is 0.
pub fn baseline(
    sheet: &Sheet,
    labels: &[Option<usize>],
    permutations: usize,
    seed: u64,
) -> Option<Baseline> {
    let observed = measure(sheet, labels)?;
    if permutations == 0 {
        return None;
    }
    let positions: Vec<usize> = (0..labels.len()).filter(|&u| labels[u].is_some()).collect();
    let mut pool: Vec<Option<usize>> = positions.iter().map(|&u| labels[u]).collect();
    let mut rng = Rng::new(seed);
    let mut shuffled = labels.to_vec();
    let (mut iso, mut size) = (Vec::new(), Vec::new());
    for _ in 0..permutations {
        for i in (1..pool.len()).rev() {
            let j = rng.below(i as u32 + 1) as usize;
            pool.swap(i, j);
        }
        for (&u, &l) in positions.iter().zip(&pool) {
            shuffled[u] = l;
        }
        let m = measure(sheet, &shuffled)?;
        iso.push(m.isolated_fraction);
        size.push(m.mean_group_size);
    }
    Some(Baseline {
        permutations,
        seed,
        isolated_fraction: NullStat::of(&iso, observed.isolated_fraction),
        mean_group_size: NullStat::of(&size, observed.mean_group_size),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sheet from rows of characters: '.' unimportant, a letter = that cluster.
    fn sheet_of(rows: &[&str]) -> (Sheet, Vec<Option<usize>>) {
        let sheet = Sheet::new(rows.len(), rows[0].len());
        let labels = rows
            .iter()
            .flat_map(|r| r.bytes())
            .map(|b| (b != b'.').then(|| usize::from(b - b'A')))
            .collect();
        (sheet, labels)
    }

    #[test]
    fn hand_made_sheets() {
        let (s, l) = sheet_of(&["AA.", "..B", "A.B"]);
        let m = measure(&s, &l).unwrap();
        assert_eq!(m.important, 5);
        assert_eq!(m.groups, 3);
        assert!((m.isolated_fraction - 0.2).abs() < 1e-12);
        assert!((m.mean_group_size - 5.0 / 3.0).abs() < 1e-12);

        // Diagonal neighbours count; a different cluster next door does not.
        let (s, l) = sheet_of(&["A.B", ".A.", "B.A"]);
        let m = measure(&s, &l).unwrap();
        assert_eq!(m.groups, 3);
        assert!((m.isolated_fraction - 2.0 / 5.0).abs() < 1e-12);

        // A checkerboard of two clusters: diagonal neighbours join each colour into one group.
        let (s, l) = sheet_of(&["ABAB", "BABA", "ABAB"]);
        let m = measure(&s, &l).unwrap();
        assert_eq!((m.groups, m.isolated_fraction), (2, 0.0));
        assert_eq!(m.mean_group_size, 6.0);

        // All isolated.
        let (s, l) = sheet_of(&["A.B.", "....", "C.A."]);
        let m = measure(&s, &l).unwrap();
        assert_eq!(
            (m.groups, m.isolated_fraction, m.mean_group_size),
            (4, 1.0, 1.0)
        );

        let (s, l) = sheet_of(&["..", ".."]);
        assert!(measure(&s, &l).is_none());
        assert!(baseline(&s, &l, 10, 1).is_none());
    }

    #[test]
    fn a_modular_sheet_beats_its_shuffles() {
        // Left half cluster A, right half cluster B, a few unimportant units.
        let rows: Vec<String> = (0..10)
            .map(|r| {
                (0..10)
                    .map(|c| match (r + c) % 7 == 0 {
                        true => '.',
                        false if c < 5 => 'A',
                        false => 'B',
                    })
                    .collect()
            })
            .collect();
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let (s, l) = sheet_of(&rows);
        let m = measure(&s, &l).unwrap();
        assert_eq!(m.isolated_fraction, 0.0);
        let b = baseline(&s, &l, 200, 3).unwrap();
        assert!(b.isolated_fraction.mean >= 0.0 && b.isolated_fraction.sd >= 0.0);
        assert!(b.isolated_fraction.percentile < 5.0, "{b:?}");
        assert!(b.mean_group_size.percentile > 95.0, "{b:?}");
        assert!(b.mean_group_size.mean < m.mean_group_size);
        // Seeded: the same seed gives the same baseline, another seed another one.
        assert_eq!(baseline(&s, &l, 200, 3).unwrap(), b);
        assert_ne!(baseline(&s, &l, 200, 4).unwrap(), b);
    }

    #[test]
    fn one_cluster_filling_the_sheet_is_its_own_null() {
        let (s, l) = sheet_of(&["AAA", "AAA"]);
        let b = baseline(&s, &l, 50, 1).unwrap();
        assert_eq!(b.isolated_fraction.sd, 0.0);
        assert_eq!(b.mean_group_size.mean, 6.0);
        assert_eq!(b.mean_group_size.percentile, 50.0);
    }
}
