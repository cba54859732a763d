//! `vae-train`: see `vae-train --help`.

use clap::Parser;

fn main() {
    let cli = vae_train::cli::Cli::parse();
    if let Err(e) = vae_train::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
