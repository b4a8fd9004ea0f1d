//! (index helper)
