//! `vae-train`: see `vae-train --help`.

use clap::Parser;

fn main() {
    let cli = vae_train::cli::Cli::parse();
    if let Err(e) = vae_train::cli::run(cli) {
        eprintln!("error: {e}");
        // 130: interrupted by the user (as a shell reports SIGINT), 1: any other failure.
        let interrupted =
            matches!(e, vae_train::Error::Train(vae_train::train::TrainError::Interrupted { .. }));
        std::process::exit(if interrupted { 130 } else { 1 });
    }
}
