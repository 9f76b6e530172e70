//! Measures on hand-made sheets with known wiring lengths.

use gyrus_runtime::format::{Activation, CsrRepr, MatrixRepr, ModelRepr, ModelView, Readout};
use gyrus_runtime::measure::{self, ACTIVE_THRESHOLD};

fn model(
    rows: u16,
    cols: u16,
    positions: Vec<(u16, u16)>,
    edges: &[(usize, usize, f32)],
) -> ModelRepr {
    let n = positions.len();
    let mut w = vec![0.0; n * n];
    for &(to, from, v) in edges {
        w[to * n + from] = v;
    }
    ModelRepr {
        n_inputs: 2,
        n_hidden: n,
        n_outputs: 3,
        sheet_rows: rows,
        sheet_cols: cols,
        pitch: 1.0,
        positions,
        recurrent: CsrRepr::from_dense(n, n, &w, |x| x != 0.0),
        input: MatrixRepr::compact(n, 2, &vec![0.1; 2 * n]),
        output: MatrixRepr::compact(3, n, &vec![0.1; 3 * n]),
        b_h: vec![0.0; n],
        b_o: vec![0.0; 3],
        activation: Activation::Relu,
        alpha: 1.0,
        readout: Readout::Argmax,
        tasks: vec![],
        wiring_length: 0.0,
        active_connections: 0,
        seed: 0,
        int8: None,
        weights: gyrus_runtime::format::Weights::F32,
        layout: gyrus_runtime::format::RecLayout::Rows,
    }
}

fn grid(rows: u16, cols: u16, skip: &[(u16, u16)]) -> Vec<(u16, u16)> {
    (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (r, c)))
        .filter(|p| !skip.contains(p))
        .collect()
}

#[test]
fn full_three_by_three_sheet() {
    assert_eq!(ACTIVE_THRESHOLD, 1e-2);
    // unit k sits at (k / 3, k % 3); edges are (receiving, sending, weight).
    let edges = [
        (0, 8, 0.5),   // (0,0) <- (2,2): 4
        (4, 1, -0.2),  // (1,1) <- (0,1): 1
        (2, 2, 0.3),   // self: 0
        (3, 5, 0.005), // inactive
        (5, 3, -0.5),  // (1,2) <- (1,0): 2
        (6, 2, 0.011), // (2,0) <- (0,2): 4
        (7, 0, -0.01), // |w| = threshold: inactive
    ];
    let mut repr = model(3, 3, grid(3, 3, &[]), &edges);
    // The same measures from the diagonal layout of the recurrent weights.
    repr.layout = gyrus_runtime::format::RecLayout::Diagonal;
    let diag = measure::measure(&ModelView::from_bytes(&repr.to_bytes().unwrap()).unwrap());
    repr.layout = gyrus_runtime::format::RecLayout::Rows;
    let blob = repr.to_bytes().unwrap();
    let view = ModelView::from_bytes(&blob).unwrap();
    let m = measure::measure(&view);
    assert_eq!(
        (diag.active_connections, diag.stored_connections),
        (m.active_connections, m.stored_connections)
    );
    assert_eq!(diag.wiring_length.to_bits(), m.wiring_length.to_bits());
    assert_eq!(m.active_connections, 5);
    assert_eq!(m.stored_connections, 7);
    assert!(
        (m.wiring_length - 11.0 / 3.0).abs() < 1e-12,
        "{}",
        m.wiring_length
    );
    assert_eq!(measure::wiring_length(&view), m.wiring_length);
    assert_eq!(measure::active_connections(&view), 5);
    assert_eq!(m.flash_bytes, blob.len());
    // State: h, next, the zeros around them and the int8 scratches ((9 + 2) / 2 and (9 + 1) / 2
    // floats); input and output.
    assert_eq!(m.ram_bytes, 4 * (2 * 9 + 3 * 16 + 5 + 5 + 2 + 3));
}

#[test]
fn pruned_sheet_uses_positions_not_indices() {
    // Cell (1,1) pruned: units 0..8 sit at (0,0) (0,1) (0,2) (1,0) (1,2) (2,0) (2,1) (2,2).
    let edges = [
        (0, 7, 0.5),  // (0,0) <- (2,2): 4
        (4, 3, -0.5), // (1,2) <- (1,0): 2
        (5, 2, 0.02), // (2,0) <- (0,2): 4
        (1, 6, 1.0),  // (0,1) <- (2,1): 2
    ];
    let repr = model(3, 3, grid(3, 3, &[(1, 1)]), &edges);
    let blob = repr.to_bytes().unwrap();
    let view = ModelView::from_bytes(&blob).unwrap();
    let m = measure::measure(&view);
    assert_eq!(m.active_connections, 4);
    assert!(
        (m.wiring_length - 12.0 / 3.0).abs() < 1e-12,
        "{}",
        m.wiring_length
    );
    assert_eq!(m.ram_bytes, 4 * (2 * 8 + 3 * 16 + 5 + 4 + 2 + 3));
}

#[test]
fn rectangular_sheet_divides_by_the_longer_side() {
    // 2 x 4 sheet, S = 4: (0,0) <- (1,3) is 4 / 4 = 1; (1,1) <- (0,1) is 1/4.
    let repr = model(2, 4, grid(2, 4, &[]), &[(0, 7, 0.3), (5, 1, 0.3)]);
    let blob = repr.to_bytes().unwrap();
    let view = ModelView::from_bytes(&blob).unwrap();
    assert!((measure::wiring_length(&view) - 1.25).abs() < 1e-12);
}
