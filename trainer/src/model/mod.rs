//! Network parameters, connectivity families (masks) and the hidden-unit sheet.
