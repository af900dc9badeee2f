//! eventcore kafka adapter: not implemented yet. This crate reserves its place in the workspace;
//! it has no public items until its issue lands.
