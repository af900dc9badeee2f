//! PostgreSQL benchmark (being written).
fn main() {}
