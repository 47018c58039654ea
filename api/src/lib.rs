//! The composition root: reads configuration, opens the store, wires the
//! ingest pipeline to it, and runs the `anju` commands, the GraphQL server
//! among them. This is the only crate that reads files and the environment for
//! configuration.

pub mod adapters;
pub mod analysis_job;
pub mod auth;
mod bench;
#[cfg(feature = "peers")]
mod bench_peers;
mod bench_search;
pub mod cli;
mod cli_analysis;
mod cli_graph;
mod cli_search;
pub mod config;
pub mod fuzzing;
pub mod graphs;
pub mod identity;
pub mod nodes;
pub mod server;
mod sysinfo;
pub mod tagbook;
pub mod texts;
