//! Writing NumPy `.npy` arrays and `.npz` archives.
