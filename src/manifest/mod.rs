//! The `sanctuary.toml` manifest: its types, parsing with line/column errors, and its JSON Schema.
