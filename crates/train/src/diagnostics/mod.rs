//! The lectures' diagnostics, on any model.
