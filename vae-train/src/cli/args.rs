//! The command line's arguments, and their mapping onto the pipeline's typed plans.

use super::limits;
use crate::data::{self, LoadOptions, NanPolicy, Recording, RowRange};
use crate::error::Error;
use crate::pipeline::{AutoParts, Calibrate, Device, FitPlan, Wandering};
use crate::scoring::ThresholdRule;
use crate::train;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use vae_core::transform::Features;
use vae_core::weights::Encoding;
use vae_core::{Activation, ScoreConfig, ScoreKind};

/// Train a VAE anomaly detector on sensor recordings and ship it to a microcontroller.
#[derive(Parser, Debug)]
#[command(name = "vae-train", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train, calibrate a threshold on validation windows, and write the model file.
    Fit(FitArgs),
    /// Score every window of recordings with a model (one CSV row per window).
    Score(ScoreArgs),
    /// Evaluate a model on labelled recordings: ROC-AUC, PR-AUC, F1, reference scores, report.
    Eval(EvalArgs),
    /// Print a model file's header and verify its checksum.
    Inspect {
        /// The model file.
        model: PathBuf,
    },
    /// Write a model's weights with their names as safetensors (for PyTorch).
    Export {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Output safetensors file.
        #[arg(long)]
        safetensors: PathBuf,
        /// Overwrite an existing output.
        #[arg(long)]
        force: bool,
    },
    /// Build a model file from safetensors in the `export` layout (e.g. trained in PyTorch).
    Import {
        /// Input safetensors file.
        #[arg(long)]
        safetensors: PathBuf,
        /// Output model file.
        #[arg(long)]
        out: PathBuf,
        /// Overwrite an existing output.
        #[arg(long)]
        force: bool,
    },
    /// Re-encode a model file's weights (f32, f16, int8) to fit a smaller flash.
    Convert(ConvertArgs),
    /// Generate a simulated machine recording (train.csv, test.csv with faults, faults.csv).
    Synth(SynthArgs),
}

/// `convert` options.
#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The model file.
    #[arg(long)]
    pub model: PathBuf,
    /// How the output stores the weights: f32, f16 (half their bytes) or int8 (a quarter,
    /// with a scale per output row). The thresholds are kept as calibrated on the old
    /// weights' scores; `fit --weights` calibrates on the new ones.
    #[arg(long, value_parser = encoding)]
    pub weights: Encoding,
    /// Output model file (never the input). An existing file is kept unless --force.
    #[arg(long)]
    pub out: PathBuf,
    /// Recordings to measure on how far the new weights move the scores and decisions
    /// (e.g. the model's validation rows; columns default to the model's channel names).
    #[command(flatten)]
    pub input: DataArgs,
    /// Overwrite an existing output file.
    #[arg(long)]
    pub force: bool,
}

/// How to read recordings: the options `fit`, `score` and `eval` share.
#[derive(Args, Debug, Clone)]
pub struct ReadArgs {
    /// Columns to use, by name (for .npz: array names, e.g. DE); score and eval default to
    /// the model's channel names.
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// CSV separator (detected from the header when absent).
    #[arg(long)]
    pub sep: Option<char>,
    /// Rows of every file: indices (100:500, 400:) or fractions (0:0.7).
    #[arg(long, value_parser = limits::rows)]
    pub rows: Option<RowRange>,
    /// Drop rows holding NaN/Inf/empty cells (otherwise fit refuses the file; score and eval
    /// keep them and do not score their windows).
    #[arg(long)]
    pub drop_nan: bool,
}

impl ReadArgs {
    /// The load options: `columns` when `--columns` is absent, `nan` unless `--drop-nan`.
    pub fn options(
        &self,
        columns: Option<Vec<String>>,
        min_rows: usize,
        nan: NanPolicy,
    ) -> Result<LoadOptions, Error> {
        let sep = match self.sep {
            Some(c) if c.is_ascii() => Some(c as u8),
            Some(c) => return Err(Error::Usage(format!("--sep must be one ASCII character, found {c:?}"))),
            None => None,
        };
        let rows = self.rows;
        let nan = if self.drop_nan { NanPolicy::DropRows } else { nan };
        let columns = self.columns.clone().or(columns);
        Ok(LoadOptions { columns, sep, rows, nan, min_rows, ..Default::default() })
    }
}

/// Which recordings to read and how.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Recordings: CSV (header row), .npy or .npz. Several files share their columns (fit
    /// and score need at least one; eval's are labelled, with --labels or --label-windows;
    /// convert's are optional).
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// How to read them.
    #[command(flatten)]
    pub read: ReadArgs,
}

/// `fit` options.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// Input recordings.
    #[command(flatten)]
    pub input: DataArgs,
    /// Choose the front end, window, smoothing and width from the training rows (the
    /// default): each front end is trained and scored on faults injected into the held-out
    /// rows, and the best (the cheapest on the device among near-ties) is kept.
    /// --transform, --window/--hop, --smooth and --hidden each fix their part of the choice.
    #[arg(long, overrides_with = "no_auto")]
    pub auto: bool,
    /// Train once, with the given front end, window, smoothing and width or their defaults
    /// (raw, 32, 1, 32): no search. A run that `--resume` can continue.
    #[arg(long, overrides_with = "auto")]
    pub no_auto: bool,
    /// Window length in samples (1 to 65535; chosen by the search, or 32 with --no-auto).
    #[arg(long, value_parser = limits::window)]
    pub window: Option<usize>,
    /// Samples between window starts (1 to 65535; W/8 when the search chooses the window, else
    /// 4).
    #[arg(long, value_parser = limits::window)]
    pub hop: Option<usize>,
    /// Encoder hidden widths, input side first (the decoder mirrors them); 1 to 3 layers of
    /// 1 to 4096 (chosen by the search, or 32 with --no-auto).
    #[arg(long, value_delimiter = ',', value_parser = limits::width)]
    pub hidden: Option<Vec<usize>>,
    /// Latent width (1 to 4096).
    #[arg(long, default_value_t = 8, value_parser = limits::width)]
    pub latent: usize,
    /// Hidden activation: tanh, relu or sigmoid.
    #[arg(long, default_value = "tanh")]
    pub activation: String,
    /// Maximum epochs. Early stopping (--patience) normally ends training first; the cap
    /// only bounds a run whose validation loss keeps falling.
    #[arg(long, default_value_t = train::DEFAULT_EPOCHS, value_parser = limits::positive)]
    pub epochs: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 128, value_parser = limits::positive)]
    pub batch: usize,
    /// Adam learning rate (a positive finite number).
    #[arg(long, default_value_t = 1e-3, value_parser = limits::learning_rate)]
    pub lr: f64,
    /// Seed of initialisation, shuffling and noise (same seed, same model bytes).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epochs over which the KL weight rises from 0 to 1 (0: no warm-up).
    #[arg(long, default_value_t = 0)]
    pub kl_warmup: usize,
    /// Stop after this many epochs without a better validation ELBO (0: never).
    #[arg(long, default_value_t = train::DEFAULT_PATIENCE)]
    pub patience: usize,
    /// Share of each recording's rows, at its end, held out for validation and calibration
    /// (0 to 0.9).
    #[arg(long, default_value_t = 0.2, value_parser = limits::val_fraction)]
    pub val_fraction: f64,
    /// Score the model is calibrated for: deterministic, elbo, iwae or recon-prob.
    #[arg(long, default_value = "deterministic")]
    pub score: String,
    /// Latent samples K for sampled scores (default 8; the deterministic score takes none).
    #[arg(long, value_parser = limits::samples)]
    pub samples: Option<u16>,
    /// The share of normal windows you accept to see flagged (0 to 0.5; default 0.005): the
    /// threshold is set so that this share of normal calibration windows lies above it, and
    /// the model file records it.
    #[arg(long, value_parser = limits::false_alarm_rate, conflicts_with = "quantile")]
    pub false_alarm_rate: Option<f64>,
    /// The same contract as a quantile of normal scores: `--quantile q` is
    /// `--false-alarm-rate 1-q` (0.5 to 1).
    #[arg(long, value_parser = limits::quantile)]
    pub quantile: Option<f32>,
    /// Input front end, run identically on the device and recorded in the model file: raw,
    /// diff, demean, stats or spectrum (see `vae_core::transform`; chosen by the search, or
    /// raw with --no-auto).
    #[arg(long, value_parser = limits::transform)]
    pub transform: Option<Features>,
    /// Channels whose level wanders in normal operation (their level feature becomes its
    /// change across the window): none, auto (decided on the training rows), or names
    /// (with the search, auto for front ends with a level row; none with --no-auto).
    #[arg(long)]
    pub wandering: Option<String>,
    /// Decide on the mean score of this many consecutive windows (1: each window alone, at
    /// most 64; chosen by the search, or 1 with --no-auto).
    #[arg(long, value_parser = limits::smoothing)]
    pub smooth: Option<u16>,
    /// Windows the threshold quantile is taken over: validation; all (training and
    /// validation); or auto: validation when it has at least 1 / (1 - quantile) windows
    /// (200 for 0.995), else all, since a quantile of fewer windows is only their maximum.
    #[arg(long, default_value = "validation")]
    pub calibrate: String,
    /// How the threshold is estimated from those windows' scores: quantile (the empirical
    /// --quantile); cantelli (mean + sqrt(q / (1 - q)) standard deviations, 14.1 for 0.995:
    /// by Cantelli's inequality at most 1 - q false alarms for any score distribution with
    /// that mean and spread); or auto: the quantile when there are at least 1 / (1 - q)
    /// windows, else cantelli.
    #[arg(long, default_value = "quantile")]
    pub threshold_rule: String,
    /// Windows the device learns after boot before it decides: their mean and spread (at
    /// least the calibration's) set the alarm level (mean + the calibration's own margin in
    /// standard deviations, or 2 z(1 - a) for the false-alarm rate a where the calibration is
    /// too small to measure it), because a machine moves on from its training rows. 0: decide by the
    /// calibrated threshold from the first window. Boot the device on a healthy machine;
    /// scores far beyond training still alarm while it learns.
    #[arg(long, default_value_t = crate::scoring::DEFAULT_LEARN)]
    pub learn: u16,
    /// Consecutive alarm windows after which the device learns again, taking the machine
    /// to have settled into a new state once the alarm was raised (0: never).
    #[arg(long, default_value_t = crate::scoring::DEFAULT_RELEARN_AFTER)]
    pub relearn_after: u16,
    /// How the model file stores the weights: f32, f16 (half their bytes) or int8 (a quarter,
    /// with a scale per output row). Training is in f32; the threshold is calibrated on the
    /// scores of the stored weights, which the device computes.
    #[arg(long, default_value = "f32", value_parser = encoding)]
    pub weights: Encoding,
    /// Model name stored in the file (default: the output file's stem; at most 255 bytes).
    #[arg(long, value_parser = limits::name)]
    pub name: Option<String>,
    /// Output model file. An existing file is kept unless --force (or --resume).
    #[arg(long)]
    pub out: PathBuf,
    /// Overwrite an existing output file, log, and an interrupted run's checkpoint.
    #[arg(long)]
    pub force: bool,
    /// Continue an interrupted run from OUT.ckpt and OUT.ckpt.state.
    #[arg(long, conflicts_with = "force")]
    pub resume: bool,
    /// Per-epoch CSV log (default: OUT.log.csv); an existing file is kept unless --force.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Where to train: cpu, or cuda (needs a build with `--features cuda`, the CUDA toolkit and
    /// a GPU).
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// `score` options.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// The model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Recordings (columns default to the model's channel names).
    #[command(flatten)]
    pub input: DataArgs,
    /// Score kind (default: the model's).
    #[arg(long)]
    pub kind: Option<String>,
    /// Latent samples K (default: the model's).
    #[arg(long, value_parser = limits::samples)]
    pub samples: Option<u16>,
    /// Output CSV (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite an existing output file.
    #[arg(long)]
    pub force: bool,
}

/// `eval` options. Labels come from exactly one of `--labels`, `--label-windows` (both with
/// `--data`) or `--normal`/`--anomalous`.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// The model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled recordings (`--data`, with --labels or --label-windows) and how to read them.
    #[command(flatten)]
    pub input: DataArgs,
    /// The 0/1 label column of every --data file (a row is anomalous when it is 1).
    #[arg(long, requires = "data", conflicts_with_all = ["label_windows", "normal", "anomalous"])]
    pub labels: Option<String>,
    /// JSON of anomalous time windows per file, NAB's `combined_windows.json` format.
    #[arg(long, requires = "data", conflicts_with_all = ["normal", "anomalous"])]
    pub label_windows: Option<PathBuf>,
    /// Recordings that are normal throughout.
    #[arg(long, num_args = 1.., conflicts_with = "data")]
    pub normal: Vec<PathBuf>,
    /// Recordings that are anomalous throughout.
    #[arg(long, num_args = 1.., conflicts_with = "data")]
    pub anomalous: Vec<PathBuf>,
    /// Score kind (default: the model's).
    #[arg(long)]
    pub kind: Option<String>,
    /// Latent samples K (default: the model's).
    #[arg(long, value_parser = limits::samples)]
    pub samples: Option<u16>,
    /// Evaluate the scores and decisions in this CSV (`vae-train score --out`, or the device's
    /// log turned into one) instead of scoring with the model; the model still gives the
    /// windows, channels and threshold. Rows are matched to windows by file and start_row.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kind", "samples"])]
    pub scores: Option<PathBuf>,
    /// The model's training recordings (the files it was fitted on), for the PCA reference and
    /// the no-training reference's threshold (the model's quantile of its scores on them).
    #[arg(long, num_args = 1..)]
    pub train: Vec<PathBuf>,
    /// Rows of the --train files (e.g. :400, 0:0.7): the --rows the model was fitted on.
    #[arg(long, requires = "train", value_parser = limits::rows)]
    pub train_rows: Option<RowRange>,
    /// Print one JSON object (keys roc_auc, pr_auc, best_f1, f1, precision, recall, windows,
    /// anomalous_windows, requested_false_alarm_rate, alarms, ...; references under
    /// baselines).
    #[arg(long)]
    pub json: bool,
    /// Write report.md, PNG plots and windows.csv into this directory.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Overwrite the files of an existing report in --report.
    #[arg(long)]
    pub force: bool,
}

impl EvalArgs {
    /// Where the labels come from, checking that exactly one way was given.
    pub fn label_source(&self) -> Result<crate::eval::LabelSource, Error> {
        use crate::eval::{EvalError, LabelSource};
        match (&self.labels, &self.label_windows) {
            (Some(column), _) => {
                Ok(LabelSource::Column { files: self.input.data.clone(), column: column.clone() })
            }
            (None, Some(json)) => {
                Ok(LabelSource::Windows { files: self.input.data.clone(), json: json.clone() })
            }
            (None, None) if !self.input.data.is_empty() => {
                Err(Error::Usage("--data needs its labels: --labels COLUMN or --label-windows JSON".into()))
            }
            (None, None) if self.normal.is_empty() && self.anomalous.is_empty() => Err(Error::Usage(
                "no labelled data: give --data with --labels or --label-windows, or --normal and --anomalous"
                    .into(),
            )),
            (None, None) if self.normal.is_empty() => Err(EvalError::EmptyFiles { which: "normal" }.into()),
            (None, None) if self.anomalous.is_empty() => {
                Err(EvalError::EmptyFiles { which: "anomalous" }.into())
            }
            (None, None) => {
                Ok(LabelSource::Files { normal: self.normal.clone(), anomalous: self.anomalous.clone() })
            }
        }
    }
}

/// `synth` options.
#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Rows of the normal recording (1 to 10,000,000).
    #[arg(long, default_value_t = 12_000, value_parser = limits::synth_rows)]
    pub train_rows: usize,
    /// Rows of the test recording (with faults; 60 to 10,000,000).
    #[arg(long, default_value_t = 6_000, value_parser = limits::synth_rows)]
    pub test_rows: usize,
    /// Sampling rate in Hz (a positive finite number).
    #[arg(long, default_value_t = 100.0, value_parser = limits::rate)]
    pub rate: f32,
    /// Overwrite existing train.csv, test.csv and faults.csv in --out.
    #[arg(long)]
    pub force: bool,
}

impl DataArgs {
    /// Refuses an empty `--data` where recordings are needed.
    pub fn require(&self) -> Result<(), Error> {
        if self.data.is_empty() {
            return Err(Error::Usage("--data: give at least one recording".into()));
        }
        Ok(())
    }
}

/// The share of normal windows `fit` accepts to see flagged, by default.
pub const DEFAULT_FALSE_ALARM_RATE: f64 = 0.005;

impl FitArgs {
    /// The typed plan of these arguments; a bad value is a usage error.
    pub fn plan(&self) -> Result<FitPlan, Error> {
        let activation = Activation::from_name(&self.activation)
            .filter(|a| *a != Activation::Identity)
            .ok_or_else(|| {
                Error::Usage(format!("unknown --activation `{}`: use tanh, relu or sigmoid", self.activation))
            })?;
        let kind = parse_kind(&self.score)?;
        check_samples(kind, self.samples)?;
        let threshold_rule = ThresholdRule::from_name(&self.threshold_rule).ok_or_else(|| {
            Error::Usage(format!(
                "unknown --threshold-rule `{}`: use quantile, cantelli or auto",
                self.threshold_rule
            ))
        })?;
        let quantile = self.quantile();
        if threshold_rule != ThresholdRule::Quantile && quantile >= 1.0 {
            return Err(Error::Usage("--threshold-rule cantelli and auto need --quantile below 1".into()));
        }
        let calibrate = match self.calibrate.as_str() {
            "validation" => Calibrate::Validation,
            "all" => Calibrate::All,
            "auto" => Calibrate::Auto,
            other => {
                return Err(Error::Usage(format!(
                    "unknown --calibrate `{other}`: use validation, all or auto"
                )))
            }
        };
        let device = match self.device.as_str() {
            "cpu" => Device::Cpu,
            "cuda" => Device::Cuda,
            other => return Err(Error::Usage(format!("unknown --device `{other}`: use cpu or cuda"))),
        };
        let wandering = match self.wandering.as_deref().unwrap_or("none") {
            "none" | "" => Wandering::None,
            "auto" => Wandering::Auto,
            list => Wandering::Channels(list.split(',').map(|n| n.trim().to_string()).collect()),
        };
        let name = self.name.clone().unwrap_or_else(|| {
            self.out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
        });
        Ok(FitPlan {
            window: self.window.unwrap_or(32),
            hop: self.hop.unwrap_or(4),
            features: self.transform.unwrap_or(Features::Raw),
            wandering,
            smoothing: self.smooth.unwrap_or(1),
            hidden: self.hidden.clone().unwrap_or_else(|| vec![32]),
            latent: self.latent,
            activation,
            epochs: self.epochs,
            batch: self.batch,
            learning_rate: self.lr,
            seed: self.seed,
            kl_warmup: self.kl_warmup,
            patience: (self.patience > 0).then_some(self.patience),
            val_fraction: self.val_fraction,
            score: ScoreConfig::new(kind, self.samples.unwrap_or(8))?,
            quantile,
            threshold_rule,
            calibrate,
            learn: self.learn,
            relearn_after: self.relearn_after,
            name,
            weights: self.weights,
            device,
            checkpoint: None,
            log: None,
            resume: self.resume,
            progress: !self.quiet,
        })
    }

    /// The calibration quantile: `1 - --false-alarm-rate`, or `--quantile`, or 0.995.
    pub fn quantile(&self) -> f32 {
        match (self.false_alarm_rate, self.quantile) {
            // Through f64, so the default rate gives exactly the f32 0.995.
            (Some(rate), _) => (1.0 - rate) as f32,
            (None, Some(q)) => q,
            (None, None) => (1.0 - DEFAULT_FALSE_ALARM_RATE) as f32,
        }
    }

    /// The parts of the plan `--auto` (the default) chooses: those not given on the command
    /// line (none with `--no-auto`).
    pub fn auto_parts(&self) -> AutoParts {
        if self.no_auto {
            return AutoParts::NONE;
        }
        AutoParts {
            features: self.transform.is_none(),
            window: self.window.is_none() && self.hop.is_none(),
            smoothing: self.smooth.is_none(),
            width: self.hidden.is_none(),
        }
    }

    /// The training recordings (NaN/Inf refused unless `--drop-nan`), with their timestamps
    /// when `--auto` chooses the window (a day of samples).
    pub fn load(&self) -> Result<Vec<Recording>, Error> {
        self.input.require()?;
        let mut opts = self.input.read.options(
            None,
            self.window.unwrap_or(if self.auto { 4 } else { 32 }),
            NanPolicy::Refuse,
        )?;
        opts.keep_timestamps = self.auto_parts().window;
        Ok(data::load(&self.input.data, &opts)?)
    }
}

/// The score `--kind` and `--samples` ask for, each defaulting to the model's `own`.
pub fn score_config(
    own: ScoreConfig,
    kind: Option<&str>,
    samples: Option<u16>,
) -> Result<ScoreConfig, Error> {
    if kind.is_none() && samples.is_none() {
        return Ok(own);
    }
    let kind = kind.map(parse_kind).transpose()?.unwrap_or(own.kind());
    check_samples(kind, samples)?;
    Ok(ScoreConfig::new(kind, samples.unwrap_or(own.samples()))?)
}

/// The score options `score` and `eval` can check before reading any file.
pub fn check_options(kind: Option<&str>, samples: Option<u16>) -> Result<(), Error> {
    match kind {
        Some(k) => check_samples(parse_kind(k)?, samples),
        None => Ok(()),
    }
}

/// Refuses `--samples` with a score that draws none (it would be silently ignored).
fn check_samples(kind: ScoreKind, samples: Option<u16>) -> Result<(), Error> {
    match samples {
        Some(k) if !kind.is_sampled() && k != 1 => Err(Error::Usage(format!(
            "--samples {k} with the {} score, which draws no samples (it scores at z = mu): \
             drop --samples or choose elbo, iwae or recon-prob",
            kind.name()
        ))),
        _ => Ok(()),
    }
}

/// Parses `--weights`.
fn encoding(s: &str) -> Result<Encoding, String> {
    Encoding::from_name(s).ok_or_else(|| format!("unknown encoding `{s}`: use f32, f16 or int8"))
}

fn parse_kind(s: &str) -> Result<ScoreKind, Error> {
    ScoreKind::from_name(s).ok_or_else(|| {
        Error::Usage(format!("unknown score `{s}`: use deterministic, elbo, iwae or recon-prob"))
    })
}
