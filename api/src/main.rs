//! The `anju` binary.

/// mimalloc: a GraphQL request makes thousands of small allocations across
/// the runtime's threads, and glibc's allocator was a quarter of the
/// request's CPU outside the reads (`perf`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::cli::main()
}
