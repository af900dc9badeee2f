//! SQLite backend for eventcore: being written.
