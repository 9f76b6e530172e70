//! Parity tests across trainer, runtime and firmware live in `tests/`; this crate has no library code.
