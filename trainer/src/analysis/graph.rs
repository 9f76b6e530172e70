//! Graph measures of the recurrent connectivity (Khona et al.; `docs/models.md`, "Graph
//! measures"), next to Erdos-Renyi graphs with the same node and edge counts.
//!
//! The graph is directed: an edge j -> i for every allowed (or active) recurrent weight W\[i\]\[j\]
//! with i != j (self-loops are dropped). Distances follow the edge directions (breadth-first
//! search, every edge of length 1).
//!
//! - Diameter and average shortest-path length are taken over ordered pairs of distinct nodes of
//!   the graph when it is strongly connected, otherwise over its largest strongly connected
//!   component ([`GraphMeasures::strongly_connected`] is then false and
//!   [`GraphMeasures::component`] gives its size). With fewer than two nodes in that component the
//!   average shortest-path length is undefined (`None`) and the diameter 0.
//! - The clustering coefficient is the directed one of Fagiolo (2007), as networkx computes it for
//!   a `DiGraph`: C_i = T_i / (d_i (d_i - 1) - 2 d_i^<->), with T_i the directed triangles through
//!   i (half the diagonal of (A + A^T)^3), d_i its total degree (in + out) and d_i^<-> its number
//!   of reciprocated pairs; C_i = 0 when the denominator is 0. The average is over all nodes, on
//!   the whole graph.
//! - The Erdos-Renyi baseline G(n, m): m distinct ordered pairs (i, j), i != j, drawn uniformly
//!   (seeded), measured the same way; means over the seeds ([`er_baseline`]).

use crate::model::{Network, Structure};
use anyhow::{bail, Result};
use gyrus_runtime::tasks::{derive_seed, Rng};
use std::collections::VecDeque;

const ER_DOMAIN: u64 = 0x4552_4752; // "ERGR"

/// A directed graph without self-loops or repeated edges: out-neighbours of every node, sorted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digraph {
    out: Vec<Vec<usize>>,
}

impl Digraph {
    /// The graph on `n` nodes with the edges `(from, to)`; self-loops and repeats are dropped.
    /// Errors if a node index is out of range.
    pub fn from_edges(n: usize, edges: &[(usize, usize)]) -> Result<Self> {
        let mut out = vec![Vec::new(); n];
        for &(a, b) in edges {
            if a >= n || b >= n {
                bail!("edge ({a}, {b}) names a node outside 0..{n}");
            }
            if a != b {
                out[a].push(b);
            }
        }
        for o in &mut out {
            o.sort_unstable();
            o.dedup();
        }
        Ok(Digraph { out })
    }

    /// The graph of a dense N*N matrix (row i = receiving unit): edge j -> i where `keep(W[i][j])`.
    pub fn from_matrix(n: usize, w: &[f32], keep: impl Fn(f32) -> bool) -> Result<Self> {
        if w.len() != n * n {
            bail!("matrix has {} values, {n}x{n} expected", w.len());
        }
        let mut edges = Vec::new();
        for i in 0..n {
            for j in 0..n {
                if i != j && keep(w[i * n + j]) {
                    edges.push((j, i));
                }
            }
        }
        Digraph::from_edges(n, &edges)
    }

    /// The allowed recurrent connections of `net` (its structure: all pairs for dense, l1 and bimt,
    /// the mask for masked families, none for frozen-autapse).
    pub fn allowed(net: &Network) -> Self {
        let n = net.n_hidden();
        let out = match net.structure() {
            Structure::Dense => (0..n)
                .map(|j| (0..n).filter(|&i| i != j).collect())
                .collect(),
            Structure::Sparse(m) => {
                let mut out = vec![Vec::new(); n];
                for i in 0..n {
                    for &j in m.row(i) {
                        let j = j as usize;
                        if j != i {
                            out[j].push(i);
                        }
                    }
                }
                for o in &mut out {
                    o.sort_unstable();
                    o.dedup();
                }
                out
            }
            Structure::FrozenIdentity => vec![Vec::new(); n],
        };
        Digraph { out }
    }

    /// The active recurrent connections of `net`: |w| > `threshold` (1e-2 in the spec).
    pub fn active(net: &Network, threshold: f32) -> Self {
        let n = net.n_hidden();
        let w = net.w_rec_dense();
        Digraph::from_matrix(n, &w, |v| v.abs() > threshold)
            .expect("w_rec_dense is N*N by construction")
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.out.len()
    }

    /// Number of (directed) edges.
    pub fn n_edges(&self) -> usize {
        self.out.iter().map(Vec::len).sum()
    }

    /// Out-neighbours of node `i`, sorted.
    pub fn out(&self, i: usize) -> &[usize] {
        &self.out[i]
    }

    /// True when the edge `a -> b` exists.
    pub fn has_edge(&self, a: usize, b: usize) -> bool {
        self.out[a].binary_search(&b).is_ok()
    }

    /// The strongly connected components (Tarjan, iterative), each a sorted list of nodes; the
    /// components are listed by decreasing size, ties by smallest node.
    pub fn strong_components(&self) -> Vec<Vec<usize>> {
        let n = self.n_nodes();
        const NONE: usize = usize::MAX;
        let mut index = vec![NONE; n];
        let mut low = vec![0usize; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut comps: Vec<Vec<usize>> = Vec::new();
        let mut next = 0usize;
        for root in 0..n {
            if index[root] != NONE {
                continue;
            }
            // Each frame: node and position in its out-list.
            let mut frames: Vec<(usize, usize)> = vec![(root, 0)];
            index[root] = next;
            low[root] = next;
            next += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut k)) = frames.last_mut() {
                if let Some(&w) = self.out[v].get(*k) {
                    *k += 1;
                    if index[w] == NONE {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        frames.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                } else {
                    frames.pop();
                    if let Some(&(parent, _)) = frames.last() {
                        low[parent] = low[parent].min(low[v]);
                    }
                    if low[v] == index[v] {
                        let mut comp = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            comp.push(w);
                            if w == v {
                                break;
                            }
                        }
                        comp.sort_unstable();
                        comps.push(comp);
                    }
                }
            }
        }
        comps.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
        comps
    }

    /// The subgraph induced by `nodes` (sorted, distinct), renumbered 0..nodes.len() in order.
    pub fn induced(&self, nodes: &[usize]) -> Digraph {
        let mut pos = vec![usize::MAX; self.n_nodes()];
        for (k, &v) in nodes.iter().enumerate() {
            pos[v] = k;
        }
        let out = nodes
            .iter()
            .map(|&v| {
                self.out[v]
                    .iter()
                    .filter_map(|&w| (pos[w] != usize::MAX).then_some(pos[w]))
                    .collect()
            })
            .collect();
        Digraph { out }
    }

    /// Breadth-first distances from `src` (`usize::MAX` for unreachable nodes).
    pub fn distances_from(&self, src: usize) -> Vec<usize> {
        let mut dist = vec![usize::MAX; self.n_nodes()];
        let mut queue = VecDeque::new();
        dist[src] = 0;
        queue.push_back(src);
        while let Some(v) = queue.pop_front() {
            for &w in &self.out[v] {
                if dist[w] == usize::MAX {
                    dist[w] = dist[v] + 1;
                    queue.push_back(w);
                }
            }
        }
        dist
    }

    /// Diameter and average shortest-path length over ordered pairs of distinct nodes; errors if
    /// some pair is unreachable (use it on a strongly connected graph). The average is `None` with
    /// fewer than two nodes.
    pub fn path_lengths(&self) -> Result<(usize, Option<f64>)> {
        let n = self.n_nodes();
        let (mut diameter, mut total) = (0usize, 0u64);
        for s in 0..n {
            for (t, &d) in self.distances_from(s).iter().enumerate() {
                if t == s {
                    continue;
                }
                if d == usize::MAX {
                    bail!("node {t} cannot be reached from node {s}: the graph is not strongly connected");
                }
                diameter = diameter.max(d);
                total += d as u64;
            }
        }
        let pairs = n * n.saturating_sub(1);
        Ok((diameter, (pairs > 0).then(|| total as f64 / pairs as f64)))
    }

    /// The directed clustering coefficient of every node (Fagiolo 2007, as networkx).
    pub fn clustering(&self) -> Vec<f64> {
        let n = self.n_nodes();
        let mut inn = vec![Vec::new(); n];
        for v in 0..n {
            for &w in &self.out[v] {
                inn[w].push(v);
            }
        }
        // Undirected weight s(a, b) = A[a][b] + A[b][a] in {0, 1, 2}.
        let s =
            |a: usize, b: usize| u32::from(self.has_edge(a, b)) + u32::from(self.has_edge(b, a));
        (0..n)
            .map(|i| {
                let mut nb: Vec<usize> = self.out[i].iter().chain(&inn[i]).copied().collect();
                nb.sort_unstable();
                nb.dedup();
                // (S^3)_ii = sum_{j,k} s(i,j) s(j,k) s(k,i).
                let mut walks = 0u64;
                for &j in &nb {
                    for &k in &nb {
                        if j != k {
                            walks += u64::from(s(i, j) * s(j, k) * s(k, i));
                        }
                    }
                }
                let triangles = walks as f64 / 2.0;
                let d_tot = (self.out[i].len() + inn[i].len()) as f64;
                let d_bi = self.out[i].iter().filter(|&&j| self.has_edge(j, i)).count() as f64;
                let denom = d_tot * (d_tot - 1.0) - 2.0 * d_bi;
                if denom > 0.0 {
                    triangles / denom
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// An Erdos-Renyi G(n, m) directed graph: `m` distinct ordered pairs without self-loops, drawn
    /// uniformly with the seeded generator. Errors if `m > n (n - 1)`.
    pub fn erdos_renyi(n: usize, m: usize, seed: u64) -> Result<Self> {
        let pairs = n * n.saturating_sub(1);
        if m > pairs {
            bail!("{m} edges do not fit in a graph of {n} nodes without self-loops");
        }
        let mut rng = Rng::new(seed);
        // Partial Fisher-Yates over the pair indices, kept sparse when m is small.
        let mut chosen = Vec::with_capacity(m);
        let mut swapped = std::collections::HashMap::new();
        for k in 0..m {
            let r = k + below(&mut rng, pairs - k);
            let vr = *swapped.get(&r).unwrap_or(&r);
            let vk = *swapped.get(&k).unwrap_or(&k);
            swapped.insert(r, vk);
            chosen.push(vr);
        }
        let edges: Vec<(usize, usize)> = chosen
            .into_iter()
            .map(|p| {
                let (a, b) = (p / (n - 1), p % (n - 1));
                (a, if b >= a { b + 1 } else { b })
            })
            .collect();
        Digraph::from_edges(n, &edges)
    }
}

/// Uniform integer in 0..n (n >= 1, up to 2^64) from two 32-bit draws, by rejection.
fn below(rng: &mut Rng, n: usize) -> usize {
    if n <= u32::MAX as usize {
        return rng.below(n as u32) as usize;
    }
    let n = n as u64;
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let v = (u64::from(rng.next_u32()) << 32) | u64::from(rng.next_u32());
        if v < zone {
            return (v % n) as usize;
        }
    }
}

/// The measures of one graph.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphMeasures {
    /// Nodes.
    pub nodes: usize,
    /// Directed edges (no self-loops).
    pub edges: usize,
    /// True when the whole graph is strongly connected.
    pub strongly_connected: bool,
    /// Size of the largest strongly connected component (the nodes paths were measured on).
    pub component: usize,
    /// Longest shortest path in that component.
    pub diameter: usize,
    /// Mean shortest path over its ordered pairs (None with fewer than 2 nodes).
    pub avg_path_length: Option<f64>,
    /// Mean directed clustering coefficient over all nodes of the graph.
    pub avg_clustering: f64,
}

/// Measures `g` (paths on its largest strongly connected component if it is not connected).
pub fn measure(g: &Digraph) -> GraphMeasures {
    let comps = g.strong_components();
    let largest = comps.first().cloned().unwrap_or_default();
    let sub = g.induced(&largest);
    let (diameter, avg_path_length) = sub
        .path_lengths()
        .expect("a strongly connected component is strongly connected");
    let c = g.clustering();
    GraphMeasures {
        nodes: g.n_nodes(),
        edges: g.n_edges(),
        strongly_connected: comps.len() <= 1,
        component: largest.len(),
        diameter,
        avg_path_length,
        avg_clustering: if c.is_empty() {
            0.0
        } else {
            c.iter().sum::<f64>() / c.len() as f64
        },
    }
}

/// Means of the Erdos-Renyi graphs' measures.
#[derive(Clone, Debug, PartialEq)]
pub struct ErBaseline {
    /// Number of graphs (seeds).
    pub graphs: usize,
    /// Base seed; graph k uses a seed derived from it and k.
    pub seed: u64,
    /// Graphs that were not strongly connected (their paths were measured on the largest component).
    pub not_connected: usize,
    /// Mean size of the largest strongly connected component.
    pub component: f64,
    /// Mean diameter.
    pub diameter: f64,
    /// Mean average shortest-path length over the graphs where it is defined (None if none).
    pub avg_path_length: Option<f64>,
    /// Mean average clustering.
    pub avg_clustering: f64,
}

/// Erdos-Renyi G(n, m) baseline with the node and edge counts of `g`: `graphs` seeded graphs.
pub fn er_baseline(g: &Digraph, graphs: usize, seed: u64) -> Result<ErBaseline> {
    if graphs == 0 {
        bail!("the Erdos-Renyi baseline needs at least one graph");
    }
    let all: Vec<GraphMeasures> = (0..graphs)
        .map(|k| {
            Digraph::erdos_renyi(
                g.n_nodes(),
                g.n_edges(),
                derive_seed(seed, ER_DOMAIN, k as u64),
            )
            .map(|e| measure(&e))
        })
        .collect::<Result<_>>()?;
    let mean = |f: &dyn Fn(&GraphMeasures) -> f64| all.iter().map(f).sum::<f64>() / graphs as f64;
    let paths: Vec<f64> = all.iter().filter_map(|m| m.avg_path_length).collect();
    Ok(ErBaseline {
        graphs,
        seed,
        not_connected: all.iter().filter(|m| !m.strongly_connected).count(),
        component: mean(&|m| m.component as f64),
        diameter: mean(&|m| m.diameter as f64),
        avg_path_length: (!paths.is_empty())
            .then(|| paths.iter().sum::<f64>() / paths.len() as f64),
        avg_clustering: mean(&|m| m.avg_clustering),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(n: usize) -> Digraph {
        let e: Vec<_> = (0..n).map(|i| (i, (i + 1) % n)).collect();
        Digraph::from_edges(n, &e).unwrap()
    }

    fn complete(n: usize) -> Digraph {
        let e: Vec<_> = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).collect();
        Digraph::from_edges(n, &e).unwrap()
    }

    #[test]
    fn directed_cycle_by_hand() {
        // Distances from any node: 1..n-1, so diameter n-1 and mean n/2; a cycle has no triangles.
        let m = measure(&cycle(6));
        assert_eq!((m.nodes, m.edges, m.component), (6, 6, 6));
        assert!(m.strongly_connected);
        assert_eq!(m.diameter, 5);
        assert_eq!(m.avg_path_length, Some(3.0));
        assert_eq!(m.avg_clustering, 0.0);
    }

    #[test]
    fn complete_digraph_by_hand() {
        let m = measure(&complete(5));
        assert_eq!(m.edges, 20, "self-loops dropped");
        assert_eq!(m.diameter, 1);
        assert_eq!(m.avg_path_length, Some(1.0));
        assert!((m.avg_clustering - 1.0).abs() < 1e-12);
    }

    #[test]
    fn three_cycle_clustering_is_one_half() {
        // Fagiolo: T = 1 directed triangle, d_tot = 2, no reciprocal pair: 1 / (2 * 1) = 0.5.
        let c = cycle(3).clustering();
        assert_eq!(c, vec![0.5; 3]);
        // A path 0 -> 1 -> 2 plus 0 -> 2: node 0 has d_tot 2 and one triangle (T = 1): 0.5.
        let g = Digraph::from_edges(3, &[(0, 1), (1, 2), (0, 2)]).unwrap();
        assert_eq!(g.clustering(), vec![0.5; 3]);
        // A star has no triangles.
        let star = Digraph::from_edges(4, &[(0, 1), (0, 2), (0, 3), (1, 0)]).unwrap();
        assert_eq!(star.clustering(), vec![0.0; 4]);
    }

    #[test]
    fn disconnected_graph_uses_its_largest_strong_component() {
        // A 4-cycle 0..3, a 2-cycle 4 <-> 5, an edge 3 -> 4 and an isolated node 6.
        let mut e: Vec<_> = (0..4).map(|i| (i, (i + 1) % 4)).collect();
        e.extend([(4, 5), (5, 4), (3, 4)]);
        let g = Digraph::from_edges(7, &e).unwrap();
        let comps = g.strong_components();
        assert_eq!(comps, vec![vec![0, 1, 2, 3], vec![4, 5], vec![6]]);
        let m = measure(&g);
        assert!(!m.strongly_connected);
        assert_eq!(m.component, 4);
        assert_eq!(m.diameter, 3);
        assert_eq!(m.avg_path_length, Some(2.0));
        assert!(g.path_lengths().is_err());
    }

    #[test]
    fn edgeless_graph_has_no_path_length() {
        let g = Digraph::from_edges(3, &[(0, 0), (1, 1)]).unwrap();
        assert_eq!(g.n_edges(), 0);
        let m = measure(&g);
        assert_eq!((m.component, m.diameter, m.avg_path_length), (1, 0, None));
        assert!(!m.strongly_connected);
        assert!(Digraph::from_edges(2, &[(0, 2)]).is_err());
    }

    #[test]
    fn matrix_edges_point_from_sender_to_receiver() {
        // W[1][0] != 0: unit 0 drives unit 1, so edge 0 -> 1; the diagonal is ignored.
        let w = [0.7, 0.0, 0.3, 0.9];
        let g = Digraph::from_matrix(2, &w, |v| v.abs() > 1e-2).unwrap();
        assert!(g.has_edge(0, 1) && !g.has_edge(1, 0));
        assert_eq!(g.n_edges(), 1);
    }

    #[test]
    fn erdos_renyi_has_the_counts_and_is_seeded() {
        let a = Digraph::erdos_renyi(12, 40, 7).unwrap();
        assert_eq!((a.n_nodes(), a.n_edges()), (12, 40));
        assert!((0..12).all(|i| !a.has_edge(i, i)));
        assert_eq!(a, Digraph::erdos_renyi(12, 40, 7).unwrap());
        assert_ne!(a, Digraph::erdos_renyi(12, 40, 8).unwrap());
        let full = Digraph::erdos_renyi(5, 20, 1).unwrap();
        assert_eq!(full, complete(5));
        assert!(Digraph::erdos_renyi(5, 21, 1).is_err());
        // The complete graph's baseline is itself.
        let b = er_baseline(&complete(5), 10, 3).unwrap();
        assert_eq!((b.graphs, b.not_connected), (10, 0));
        assert_eq!((b.diameter, b.avg_path_length), (1.0, Some(1.0)));
        assert!((b.avg_clustering - 1.0).abs() < 1e-12);
    }

    #[test]
    fn erdos_renyi_density_matches_on_average() {
        // Clustering of G(n, p) is about p: here p = 0.3.
        let n = 40;
        let m = (0.3 * (n * (n - 1)) as f64) as usize;
        let b = er_baseline(&Digraph::erdos_renyi(n, m, 0).unwrap(), 10, 11).unwrap();
        assert!(
            (b.avg_clustering - 0.3).abs() < 0.03,
            "{}",
            b.avg_clustering
        );
        assert_eq!(b.not_connected, 0);
        assert!(b.diameter >= 2.0 && b.diameter <= 4.0);
    }
}
