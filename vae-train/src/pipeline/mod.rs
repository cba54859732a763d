//! The pipeline as a library: what `vae-train fit`, `score`, `eval` and `inspect` do, with
//! typed plans instead of command-line arguments. The command line, `cargo xtask`, the
//! tests and the benches all call these functions; `cli` only maps `clap` arguments onto
//! them and prints.
//!
//! ```text
//! data::load(paths, opts)            -> Vec<Recording>   raw samples
//! fit(&recordings, &FitPlan, ..)     -> Fitted           split, normalise, front end, train, calibrate
//! fitted.model.save(path)                                the file the firmware embeds
//! convert(&model, Encoding::F16)     -> Conversion       the same model, its weights re-encoded
//! score(&model, &mut recordings, ..) -> Vec<ScoredWindow> the device's engine on the host
//! evaluate(&model, &labelled, ..)    -> Evaluation       metrics against labels
//! evaluate_given(.., &read_scores(f)?, ..) -> Evaluation the same, on a device's decisions
//! ```
//!
//! Files a run writes follow [`crate::output`]'s rules; [`FitFiles`] checks and locks those
//! of a `fit` before it starts.

pub mod auto;
mod convert;
mod files;
mod fit;
mod inspect;
mod score;

pub use crate::eval::{evaluate, evaluate_given, Evaluation};
pub use crate::frontend::Wandering;
pub use auto::{fit_auto, AutoParts, Search};
pub use convert::{convert, encode, score_change, weight_bytes, Conversion, ScoreChange};
pub use files::FitFiles;
pub use fit::{fit, Calibrate, Device, FitPlan, Fitted, Rounded, MAX_PARAMETERS, MIN_TRAIN_WINDOWS};
pub use inspect::describe;
pub use score::{
    decisions, read_scores, score, score_rows, scores_csv, scores_header, threshold, Flag, ScoreRow,
    ScoresFile,
};

/// Where a run's notes go (dropped rows, the front end chosen, the size of the run): one
/// line each, ready to print. `&mut |_| {}` drops them.
pub type Notes<'a> = dyn FnMut(&str) + 'a;
