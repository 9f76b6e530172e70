//! Connectivity families (`docs/models.md`) and the fixed structure each one gives W.

use super::mask::Csr;
use super::sheet::Sheet;
use gyrus_runtime::tasks::{derive_seed, Rng};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MASK_DOMAIN: u64 = 0x4d41_534b; // "MASK"

/// A connectivity family, as written in a TOML/JSON config: `kind = "local"`, `d = 2`, ...
///
/// Distances are Euclidean on the sheet grid, sqrt((i-m)^2 + (j-n)^2), without wrap-around unless
/// `torus = true`. BIMT (dense plus a connection cost) is added by another module as a new variant.
///
/// A parameter the family does not take (`{ kind = "dense", d = 2.0 }`) is refused, by the rule of
/// [`Family::params`] (serde alone would drop it silently for the families without parameters).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Family {
    /// All connections.
    #[default]
    Dense,
    /// Connections within grid distance `d`, self-connections included (LM-RNN).
    Local {
        /// Radius (in grid units).
        d: f64,
        /// Wrap around the sheet edges.
        #[serde(default)]
        torus: bool,
    },
    /// Only the diagonal (self-connections), trained.
    Autapse,
    /// The diagonal fixed at 1 and not trained: no trainable recurrent weights.
    FrozenAutapse,
    /// For each unit, as many incoming connections as `local` with the same `d` gives it, from
    /// sources drawn uniformly without replacement (self possible).
    Random {
        /// Radius of the `local` family whose in-degrees are copied.
        d: f64,
        /// In-degrees of the torus version of `local`.
        #[serde(default)]
        torus: bool,
        /// Seed of the draw; default: derived from the network seed.
        #[serde(default)]
        seed: Option<u64>,
    },
    /// All connections within radius `r`, plus uniformly drawn extra connections until the edge
    /// count of `local` with radius `d` (r <= d).
    SmallWorld {
        /// Local radius kept in full.
        r: f64,
        /// Radius of the `local` family whose edge count is matched.
        d: f64,
        /// Distances on a torus.
        #[serde(default)]
        torus: bool,
        /// Seed of the draw; default: derived from the network seed.
        #[serde(default)]
        seed: Option<u64>,
    },
    /// Dense, plus `lambda * sum |all weights and biases|` in the loss.
    L1 {
        /// Penalty weight.
        lambda: f32,
    },
    /// BIMT (Liu et al.): dense, plus `lambda * l_cc` with the connection cost
    /// l_cc = |W|_1 + |W_in|_1 + |W_out|_1 + |b_h|_1 + |b_o|_1 + a * |D (.) W|_1, plus neuron
    /// swaps that shorten the wiring (see `regularize::bimt`).
    Bimt {
        /// Penalty weight (paper: 1e-5; 0 = the dense baseline).
        lambda: f32,
        /// Weight A of the distance-weighted term (default 1; 0 = plain L1).
        #[serde(default = "one_f32")]
        a: f32,
        /// Swap round every this many steps (default 200; 0 = never).
        #[serde(default = "default_swap_every")]
        swap_every: u64,
        /// Hidden units tried per swap round; default (absent) ceil(N / 8).
        #[serde(default)]
        top_k: Option<usize>,
        /// Linear warm-up of lambda: step t (from 1) uses lambda * min(1, t / warmup); 0 = none.
        #[serde(default)]
        warmup: u64,
    },
    /// A fixed mask listed in the config, one string per receiving unit: character j of
    /// `rows[i]` is `1` when unit j sends to unit i and `0` otherwise (what `gyrus import` writes
    /// for a network whose mask is no family of this list).
    Mask {
        /// N strings of N characters `0` / `1`.
        rows: Vec<String>,
    },
}

impl Serialize for Family {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Family::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for Family {
    /// Reads the table, refuses a parameter its kind does not take ([`Family::params`]), then
    /// reads the family from it.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Family, D::Error> {
        use serde::de::Error;
        let table = toml::Table::deserialize(d)?;
        if let Some(kind) = table.get("kind").and_then(toml::Value::as_str) {
            if let Some(takes) = Family::params(kind) {
                let extra = table
                    .keys()
                    .find(|k| *k != "kind" && !takes.contains(&k.as_str()));
                if let Some(extra) = extra {
                    return Err(D::Error::custom(not_taken(kind, extra)));
                }
            }
        }
        Family::deserialize(toml::Value::Table(table)).map_err(|e| D::Error::custom(e.message()))
    }
}

/// The message for parameter `param` given to family `kind`, which does not take it.
fn not_taken(kind: &str, param: &str) -> String {
    let takes = match Family::params(kind) {
        Some([]) | None => "it takes no parameters".to_string(),
        Some(p) => format!("it takes {}", p.join(", ")),
    };
    let elsewhere = Family::taking(param);
    let applies = if elsewhere.is_empty() {
        format!("`{param}` is not a parameter of any family")
    } else {
        format!("`{param}` applies to {}", elsewhere.join(", "))
    };
    format!("family `{kind}` does not take `{param}` ({takes}; {applies})")
}

fn one_f32() -> f32 {
    1.0
}

fn default_swap_every() -> u64 {
    200
}

/// The fixed structure of the recurrent weight matrix W that a family gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Structure {
    /// All N x N entries trainable, stored row-major.
    Dense,
    /// Only the entries of the mask exist (stored in mask order); all others are exactly zero.
    Sparse(Csr),
    /// W = I, fixed: no trainable recurrent weights.
    FrozenIdentity,
}

fn check_radius(name: &str, d: f64) -> anyhow::Result<()> {
    if !d.is_finite() || d < 0.0 {
        anyhow::bail!("{name} must be a finite radius >= 0, got {d}");
    }
    Ok(())
}

/// Grid distance squared between units `a` and `b`, wrapped on a torus if asked.
fn dist2(sheet: &Sheet, a: usize, b: usize, torus: bool) -> f64 {
    let (di, dj) = sheet.offsets(a, b, torus);
    (di * di + dj * dj) as f64
}

/// Sending units within radius `d` of each receiving unit.
fn local_rows(sheet: &Sheet, d: f64, torus: bool) -> Vec<Vec<u32>> {
    let n = sheet.n_units();
    let d2 = d * d;
    let reach = d.floor() as usize;
    (0..n)
        .map(|i| {
            let (ri, ci) = sheet.pos(i);
            let mut row = Vec::new();
            if torus || reach >= sheet.rows.max(sheet.cols) {
                for j in 0..n {
                    if dist2(sheet, i, j, torus) <= d2 {
                        row.push(j as u32);
                    }
                }
            } else {
                let (r0, r1) = (ri.saturating_sub(reach), (ri + reach).min(sheet.rows - 1));
                let (c0, c1) = (ci.saturating_sub(reach), (ci + reach).min(sheet.cols - 1));
                for r in r0..=r1 {
                    for c in c0..=c1 {
                        let j = sheet.index(r, c);
                        if dist2(sheet, i, j, false) <= d2 {
                            row.push(j as u32);
                        }
                    }
                }
            }
            row
        })
        .collect()
}

impl Family {
    /// Every family's config name (`kind`).
    pub const KINDS: [&'static str; 8] = [
        "dense",
        "local",
        "autapse",
        "frozen-autapse",
        "random",
        "small-world",
        "l1",
        "bimt",
    ];

    /// The parameters (config fields besides `kind`) that the family `kind` takes, `None` for an
    /// unknown kind. The one rule for parameters that do not apply, which are refused rather than
    /// dropped: in config files (deserialization), on the `gyrus train` command line and in sweep
    /// grids.
    pub fn params(kind: &str) -> Option<&'static [&'static str]> {
        Some(match kind {
            "dense" | "autapse" | "frozen-autapse" => &[],
            "local" => &["d", "torus"],
            "random" => &["d", "torus", "seed"],
            "small-world" => &["r", "d", "torus", "seed"],
            "l1" => &["lambda"],
            "bimt" => &["lambda", "a", "swap_every", "top_k", "warmup"],
            _ => return None,
        })
    }

    /// The families that take parameter `param` (e.g. `l1`, `bimt` for `lambda`).
    pub fn taking(param: &str) -> Vec<&'static str> {
        Family::KINDS
            .into_iter()
            .filter(|k| Family::params(k).is_some_and(|p| p.contains(&param)))
            .collect()
    }

    /// The config name of the family.
    pub fn name(&self) -> &'static str {
        match self {
            Family::Dense => "dense",
            Family::Local { .. } => "local",
            Family::Autapse => "autapse",
            Family::FrozenAutapse => "frozen-autapse",
            Family::Random { .. } => "random",
            Family::SmallWorld { .. } => "small-world",
            Family::L1 { .. } => "l1",
            Family::Bimt { .. } => "bimt",
            Family::Mask { .. } => "mask",
        }
    }

    /// The `mask` family of an `n` x `n` mask: `allowed(i, j)` when unit j sends to unit i.
    pub fn from_mask(n: usize, allowed: impl Fn(usize, usize) -> bool) -> Family {
        let rows = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| if allowed(i, j) { '1' } else { '0' })
                    .collect()
            })
            .collect();
        Family::Mask { rows }
    }

    /// The L1 penalty weight (0 for every family but `l1`).
    pub fn l1_lambda(&self) -> f32 {
        match self {
            Family::L1 { lambda } => *lambda,
            _ => 0.0,
        }
    }

    /// Checks the parameters (radii finite and >= 0, r <= d, lambda finite and >= 0).
    pub fn validate(&self) -> anyhow::Result<()> {
        match self {
            Family::Local { d, .. } | Family::Random { d, .. } => check_radius("d", *d),
            Family::SmallWorld { r, d, .. } => {
                check_radius("r", *r)?;
                check_radius("d", *d)?;
                if r > d {
                    anyhow::bail!("small-world needs r <= d, got r = {r}, d = {d}");
                }
                Ok(())
            }
            Family::L1 { lambda } => {
                if !lambda.is_finite() || *lambda < 0.0 {
                    anyhow::bail!("l1 lambda must be finite and >= 0, got {lambda}");
                }
                Ok(())
            }
            Family::Bimt {
                lambda, a, top_k, ..
            } => {
                if !lambda.is_finite() || *lambda < 0.0 {
                    anyhow::bail!("bimt lambda must be finite and >= 0, got {lambda}");
                }
                if !a.is_finite() || *a < 0.0 {
                    anyhow::bail!("bimt a must be finite and >= 0, got {a}");
                }
                if *top_k == Some(0) {
                    anyhow::bail!("bimt top_k must be >= 1 (use swap_every = 0 for no swaps)");
                }
                Ok(())
            }
            Family::Mask { rows } => {
                for (i, row) in rows.iter().enumerate() {
                    if row.len() != rows.len() {
                        anyhow::bail!(
                            "mask row {i} has {} characters, {} expected (one per unit)",
                            row.len(),
                            rows.len()
                        );
                    }
                    if let Some(c) = row.chars().find(|c| *c != '0' && *c != '1') {
                        anyhow::bail!("mask row {i} has the character {c:?} (only 0 and 1)");
                    }
                }
                Ok(())
            }
            Family::Dense | Family::Autapse | Family::FrozenAutapse => Ok(()),
        }
    }

    /// Builds the structure of W on `sheet`; random draws use the family's own seed or, if none,
    /// one derived from `net_seed`. Deterministic.
    pub fn structure(&self, sheet: &Sheet, net_seed: u64) -> anyhow::Result<Structure> {
        sheet.validate()?;
        self.validate()?;
        self.valid_structure(sheet, net_seed)
    }

    /// [`Family::structure`] for a sheet and family validated already ([`Sheet::validate`],
    /// [`Family::validate`]; [`crate::model::NetConfig::validate`] checks both).
    pub(crate) fn valid_structure(
        &self,
        sheet: &Sheet,
        net_seed: u64,
    ) -> anyhow::Result<Structure> {
        let n = sheet.n_units();
        let seed_of = |s: &Option<u64>| s.unwrap_or_else(|| derive_seed(net_seed, MASK_DOMAIN, 0));
        Ok(match self {
            Family::Dense | Family::L1 { .. } | Family::Bimt { .. } => Structure::Dense,
            Family::FrozenAutapse => Structure::FrozenIdentity,
            Family::Mask { rows } => {
                if rows.len() != n {
                    anyhow::bail!(
                        "the mask has {} rows, the {}x{} sheet has {n} units",
                        rows.len(),
                        sheet.rows,
                        sheet.cols
                    );
                }
                let lists = rows
                    .iter()
                    .map(|r| {
                        r.bytes()
                            .enumerate()
                            .filter(|&(_, b)| b == b'1')
                            .map(|(j, _)| j as u32)
                            .collect()
                    })
                    .collect();
                Structure::Sparse(Csr::from_rows(n, lists)?)
            }
            Family::Autapse => {
                Structure::Sparse(Csr::from_rows(n, (0..n as u32).map(|i| vec![i]).collect())?)
            }
            Family::Local { d, torus } => {
                Structure::Sparse(Csr::from_rows(n, local_rows(sheet, *d, *torus))?)
            }
            Family::Random { d, torus, seed } => {
                let mut rng = Rng::new(seed_of(seed));
                let mut pool: Vec<u32> = (0..n as u32).collect();
                let rows = local_rows(sheet, *d, *torus)
                    .iter()
                    .map(|local| {
                        // Partial Fisher-Yates: the first k entries of the pool are the draw.
                        let k = local.len();
                        for a in 0..k {
                            let b = a + rng.below((n - a) as u32) as usize;
                            pool.swap(a, b);
                        }
                        pool[..k].to_vec()
                    })
                    .collect();
                Structure::Sparse(Csr::from_rows(n, rows)?)
            }
            Family::SmallWorld { r, d, torus, seed } => {
                let mut rows = local_rows(sheet, *r, *torus);
                let target: usize = local_rows(sheet, *d, *torus).iter().map(Vec::len).sum();
                let mut count: usize = rows.iter().map(Vec::len).sum();
                let mut present: Vec<bool> = vec![false; n * n];
                for (i, row) in rows.iter().enumerate() {
                    for &j in row {
                        present[i * n + j as usize] = true;
                    }
                }
                let mut rng = Rng::new(seed_of(seed));
                while count < target {
                    let i = rng.below(n as u32) as usize;
                    let j = rng.below(n as u32) as usize;
                    if !present[i * n + j] {
                        present[i * n + j] = true;
                        rows[i].push(j as u32);
                        count += 1;
                    }
                }
                Structure::Sparse(Csr::from_rows(n, rows)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sparse(f: &Family, sheet: Sheet, seed: u64) -> Csr {
        match f.structure(&sheet, seed).unwrap() {
            Structure::Sparse(m) => m,
            s => panic!("not sparse: {s:?}"),
        }
    }

    #[test]
    fn local_counts_neighbours_without_wrap() {
        let sheet = Sheet::new(4, 4);
        let m = sparse(
            &Family::Local {
                d: 1.0,
                torus: false,
            },
            sheet,
            0,
        );
        assert_eq!(m.row(0), &[0, 1, 4]); // corner: self, right, below
        assert_eq!(m.row(5).len(), 5); // interior: self + 4 neighbours
        assert_eq!(m.nnz(), 4 * 3 + 8 * 4 + 4 * 5);
        let t = sparse(
            &Family::Local {
                d: 1.0,
                torus: true,
            },
            sheet,
            0,
        );
        assert!((0..16).all(|i| t.row(i).len() == 5));
        assert!(t.find(0, 3).is_some() && t.find(0, 12).is_some());
        // d = 2 includes (1, 1) diagonals (sqrt 2) and (2, 0) but not (2, 1) (sqrt 5).
        let m2 = sparse(
            &Family::Local {
                d: 2.0,
                torus: false,
            },
            Sheet::new(5, 5),
            0,
        );
        assert_eq!(m2.row(12).len(), 13);
        let m25 = sparse(
            &Family::Local {
                d: 2.0,
                torus: false,
            },
            Sheet::new(25, 25),
            0,
        );
        assert_eq!(m25.row(12 * 25 + 12).len(), 13);
    }

    #[test]
    fn autapse_is_the_diagonal_and_frozen_has_no_mask() {
        let sheet = Sheet::new(3, 2);
        let m = sparse(&Family::Autapse, sheet, 0);
        assert_eq!(m.nnz(), 6);
        assert!((0..6).all(|i| m.row(i) == [i as u32]));
        assert_eq!(
            Family::FrozenAutapse.structure(&sheet, 0).unwrap(),
            Structure::FrozenIdentity
        );
        assert_eq!(
            Family::L1 { lambda: 1e-4 }.structure(&sheet, 0).unwrap(),
            Structure::Dense
        );
    }

    #[test]
    fn random_copies_local_in_degrees_and_is_seeded() {
        let sheet = Sheet::new(6, 5);
        let local = sparse(
            &Family::Local {
                d: 1.5,
                torus: false,
            },
            sheet,
            0,
        );
        let f = Family::Random {
            d: 1.5,
            torus: false,
            seed: None,
        };
        let a = sparse(&f, sheet, 1);
        for i in 0..30 {
            assert_eq!(a.row(i).len(), local.row(i).len());
        }
        assert_eq!(a, sparse(&f, sheet, 1));
        assert_ne!(a, sparse(&f, sheet, 2));
        assert_ne!(a, local);
        let fixed = Family::Random {
            d: 1.5,
            torus: false,
            seed: Some(9),
        };
        assert_eq!(sparse(&fixed, sheet, 1), sparse(&fixed, sheet, 2));
    }

    #[test]
    fn small_world_keeps_local_core_and_matches_edge_count() {
        let sheet = Sheet::new(7, 7);
        let core = sparse(
            &Family::Local {
                d: 1.0,
                torus: false,
            },
            sheet,
            0,
        );
        let target = sparse(
            &Family::Local {
                d: 2.0,
                torus: false,
            },
            sheet,
            0,
        )
        .nnz();
        let sw = sparse(
            &Family::SmallWorld {
                r: 1.0,
                d: 2.0,
                torus: false,
                seed: Some(3),
            },
            sheet,
            0,
        );
        assert_eq!(sw.nnz(), target);
        for i in 0..49 {
            for &j in core.row(i) {
                assert!(sw.find(i, j as usize).is_some());
            }
        }
        let bad = Family::SmallWorld {
            r: 3.0,
            d: 2.0,
            torus: false,
            seed: None,
        };
        assert!(bad.structure(&sheet, 0).is_err());
        assert!(Family::Local {
            d: -1.0,
            torus: false
        }
        .structure(&sheet, 0)
        .is_err());
    }

    #[test]
    fn mask_family_lists_its_connections() {
        let sheet = Sheet::new(1, 3);
        let f = Family::from_mask(3, |i, j| i == j || j == 0);
        assert_eq!(
            f,
            Family::Mask {
                rows: vec!["100".into(), "110".into(), "101".into()]
            }
        );
        let m = sparse(&f, sheet, 0);
        assert_eq!(
            (m.row(0), m.row(1), m.row(2)),
            (&[0][..], &[0, 1][..], &[0, 2][..])
        );
        let toml_text = "kind = \"mask\"\nrows = [\"10\", \"01\"]\n";
        let back: Family = toml::from_str(toml_text).unwrap();
        assert_eq!(sparse(&back, Sheet::new(2, 1), 0).nnz(), 2);
        assert!(
            back.structure(&sheet, 0).is_err(),
            "2 rows on a 3-unit sheet"
        );
        let bad = Family::Mask {
            rows: vec!["1x".into(), "01".into()],
        };
        assert!(bad.validate().unwrap_err().to_string().contains("'x'"));
        let ragged = Family::Mask {
            rows: vec!["1".into(), "01".into()],
        };
        assert!(ragged.validate().is_err());
    }

    #[test]
    fn parses_from_config_text() {
        let f: Family = serde_json::from_str(r#"{"kind":"local","d":2}"#).unwrap();
        assert_eq!(
            f,
            Family::Local {
                d: 2.0,
                torus: false
            }
        );
        let f: Family = serde_json::from_str(r#"{"kind":"frozen-autapse"}"#).unwrap();
        assert_eq!(f, Family::FrozenAutapse);
        let f: Family =
            serde_json::from_str(r#"{"kind":"small-world","r":1,"d":2,"seed":5}"#).unwrap();
        assert_eq!(
            f,
            Family::SmallWorld {
                r: 1.0,
                d: 2.0,
                torus: false,
                seed: Some(5)
            }
        );
        assert!(serde_json::from_str::<Family>(r#"{"kind":"local","dd":2}"#).is_err());
        assert!(serde_json::from_str::<Family>(r#"{"kind":"lokal"}"#).is_err());
        let back: Family = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
    }

    /// A value of the right type for each parameter name, as TOML.
    fn value_of(param: &str) -> &'static str {
        match param {
            "d" => "2.0",
            "r" => "1.0",
            "torus" => "true",
            "seed" => "3",
            "lambda" => "0.1",
            "a" => "1.0",
            "swap_every" => "10",
            "top_k" => "2",
            "warmup" => "5",
            p => panic!("no test value for {p}"),
        }
    }

    #[derive(Debug, Deserialize)]
    struct Holder {
        family: Family,
    }

    fn parse(kind: &str, params: &[&str]) -> Result<Family, String> {
        let fields: Vec<String> = std::iter::once(format!("kind = \"{kind}\""))
            .chain(params.iter().map(|p| format!("{p} = {}", value_of(p))))
            .collect();
        let text = format!("family = {{ {} }}", fields.join(", "));
        toml::from_str::<Holder>(&text)
            .map(|h| h.family)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn each_family_takes_its_parameters_and_refuses_every_other() {
        let all = [
            "d",
            "r",
            "torus",
            "seed",
            "lambda",
            "a",
            "swap_every",
            "top_k",
            "warmup",
        ];
        for kind in Family::KINDS {
            let takes = Family::params(kind).unwrap();
            let f = parse(kind, takes).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(f.name(), kind);
            // The rule lists exactly the fields of the variant (all set, so all serialized).
            let back = toml::Value::try_from(&f).unwrap();
            let mut fields: Vec<&str> = back
                .as_table()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            fields.retain(|k| *k != "kind");
            let mut want = takes.to_vec();
            fields.sort_unstable();
            want.sort_unstable();
            assert_eq!(fields, want, "{kind}");
            for p in all.iter().filter(|p| !takes.contains(p)) {
                let mut with = takes.to_vec();
                with.push(p);
                let e = parse(kind, &with).unwrap_err();
                assert!(
                    e.contains(&format!("family `{kind}` does not take `{p}`")),
                    "{kind} + {p}: {e}"
                );
            }
        }
        // The issue's case, and the message.
        let e = parse("dense", &["d"]).unwrap_err();
        assert!(
            e.contains("it takes no parameters; `d` applies to local, random, small-world"),
            "{e}"
        );
        let e = toml::from_str::<Holder>("family = { kind = \"local\", d = 1.0, dd = 2 }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`dd` is not a parameter of any family"), "{e}");
    }
}
