//! Functional clusters: agglomerative clustering with average linkage on Euclidean distances
//! (nearest-neighbour chain, O(n^2) time and memory), cut into k clusters, scored by the mean
//! silhouette; [`cluster`] keeps the k in 2..=min(k_max, n-1) with the highest score.

/// Full n x n matrix of Euclidean distances between the rows of `points` ([n, dim] row-major).
pub fn pairwise(points: &[f64], dim: usize) -> Vec<f64> {
    let n = points.len().checked_div(dim).unwrap_or(0);
    let mut d = vec![0.0; n * n];
    for i in 0..n {
        let a = &points[i * dim..(i + 1) * dim];
        for j in i + 1..n {
            let b = &points[j * dim..(j + 1) * dim];
            let s: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
            d[i * n + j] = s.sqrt();
            d[j * n + i] = s.sqrt();
        }
    }
    d
}

/// One merge of two clusters, each named by one of its members (a leaf index).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Merge {
    /// A member of the first cluster.
    pub a: usize,
    /// A member of the second cluster.
    pub b: usize,
    /// Average distance between the two clusters' members.
    pub height: f64,
}

/// The n - 1 merges of average-linkage clustering, in order of increasing height.
#[derive(Clone, Debug, PartialEq)]
pub struct Dendrogram {
    n: usize,
    merges: Vec<Merge>,
}

/// Average-linkage clustering of the n points whose distance matrix is `dist` (n x n, symmetric).
pub fn average_linkage(dist: &[f64], n: usize) -> Dendrogram {
    assert_eq!(dist.len(), n * n, "distance matrix must be n x n");
    let mut d = dist.to_vec();
    let mut size = vec![1usize; n];
    let mut active = vec![true; n];
    let mut chain: Vec<usize> = Vec::with_capacity(n);
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    let mut first = 0;
    for _ in 1..n {
        if chain.is_empty() {
            while !active[first] {
                first += 1;
            }
            chain.push(first);
        }
        let (x, y, h) = loop {
            let x = *chain.last().expect("chain is not empty");
            let prev = chain.len().checked_sub(2).map(|k| chain[k]);
            let (mut best, mut best_d) = (prev, prev.map_or(f64::INFINITY, |p| d[x * n + p]));
            for z in 0..n {
                if active[z] && z != x && d[x * n + z] < best_d {
                    best = Some(z);
                    best_d = d[x * n + z];
                }
            }
            let y = best.expect("at least two active clusters");
            if Some(y) == prev {
                chain.truncate(chain.len() - 2);
                break (x, y, best_d);
            }
            chain.push(y);
        };
        // The merged cluster lives in slot y (which holds leaf y); slot x is retired.
        let (sx, sy) = (size[x] as f64, size[y] as f64);
        for k in 0..n {
            if active[k] && k != x && k != y {
                let v = (sx * d[k * n + x] + sy * d[k * n + y]) / (sx + sy);
                d[k * n + y] = v;
                d[y * n + k] = v;
            }
        }
        active[x] = false;
        size[y] += size[x];
        merges.push(Merge {
            a: x,
            b: y,
            height: h,
        });
    }
    merges.sort_by(|p, q| p.height.total_cmp(&q.height));
    Dendrogram { n, merges }
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
}

impl Dendrogram {
    /// Number of points.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The merges in order of increasing height.
    pub fn merges(&self) -> &[Merge] {
        &self.merges
    }

    /// Cluster labels 0..k for the cut into `k` clusters (1 <= k <= n): the first n - k merges
    /// applied. Labels are numbered by first appearance in point order.
    pub fn cut(&self, k: usize) -> Vec<usize> {
        let k = k.clamp(1.min(self.n), self.n);
        let mut uf = UnionFind((0..self.n).collect());
        for m in &self.merges[..self.n - k] {
            let (ra, rb) = (uf.find(m.a), uf.find(m.b));
            uf.0[ra] = rb;
        }
        let mut label = vec![usize::MAX; self.n];
        let mut out = Vec::with_capacity(self.n);
        let mut next = 0;
        for i in 0..self.n {
            let r = uf.find(i);
            if label[r] == usize::MAX {
                label[r] = next;
                next += 1;
            }
            out.push(label[r]);
        }
        out
    }

    /// The leaves in dendrogram order (children drawn in merge order), so that every cluster of
    /// every cut is a contiguous run.
    pub fn leaf_order(&self) -> Vec<usize> {
        // Node ids: leaves 0..n, merge m is node n + m.
        let mut uf = UnionFind((0..self.n).collect());
        let mut node_of_root: Vec<usize> = (0..self.n).collect();
        let mut children = Vec::with_capacity(self.merges.len());
        for (m, mg) in self.merges.iter().enumerate() {
            let (ra, rb) = (uf.find(mg.a), uf.find(mg.b));
            children.push((node_of_root[ra], node_of_root[rb]));
            uf.0[ra] = rb;
            node_of_root[rb] = self.n + m;
        }
        let mut order = Vec::with_capacity(self.n);
        let mut stack: Vec<usize> = Vec::new();
        // Roots of the forest (one when n >= 1): nodes that are nobody's child.
        let mut is_child = vec![false; self.n + children.len()];
        for &(a, b) in &children {
            is_child[a] = true;
            is_child[b] = true;
        }
        for root in (0..is_child.len()).rev().filter(|&v| !is_child[v]) {
            stack.push(root);
            while let Some(v) = stack.pop() {
                if v < self.n {
                    order.push(v);
                } else {
                    let (a, b) = children[v - self.n];
                    stack.push(b);
                    stack.push(a);
                }
            }
        }
        order
    }
}

/// Mean silhouette of the clustering `labels` of the n points with distances `dist`.
/// A point alone in its cluster scores 0 (as scikit-learn); fewer than 2 clusters score 0.
pub fn silhouette(dist: &[f64], n: usize, labels: &[usize]) -> f64 {
    let k = labels.iter().max().map_or(0, |m| m + 1);
    if n == 0 || k < 2 {
        return 0.0;
    }
    let mut count = vec![0usize; k];
    for &l in labels {
        count[l] += 1;
    }
    let mut sums = vec![0.0f64; k];
    let mut total = 0.0;
    for i in 0..n {
        sums.fill(0.0);
        for j in 0..n {
            sums[labels[j]] += dist[i * n + j];
        }
        let own = labels[i];
        if count[own] < 2 {
            continue;
        }
        let a = sums[own] / (count[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && count[c] > 0)
            .map(|c| sums[c] / count[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let m = a.max(b);
        if m > 0.0 {
            total += (b - a) / m;
        }
    }
    total / n as f64
}

/// The chosen clustering of a set of points.
#[derive(Clone, Debug, PartialEq)]
pub struct Clustering {
    /// Cluster of each point, 0..k, numbered by decreasing size (ties: smallest first member).
    pub labels: Vec<usize>,
    /// Number of clusters.
    pub k: usize,
    /// Mean silhouette of the chosen cut.
    pub silhouette: f64,
    /// (k, mean silhouette) of every cut tried.
    pub scores: Vec<(usize, f64)>,
    /// Points in dendrogram leaf order.
    pub leaf_order: Vec<usize>,
}

impl Clustering {
    /// Number of points in each cluster.
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![0; self.k];
        for &l in &self.labels {
            s[l] += 1;
        }
        s
    }
}

/// Clusters the rows of `points` ([n, dim]): average linkage, cuts k = 2..=min(k_max, n-1), keeps
/// the highest mean silhouette (the smallest such k on ties). None when n < 3 (no cut to score).
pub fn cluster(points: &[f64], dim: usize, k_max: usize) -> Option<Clustering> {
    let n = points.len().checked_div(dim).unwrap_or(0);
    if n < 3 || k_max < 2 {
        return None;
    }
    let dist = pairwise(points, dim);
    let tree = average_linkage(&dist, n);
    let mut scores = Vec::new();
    let mut best: Option<(usize, f64, Vec<usize>)> = None;
    for k in 2..=k_max.min(n - 1) {
        let labels = tree.cut(k);
        let s = silhouette(&dist, n, &labels);
        scores.push((k, s));
        if best.as_ref().is_none_or(|b| s > b.1) {
            best = Some((k, s, labels));
        }
    }
    let (k, s, labels) = best?;
    // Renumber by decreasing size.
    let mut count = vec![0usize; k];
    for &l in &labels {
        count[l] += 1;
    }
    let mut by_size: Vec<usize> = (0..k).collect();
    by_size.sort_by(|&a, &b| count[b].cmp(&count[a]).then(a.cmp(&b)));
    let mut rename = vec![0; k];
    for (new, &old) in by_size.iter().enumerate() {
        rename[old] = new;
    }
    Some(Clustering {
        labels: labels.iter().map(|&l| rename[l]).collect(),
        k,
        silhouette: s,
        scores,
        leaf_order: tree.leaf_order(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gyrus_runtime::tasks::Rng;

    /// Average linkage by brute force: merge the pair of clusters with the smallest mean
    /// point-to-point distance, n times over.
    fn naive_heights(dist: &[f64], n: usize) -> Vec<f64> {
        let mut clusters: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
        let mut heights = Vec::new();
        while clusters.len() > 1 {
            let mut best = (0, 1, f64::INFINITY);
            for a in 0..clusters.len() {
                for b in a + 1..clusters.len() {
                    let mut s = 0.0;
                    for &i in &clusters[a] {
                        for &j in &clusters[b] {
                            s += dist[i * n + j];
                        }
                    }
                    let avg = s / (clusters[a].len() * clusters[b].len()) as f64;
                    if avg < best.2 {
                        best = (a, b, avg);
                    }
                }
            }
            let merged = clusters.remove(best.1);
            clusters[best.0].extend(merged);
            heights.push(best.2);
        }
        heights
    }

    fn random_points(n: usize, dim: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..n * dim).map(|_| f64::from(rng.uniform())).collect()
    }

    #[test]
    fn the_chain_matches_brute_force_average_linkage() {
        for seed in 0..5 {
            let n = 13;
            let p = random_points(n, 3, seed);
            let dist = pairwise(&p, 3);
            let tree = average_linkage(&dist, n);
            let naive = naive_heights(&dist, n);
            assert_eq!(tree.merges().len(), n - 1);
            for (m, h) in tree.merges().iter().zip(&naive) {
                assert!((m.height - h).abs() < 1e-12, "{} vs {h}", m.height);
            }
            let order = tree.leaf_order();
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>());
            // Every cut's clusters are contiguous in leaf order.
            for k in 1..=n {
                let labels = tree.cut(k);
                assert_eq!(labels.iter().max().unwrap() + 1, k);
                let seq: Vec<usize> = order.iter().map(|&i| labels[i]).collect();
                let runs = 1 + seq.windows(2).filter(|w| w[0] != w[1]).count();
                assert_eq!(runs, k, "cut {k} is not contiguous: {seq:?}");
            }
        }
    }

    #[test]
    fn silhouette_of_a_hand_example() {
        // Points 0, 1 | 10, 11 on a line.
        let p = [0.0, 1.0, 10.0, 11.0];
        let d = pairwise(&p, 1);
        let s = silhouette(&d, 4, &[0, 0, 1, 1]);
        // Point 0: a = 1, b = 10.5; point 1: a = 1, b = 9.5; symmetric for the others.
        let want = ((9.5 / 10.5) + (8.5 / 9.5)) / 2.0;
        assert!((s - want).abs() < 1e-12, "{s} vs {want}");
        // A singleton scores 0: point 3 alone.
        let s = silhouette(&d, 4, &[0, 0, 0, 1]);
        assert!(s < want);
        assert_eq!(silhouette(&d, 4, &[0, 0, 0, 0]), 0.0);
    }

    #[test]
    fn finds_known_clusters() {
        // Four tight blobs of different sizes around the corners of a square in 5-D.
        let mut rng = Rng::new(7);
        let centres = [
            [0.0; 5],
            [1.0, 0.0, 0.0, 1.0, 0.0],
            [0.0, 1.0, 1.0, 0.0, 0.0],
            [1.0; 5],
        ];
        let sizes = [12, 9, 7, 5];
        let mut points = Vec::new();
        let mut truth = Vec::new();
        for (c, (centre, &m)) in centres.iter().zip(&sizes).enumerate() {
            for _ in 0..m {
                for x in centre {
                    points.push(x + 0.05 * f64::from(rng.normal()));
                }
                truth.push(c);
            }
        }
        let cl = cluster(&points, 5, 30).unwrap();
        assert_eq!(cl.k, 4);
        assert!(cl.silhouette > 0.8, "{}", cl.silhouette);
        assert_eq!(cl.scores.len(), 30 - 1);
        // Largest blob first: labels equal the truth exactly.
        assert_eq!(cl.labels, truth);
        assert_eq!(cl.sizes(), sizes.to_vec());
        assert!(cluster(&points[..10], 5, 30).is_none());
    }
}
