//! `vae-train`: see `vae-train --help`.

use clap::Parser;
use std::io::Write as _;

fn main() {
    let cli = vae_train::cli::Cli::parse();
    if let Err(e) = vae_train::cli::run(cli) {
        // A closed pipe is the reader's choice, not an error to report.
        if !e.is_closed_pipe() {
            let _ = writeln!(std::io::stderr(), "error: {e}");
        }
        std::process::exit(e.exit_code());
    }
}
