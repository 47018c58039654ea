//! The subcommands beyond the store's basics, by domain.

pub mod analysis;
pub mod graph;
pub mod search;
