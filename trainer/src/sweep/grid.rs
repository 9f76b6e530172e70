//! Grid specs: `lambda=0,1e-6,1e-5; A=0,1; seed=1..3` -> the points of a sweep, and how a
//! point's values are applied to a base run config.
//!
//! Syntax: axes separated by `;`, each `key=values`; values separated by `,`, each a single value
//! or an inclusive integer range `a..b`. The points are the Cartesian product, the first axis
//! varying slowest. The keys ([`KEYS`]) and where they go in the config:
//!
//! | key | config field |
//! |---|---|
//! | `seed`, `steps`, `batch`, `seq_len`, `eval_trials`, `eval_every`, `checkpoint_every` | top-level integers |
//! | `lr` | top-level float |
//! | `tasks` | `tasks` (write `go+anti` for the list `go,anti`: `,` separates grid values) |
//! | `sheet` | `net.sheet` (`RxC`) |
//! | `activation` | `net.activation` |
//! | `alpha` | `net.alpha` |
//! | `family` | `net.family.kind` (shared parameters d, r, torus, lambda, a carry over where the new family takes them) |
//! | `radius` (alias `d`) | `net.family.d` |
//! | `r` | `net.family.r` (small-world) |
//! | `lambda`, `A` (alias `a`) | the connection-cost family, see below |
//!
//! Connection-cost convention (one Pareto frontier per family, Liu et al.): when a point sets
//! `lambda` or `A`, the family (after `family`, if the grid sets it) must be `l1` or `bimt`, and
//! the point's family becomes: `dense` if lambda = 0 (no cost), `l1 { lambda }` if A = 0 (or the
//! family is `l1` and A is not set), else `bimt { lambda, a = A }` (other bimt fields of the base
//! are kept). Unset lambda or A are taken from the base family (a bimt base without `a` keeps the
//! family's default). So a grid over lambda and A on a bimt base gives the three frontiers of
//! Liu et al.: BIMT, L1 (A = 0) and none (lambda = 0).
//!
//! Point configs are built on the config as a [`toml::Value`], then checked by deserializing into
//! [`RunConfig`] and [`RunConfig::validate`], so this module does not depend on the family enum.

use crate::model::{Family, Sheet};
use crate::train::config::RunConfig;
use anyhow::{bail, Context, Result};
use toml::{Table, Value};

/// Valid grid keys (aliases: `d` for `radius`, `a` for `A`).
pub const KEYS: &[&str] = &[
    "seed",
    "steps",
    "batch",
    "seq_len",
    "eval_trials",
    "eval_every",
    "checkpoint_every",
    "lr",
    "tasks",
    "sheet",
    "activation",
    "alpha",
    "family",
    "radius",
    "r",
    "lambda",
    "A",
];

/// Most points a grid may expand to (a typo like `seed=1..100000` should not start a month of work).
pub const MAX_POINTS: usize = 100_000;

/// The type of a key's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Text,
    Sheet,
}

fn kind(key: &str) -> Kind {
    match key {
        "seed" | "steps" | "batch" | "seq_len" | "eval_trials" | "eval_every"
        | "checkpoint_every" => Kind::Int,
        "lr" | "alpha" | "radius" | "r" | "lambda" | "A" => Kind::Float,
        "sheet" => Kind::Sheet,
        _ => Kind::Text,
    }
}

/// The canonical name of a key or alias, if valid.
fn canonical(key: &str) -> Option<&'static str> {
    match key {
        "d" => Some("radius"),
        "a" => Some("A"),
        k => KEYS.iter().copied().find(|v| *v == k),
    }
}

/// One axis of a grid: a key and its values (as written, ranges expanded).
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Canonical key (one of [`KEYS`]).
    pub key: String,
    /// The values, in order.
    pub values: Vec<String>,
}

/// A parsed grid spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// The axes, first varying slowest.
    pub axes: Vec<Axis>,
}

/// One point of a grid: (key, value) for every axis, in axis order.
pub type Point = Vec<(String, String)>;

fn check_value(key: &str, v: &str) -> Result<()> {
    let ok = match kind(key) {
        Kind::Int => v.parse::<u64>().is_ok(),
        Kind::Float => v.parse::<f64>().is_ok_and(|x| x.is_finite()),
        Kind::Sheet => v.parse::<Sheet>().is_ok(),
        Kind::Text => !v.is_empty() && !v.contains(char::is_whitespace),
    };
    if !ok {
        let want = match kind(key) {
            Kind::Int => "a non-negative integer",
            Kind::Float => "a finite number",
            Kind::Sheet => "ROWSxCOLS, e.g. 8x8",
            Kind::Text => "a word",
        };
        bail!("grid value '{v}' of {key} is not {want}");
    }
    Ok(())
}

impl Grid {
    /// Parses a spec such as `lambda=0,1e-5; A=0,1; seed=1..3`.
    pub fn parse(spec: &str) -> Result<Grid> {
        let mut axes: Vec<Axis> = Vec::new();
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, values) = part.split_once('=').with_context(|| {
                format!("grid axis '{part}' is not key=values (e.g. seed=1..3)")
            })?;
            let key = key.trim();
            let key = canonical(key).with_context(|| {
                format!(
                    "unknown grid key '{key}'; valid keys: {} (aliases: d = radius, a = A)",
                    KEYS.join(", ")
                )
            })?;
            if axes.iter().any(|a| a.key == key) {
                bail!("grid key {key} is given twice");
            }
            let mut list = Vec::new();
            for item in values.split(',').map(str::trim) {
                if item.is_empty() {
                    bail!("grid axis '{part}' has an empty value");
                }
                if let Some((lo, hi)) = item.split_once("..") {
                    if kind(key) != Kind::Int {
                        bail!(
                            "ranges like {item} are for integer keys; give {key} as a list a,b,c"
                        );
                    }
                    let (lo, hi): (u64, u64) = match (lo.trim().parse(), hi.trim().parse()) {
                        (Ok(a), Ok(b)) if a <= b => (a, b),
                        _ => bail!(
                            "'{item}' is not an integer range lo..hi with lo <= hi (inclusive)"
                        ),
                    };
                    if hi - lo >= MAX_POINTS as u64 {
                        bail!("range {item} is too long (at most {MAX_POINTS} values)");
                    }
                    list.extend((lo..=hi).map(|x| x.to_string()));
                } else {
                    check_value(key, item)?;
                    list.push(item.to_string());
                }
            }
            if let Some(d) = list
                .iter()
                .enumerate()
                .find_map(|(i, v)| list[..i].contains(v).then_some(v.clone()))
            {
                bail!("grid value {d} of {key} is given twice");
            }
            axes.push(Axis {
                key: key.to_string(),
                values: list,
            });
        }
        if axes.is_empty() {
            bail!(
                "empty grid; give axes like 'lambda=0,1e-5; seed=1..3' (valid keys: {})",
                KEYS.join(", ")
            );
        }
        let n = axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()));
        if n.is_none_or(|n| n > MAX_POINTS) {
            bail!("the grid has more than {MAX_POINTS} points");
        }
        Ok(Grid { axes })
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// True if the grid has no points (never, for a parsed grid).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The points, first axis varying slowest.
    pub fn points(&self) -> Vec<Point> {
        let mut points: Vec<Point> = vec![Vec::new()];
        for axis in &self.axes {
            points = points
                .into_iter()
                .flat_map(|p| {
                    axis.values.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push((axis.key.clone(), v.clone()));
                        q
                    })
                })
                .collect();
        }
        points
    }
}

/// A folder-safe name for point `index`: `p003_lambda1e-5_A0_seed1`.
pub fn point_name(index: usize, point: &Point) -> String {
    let mut name = format!("p{index:03}");
    for (k, v) in point {
        name.push('_');
        name.push_str(k);
        name.extend(v.chars().map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+') {
                c
            } else {
                '-'
            }
        }));
    }
    name
}

/// Whether family `kind` takes parameter `field` (the rule of [`Family::params`]).
fn takes(kind: &str, field: &str) -> bool {
    Family::params(kind).is_some_and(|p| p.contains(&field))
}

/// Replaces the family with one of kind `kind`, carrying over the parameters it takes.
fn set_kind(family: &mut Table, kind: &str) {
    let old = family
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("dense");
    if old == kind {
        return;
    }
    let mut new = Table::new();
    new.insert("kind".into(), Value::String(kind.into()));
    for (k, v) in family.iter() {
        if takes(kind, k) {
            new.insert(k.clone(), v.clone());
        }
    }
    *family = new;
}

fn float(v: &str) -> Result<f64> {
    v.parse::<f64>()
        .with_context(|| format!("'{v}' is not a number"))
}

fn table<'a>(t: &'a mut Table, key: &str) -> Result<&'a mut Table> {
    t.entry(key.to_string())
        .or_insert_with(|| Value::Table(Table::new()))
        .as_table_mut()
        .with_context(|| format!("config field {key} is not a table"))
}

/// The base config with `point` applied, as TOML, checked by deserializing and validating it.
pub fn apply(base: &Value, point: &Point) -> Result<(Value, RunConfig)> {
    let mut v = base.clone();
    let root = v
        .as_table_mut()
        .context("the base config is not a TOML table")?;
    let get = |k: &str| {
        point
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    for (key, val) in point {
        match key.as_str() {
            "seed" | "steps" | "batch" | "seq_len" | "eval_trials" | "eval_every"
            | "checkpoint_every" => {
                let x: i64 = val
                    .parse()
                    .with_context(|| format!("{key} = {val} is not an integer that fits"))?;
                root.insert(key.clone(), Value::Integer(x));
            }
            "lr" => {
                root.insert(key.clone(), Value::Float(float(val)?));
            }
            "tasks" => {
                root.insert(key.clone(), Value::String(val.replace('+', ",")));
            }
            "sheet" => {
                let sheet: Sheet = val
                    .parse()
                    .with_context(|| format!("sheet {val} is not RxC"))?;
                let mut s = Table::new();
                s.insert("rows".into(), Value::Integer(sheet.rows as i64));
                s.insert("cols".into(), Value::Integer(sheet.cols as i64));
                table(root, "net")?.insert("sheet".into(), Value::Table(s));
            }
            "activation" => {
                table(root, "net")?.insert(key.clone(), Value::String(val.clone()));
            }
            "alpha" => {
                table(root, "net")?.insert(key.clone(), Value::Float(float(val)?));
            }
            _ => {}
        }
    }
    let net = table(root, "net")?;
    let family = table(net, "family")?;
    if let Some(kind) = get("family") {
        set_kind(family, kind);
    }
    for (key, field, families) in [
        ("radius", "d", "local, random and small-world"),
        ("r", "r", "small-world"),
    ] {
        if let Some(x) = get(key) {
            let kind = family
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("dense");
            if !takes(kind, field) {
                bail!(
                    "grid key {key} applies to the families {families}, not {kind} \
                     (set the base family or add a grid key family)"
                );
            }
            family.insert(field.into(), Value::Float(float(x)?));
        }
    }
    if get("lambda").is_some() || get("A").is_some() {
        let kind = family
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("dense")
            .to_string();
        if kind != "l1" && kind != "bimt" {
            bail!(
                "grid keys lambda and A need the base family (or a grid family) to be l1 or bimt, \
                 not {kind}; e.g. [net] family = {{ kind = \"bimt\", lambda = 1e-5, a = 1.0 }}"
            );
        }
        let num = |k: &str| {
            family
                .get(k)
                .and_then(|x| x.as_float().or(x.as_integer().map(|i| i as f64)))
        };
        let lambda = match get("lambda") {
            Some(l) => float(l)?,
            None => {
                num("lambda").with_context(|| format!("the base {kind} family has no lambda"))?
            }
        };
        let a = match get("A") {
            Some(a) => Some(float(a)?),
            None => num("a"),
        };
        if lambda == 0.0 {
            *family = Table::new();
            family.insert("kind".into(), Value::String("dense".into()));
        } else if a == Some(0.0) || (kind == "l1" && a.is_none()) {
            *family = Table::new();
            family.insert("kind".into(), Value::String("l1".into()));
            family.insert("lambda".into(), Value::Float(lambda));
        } else {
            // bimt; without A anywhere, the family's own default a applies.
            set_kind(family, "bimt");
            family.insert("lambda".into(), Value::Float(lambda));
            if let Some(a) = a {
                family.insert("a".into(), Value::Float(a));
            }
        }
    }
    let cfg: RunConfig = v
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| anyhow::anyhow!("{}", e.message()))
        .context("the point's config does not parse")?;
    cfg.validate()?;
    Ok((v, cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(family: &str) -> Value {
        toml::from_str(&format!(
            "tasks = \"go,anti\"\nsteps = 20\n[net]\nsheet = {{ rows = 3, cols = 3 }}\nfamily = {family}\n"
        ))
        .unwrap()
    }

    #[test]
    fn specs_expand_in_order() {
        let g = Grid::parse(" lambda=0,1e-6 ; A = 0,1; seed=1..3;").unwrap();
        assert_eq!(g.len(), 12);
        let p = g.points();
        assert_eq!(p.len(), 12);
        let key = |p: &Point| {
            p.iter()
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(key(&p[0]), "0 0 1");
        assert_eq!(key(&p[1]), "0 0 2");
        assert_eq!(key(&p[3]), "0 1 1");
        assert_eq!(key(&p[11]), "1e-6 1 3");
        assert_eq!(point_name(11, &p[11]), "p011_lambda1e-6_A1_seed3");
        let g = Grid::parse("d=1.5,2; sheet=4x4; a=1; seed=1..2,7").unwrap();
        assert_eq!(g.axes[0].key, "radius");
        assert_eq!(g.axes[2].key, "A");
        assert_eq!(g.axes[3].values, ["1", "2", "7"]);
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |s: &str| Grid::parse(s).unwrap_err().to_string();
        let e = err("lambda=0; colour=red");
        assert!(
            e.contains("colour") && e.contains("seed, steps") && e.contains("lambda"),
            "{e}"
        );
        assert!(err("seed").contains("key=values"));
        assert!(err("seed=3..1").contains("lo <= hi"));
        assert!(err("seed=1.5").contains("integer"));
        assert!(err("lambda=1..3").contains("integer keys"));
        assert!(err("lambda=abc").contains("number"));
        assert!(err("lambda=0,,1").contains("empty value"));
        assert!(err("seed=1; seed=2").contains("twice"));
        assert!(err("seed=1,1").contains("twice"));
        assert!(err("sheet=4").contains("ROWSxCOLS"));
        assert!(err("").contains("empty grid"));
        assert!(err("seed=0..1000000").contains("too long"));
    }

    #[test]
    fn points_become_configs() {
        let g =
            Grid::parse("lambda=0,1e-3; seed=1..2; lr=0.01; sheet=2x5; activation=tanh").unwrap();
        let pts = g.points();
        let (_, c0) = apply(&base("{ kind = \"l1\", lambda = 1e-4 }"), &pts[0]).unwrap();
        assert_eq!(c0.net.family.name(), "dense");
        assert_eq!((c0.seed, c0.lr, c0.net.sheet.cols), (1, 0.01, 5));
        assert_eq!(c0.net.activation, crate::model::Activation::Tanh);
        let g = Grid::parse("eval_every=7; checkpoint_every=3").unwrap();
        let (_, c) = apply(&base("{ kind = \"dense\" }"), &g.points()[0]).unwrap();
        assert_eq!((c.eval_every, c.checkpoint_every), (7, 3));
        let (_, c3) = apply(&base("{ kind = \"l1\", lambda = 1e-4 }"), &pts[3]).unwrap();
        assert_eq!(c3.net.family.l1_lambda(), 1e-3);
        assert_eq!(c3.seed, 2);
        // A = 0 on a bimt base is plain L1; lambda = 0 is dense, whatever A.
        let g = Grid::parse("lambda=0,1e-3; A=0").unwrap();
        let bimt = base("{ kind = \"bimt\", lambda = 1e-5, a = 1.0 }");
        let (v, c) = apply(&bimt, &g.points()[1]).unwrap();
        assert_eq!(c.net.family.l1_lambda(), 1e-3);
        assert_eq!(v["net"]["family"]["kind"].as_str(), Some("l1"));
        assert_eq!(
            apply(&bimt, &g.points()[0]).unwrap().1.net.family.name(),
            "dense"
        );
        // The full convention on a bimt base: bimt fields the grid does not set are kept.
        let bimt = base("{ kind = \"bimt\", lambda = 1e-5, a = 2.0, swap_every = 50 }");
        let g = Grid::parse("lambda=0,1e-3; A=0,0.5").unwrap();
        let fams: Vec<String> = g
            .points()
            .iter()
            .map(|p| format!("{:?}", apply(&bimt, p).unwrap().1.net.family))
            .collect();
        assert_eq!(fams[0], "Dense");
        assert_eq!(fams[1], "Dense");
        assert_eq!(fams[2], "L1 { lambda: 0.001 }");
        assert!(
            fams[3].starts_with("Bimt { lambda: 0.001, a: 0.5, swap_every: 50"),
            "{}",
            fams[3]
        );
        // lambda alone on a bimt base keeps its a; A > 0 on an l1 base gives bimt.
        let g = Grid::parse("lambda=1e-4").unwrap();
        let (v, _) = apply(&bimt, &g.points()[0]).unwrap();
        assert_eq!(v["net"]["family"]["a"].as_float(), Some(2.0));
        let g = Grid::parse("A=1").unwrap();
        let (v, _) = apply(&base("{ kind = \"l1\", lambda = 1e-4 }"), &g.points()[0]).unwrap();
        assert_eq!(v["net"]["family"]["kind"].as_str(), Some("bimt"));
        // Family changes keep the parameters the new family takes.
        let local = base("{ kind = \"local\", d = 2.0 }");
        let g = Grid::parse("family=random,local; radius=1.5").unwrap();
        let (v, c) = apply(&local, &g.points()[0]).unwrap();
        assert_eq!(c.net.family.name(), "random");
        assert_eq!(v["net"]["family"]["d"].as_float(), Some(1.5));
    }

    #[test]
    fn points_that_do_not_fit_the_base_are_refused() {
        let dense = base("{ kind = \"dense\" }");
        let g = Grid::parse("lambda=1e-3").unwrap();
        let e = apply(&dense, &g.points()[0]).unwrap_err().to_string();
        assert!(e.contains("l1 or bimt"), "{e}");
        let g = Grid::parse("radius=2").unwrap();
        let e = format!("{:#}", apply(&dense, &g.points()[0]).unwrap_err());
        assert!(
            e.contains("local, random and small-world, not dense"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            apply(&base("{ kind = \"blob\" }"), &Vec::new()).unwrap_err()
        );
        assert!(e.contains("does not parse"), "{e}");
        let g = Grid::parse("batch=0").unwrap();
        let e = apply(&dense, &g.points()[0]).unwrap_err().to_string();
        assert!(e.contains("batch"), "{e}");
        let g = Grid::parse("family=blob").unwrap();
        assert!(apply(&dense, &g.points()[0]).is_err());
    }
}
