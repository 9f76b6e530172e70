//! Traffic on a 2-D mesh of cores with XY routing.
//!
//! When a unit sends (every step in the plain kernel, on a change above theta in delta mode), its
//! message goes to every *other* core that holds at least one of its targets: one packet per
//! destination core, however many target units that core holds (multicast at the core); targets
//! on the sender's own core are reached without the network. Each packet is routed on its own
//! (no in-network multicast tree), first along the core row to the destination column (X), then
//! along the column (Y); it crosses one directed link per hop. Per step the mesh counts packets,
//! hops, and the load of every directed link (packets that crossed it); the busiest link's load is
//! the step's peak.

use super::placement::Layout;
use gyrus_runtime::kernel::delta::Outgoing;

/// Directions of the links leaving a core: east (column + 1), west, south (row + 1), north.
pub const DIRECTIONS: usize = 4;

/// Summed traffic over steps.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Traffic {
    /// Steps counted.
    pub steps: u64,
    /// Packets (off-core messages, one per destination core).
    pub packets: u64,
    /// Link traversals (sum over packets of the Manhattan distance).
    pub hops: u64,
    /// Sum over steps of the busiest link's load.
    pub peak_sum: u64,
    /// The busiest link's load in the busiest step.
    pub peak_max: u32,
}

impl Traffic {
    /// Mean busiest-link load per step.
    pub fn peak_mean(&self) -> f64 {
        self.peak_sum as f64 / self.steps.max(1) as f64
    }
}

/// A mesh with one model's units placed on it.
#[derive(Clone, Debug)]
pub struct Mesh {
    rows: usize,
    cols: usize,
    core_of: Vec<usize>,
    /// Per unit: the distinct destination cores other than its own, increasing.
    dests: Vec<Vec<u32>>,
    load: Vec<u32>,
    step_packets: u64,
    step_hops: u64,
    /// Totals of the finished steps.
    pub totals: Traffic,
}

impl Mesh {
    /// The mesh of `layout`, with the targets of each unit from `out`.
    pub fn new(layout: &Layout, out: &Outgoing<'_>) -> Self {
        let dests = (0..out.n_units())
            .map(|j| {
                let own = layout.core_of[j];
                let mut d: Vec<u32> = out
                    .of(j)
                    .0
                    .iter()
                    .map(|&t| layout.core_of[usize::from(t)])
                    .filter(|&c| c != own)
                    .map(|c| c as u32)
                    .collect();
                d.sort_unstable();
                d.dedup();
                d
            })
            .collect();
        Mesh {
            rows: layout.rows,
            cols: layout.cols,
            core_of: layout.core_of.clone(),
            dests,
            load: vec![0; layout.n_cores() * DIRECTIONS],
            step_packets: 0,
            step_hops: 0,
            totals: Traffic::default(),
        }
    }

    /// Core rows and columns.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Routes the message of unit `j` to its destination cores.
    pub fn send(&mut self, j: usize) {
        let (Some(&src), Some(dests)) = (self.core_of.get(j), self.dests.get(j)) else {
            return;
        };
        let (r0, c0) = (src / self.cols, src % self.cols);
        for &d in dests {
            let (r1, c1) = (d as usize / self.cols, d as usize % self.cols);
            let mut c = c0;
            while c != c1 {
                let dir = if c1 > c { 0 } else { 1 };
                self.load[(r0 * self.cols + c) * DIRECTIONS + dir] += 1;
                c = if c1 > c { c + 1 } else { c - 1 };
            }
            let mut r = r0;
            while r != r1 {
                let dir = if r1 > r { 2 } else { 3 };
                self.load[(r * self.cols + c1) * DIRECTIONS + dir] += 1;
                r = if r1 > r { r + 1 } else { r - 1 };
            }
            self.step_packets += 1;
            self.step_hops += (r0.abs_diff(r1) + c0.abs_diff(c1)) as u64;
        }
    }

    /// The link loads of the current step: entry `core * DIRECTIONS + dir`.
    pub fn loads(&self) -> &[u32] {
        &self.load
    }

    /// Closes the step: adds it to the totals and clears the loads.
    pub fn end_step(&mut self) {
        let peak = self.load.iter().copied().max().unwrap_or(0);
        self.totals.steps += 1;
        self.totals.packets += self.step_packets;
        self.totals.hops += self.step_hops;
        self.totals.peak_sum += u64::from(peak);
        self.totals.peak_max = self.totals.peak_max.max(peak);
        self.load.fill(0);
        self.step_packets = 0;
        self.step_hops = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gyrus_runtime::format::{CsrRepr, ModelView};

    /// The outgoing structure of a 4-unit recurrent matrix given densely (row = receiver).
    fn with_outgoing<R>(dense: &[f32], f: impl FnOnce(&Outgoing<'_>) -> R) -> R {
        let mut m = crate::deploy::tests::tiny_model(2, 2);
        m.recurrent = CsrRepr::from_dense(4, 4, dense, |x| x != 0.0);
        let blob = m.to_bytes().unwrap();
        let view = ModelView::from_bytes(&blob).unwrap();
        let (a, b, c) = Outgoing::buffer_lens(&view);
        let (mut off, mut tgt, mut w) = (vec![0; a], vec![0; b], vec![0.0; c]);
        let out = Outgoing::build(&view, &mut off, &mut tgt, &mut w).unwrap();
        f(&out)
    }

    #[test]
    fn xy_routing_counts_hops_links_and_multicast() {
        // 3 x 3 cores; units 0..4 on cores 0, 8, 2, 6 (the corners).
        let layout = Layout {
            rows: 3,
            cols: 3,
            core_of: vec![0, 8, 2, 6],
        };
        // Unit 0 sends to units 1, 2, 3 and to itself; unit 1 sends to unit 0.
        let mut dense = vec![0.0; 16];
        for i in [0, 1, 2, 3] {
            dense[i * 4] = 1.0;
        }
        dense[1] = 1.0;
        with_outgoing(&dense, |out| {
            let mut mesh = Mesh::new(&layout, out);
            mesh.send(0);
            // Packets to cores 8 (4 hops), 2 (2 hops), 6 (2 hops); none to its own core.
            mesh.send(1);
            // Core 8 -> core 0: west twice along row 2, then north twice along column 0.
            let east_of_0 = mesh.loads()[0];
            assert_eq!(east_of_0, 2, "to cores 2 and 8 both leave core 0 eastwards");
            assert_eq!(mesh.loads()[2], 1, "to core 6 leaves core 0 southwards");
            // XY: the packet to core 8 turns south at core 2, not at core 1.
            assert_eq!(mesh.loads()[2 * DIRECTIONS + 2], 1);
            assert_eq!(mesh.loads()[DIRECTIONS + 2], 0);
            // Unit 1's packet: west out of cores 8 and 7, north out of cores 6 and 3.
            assert_eq!(mesh.loads()[8 * DIRECTIONS + 1], 1);
            assert_eq!(mesh.loads()[7 * DIRECTIONS + 1], 1);
            assert_eq!(mesh.loads()[6 * DIRECTIONS + 3], 1);
            assert_eq!(mesh.loads()[3 * DIRECTIONS + 3], 1);
            mesh.end_step();
            assert_eq!(mesh.totals.packets, 4);
            assert_eq!(mesh.totals.hops, 4 + 2 + 2 + 4);
            assert_eq!(mesh.totals.peak_max, 2);
            assert!(mesh.loads().iter().all(|&l| l == 0));
        });
    }

    #[test]
    fn targets_on_one_core_make_one_packet() {
        let layout = Layout {
            rows: 1,
            cols: 2,
            core_of: vec![0, 1, 1, 1],
        };
        let mut dense = vec![0.0; 16];
        for i in [1, 2, 3] {
            dense[i * 4] = 0.5;
        }
        with_outgoing(&dense, |out| {
            let mut mesh = Mesh::new(&layout, out);
            mesh.send(0);
            mesh.send(2); // no targets: nothing
            mesh.end_step();
            assert_eq!(mesh.totals.packets, 1);
            assert_eq!(mesh.totals.hops, 1);
            assert_eq!(mesh.totals.peak_sum, 1);
        });
    }
}
