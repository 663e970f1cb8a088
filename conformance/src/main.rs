//! The `tern-conformance` binary: see [`tern_conformance::cli::Args`] for the options.

use clap::Parser;

fn main() -> std::process::ExitCode {
    tern_conformance::run(tern_conformance::Args::parse())
}
