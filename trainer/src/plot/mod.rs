//! Figures, one function each.
