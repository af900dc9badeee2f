//! SQLite append benchmark (being written).
fn main() {}
