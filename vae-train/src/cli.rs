//! The `vae-train` command line: `fit`, `score`, `eval`, `inspect`, `export`, `import`,
//! `synth`.
//! Every error is printed as one line naming the file and place, with a non-zero exit.

use crate::data::{self, LoadOptions, NanPolicy, RowRange, Windows};
use crate::error::Error;
use crate::model::{ModelMeta, OwnedModel};
use crate::scoring::{self, ScoredWindow};
use crate::{atomic, export, output, synth, train};
use clap::{Args, Parser, Subcommand};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use vae_core::model_file::Calibration;
use vae_core::{Activation, Decision, Outcome, ScoreConfig, ScoreKind, Threshold};

mod limits;

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
    /// Generate a simulated machine recording (train.csv, test.csv with faults, faults.csv).
    Synth(SynthArgs),
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
    /// Recordings: CSV (header row), .npy or .npz. Several files share their columns.
    #[arg(long, num_args = 1.., required = true)]
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
    /// Window length in samples (1 to 65535).
    #[arg(long, default_value_t = 32, value_parser = limits::window)]
    pub window: usize,
    /// Samples between window starts (1 to 65535).
    #[arg(long, default_value_t = 4, value_parser = limits::window)]
    pub hop: usize,
    /// Encoder hidden widths, input side first (the decoder mirrors them); 1 to 3 layers of
    /// 1 to 4096.
    #[arg(long, value_delimiter = ',', default_value = "32", value_parser = limits::width)]
    pub hidden: Vec<usize>,
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
    /// Quantile of validation scores taken as the threshold (0.5 to 1).
    #[arg(long, default_value_t = 0.995, value_parser = limits::quantile)]
    pub quantile: f32,
    /// Input front end, run identically on the device and recorded in the model file: raw,
    /// diff, demean, stats or spectrum (see `vae_core::transform`).
    #[arg(long, default_value = "raw", value_parser = limits::transform)]
    pub transform: String,
    /// Channels whose level wanders in normal operation (their level feature becomes its
    /// change across the window): none, auto (decided on the training rows), or names.
    #[arg(long, default_value = "none")]
    pub wandering: String,
    /// Decide on the mean score of this many consecutive windows (1: each window alone, at
    /// most 64).
    #[arg(long, default_value_t = 1, value_parser = limits::smoothing)]
    pub smooth: u16,
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
    /// Labelled recordings (with --labels or --label-windows).
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
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
    /// How to read them.
    #[command(flatten)]
    pub read: ReadArgs,
    /// Score kind (default: the model's).
    #[arg(long)]
    pub kind: Option<String>,
    /// Latent samples K (default: the model's).
    #[arg(long, value_parser = limits::samples)]
    pub samples: Option<u16>,
    /// The model's training recordings, for the PCA reference.
    #[arg(long, num_args = 1..)]
    pub train: Vec<PathBuf>,
    /// Rows of the --train files (e.g. :400, 0:0.7).
    #[arg(long, requires = "train", value_parser = limits::rows)]
    pub train_rows: Option<RowRange>,
    /// Print one JSON object (keys roc_auc, pr_auc, best_f1, f1, precision, recall, windows,
    /// anomalous_windows, ...; references under baselines).
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
            (Some(column), _) => Ok(LabelSource::Column { files: self.data.clone(), column: column.clone() }),
            (None, Some(json)) => Ok(LabelSource::Windows { files: self.data.clone(), json: json.clone() }),
            (None, None) if !self.data.is_empty() => {
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

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Fit(a) => fit(&a),
        Command::Score(a) => score(&a),
        Command::Eval(a) => crate::eval::run(&a),
        Command::Inspect { model } => inspect(&model),
        Command::Export { model, safetensors, force } => {
            output::check(&safetensors, force, &[&model])?;
            let m = OwnedModel::load(&model)?;
            let bytes = export::to_safetensors(&m)?;
            atomic::write(&safetensors, &bytes).map_err(|e| Error::io(&safetensors, e))?;
            output::println(&format!(
                "wrote {} ({} bytes, {} tensors)",
                safetensors.display(),
                bytes.len(),
                2 * m.net.layers().count() + 3
            ))
        }
        Command::Import { safetensors, out, force } => {
            output::check(&out, force, &[&safetensors])?;
            let bytes = output::read_bounded(&safetensors, output::MAX_MODEL_FILE, "safetensors file")?;
            let m = export::from_safetensors(&bytes, &safetensors.display().to_string())?;
            m.save(&out)?;
            output::println(&format!("wrote {}", out.display()))?;
            inspect(&out)
        }
        Command::Synth(a) => synth(&a),
    }
}

fn synth(a: &SynthArgs) -> Result<(), Error> {
    if a.test_rows < limits::MIN_SYNTH_TEST_ROWS {
        return Err(Error::Usage(format!(
            "--test-rows must be at least {} (room for the five faults), found {}",
            limits::MIN_SYNTH_TEST_ROWS,
            a.test_rows
        )));
    }
    match output::Existing::at(&a.out) {
        output::Existing::Nothing | output::Existing::Directory => {}
        _ => return Err(Error::Output(format!("{}: is a file, expected a directory", a.out.display()))),
    }
    if a.out.is_dir() {
        for name in synth::FILES {
            output::check(&a.out.join(name), a.force, &[])?;
        }
    }
    let cfg = synth::SynthConfig {
        seed: a.seed,
        train_rows: a.train_rows,
        test_rows: a.test_rows,
        rate_hz: a.rate,
        ..Default::default()
    };
    let s = synth::generate(&cfg);
    synth::write(&a.out, &cfg, &s)?;
    let mut text = format!(
        "wrote {}/{{train.csv, test.csv, faults.csv}}: {} + {} rows at {} Hz\n",
        a.out.display(),
        a.train_rows,
        a.test_rows,
        a.rate
    );
    for f in &s.faults {
        let _ = writeln!(
            text,
            "  fault {:<17} on {:<12} rows {}..{}",
            f.kind.name(),
            f.kind.channel(),
            f.start,
            f.end
        );
    }
    output::print(&text)
}

/// The score `--kind` and `--samples` ask for, each defaulting to the model's `own`.
pub(crate) fn score_config(
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
pub(crate) fn check_options(kind: Option<&str>, samples: Option<u16>) -> Result<(), Error> {
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

fn parse_kind(s: &str) -> Result<ScoreKind, Error> {
    ScoreKind::from_name(s).ok_or_else(|| {
        Error::Usage(format!("unknown score `{s}`: use deterministic, elbo, iwae or recon-prob"))
    })
}

fn fit(a: &FitArgs) -> Result<(), Error> {
    let fitted = fit_model(a)?;
    output::println(&fitted.summary)
}

/// A model `fit` wrote, with the line it prints.
#[derive(Clone, Debug)]
pub struct Fitted {
    /// The model (as saved to `--out`).
    pub model: OwnedModel,
    /// One line: file, size, best epoch, loss, threshold.
    pub summary: String,
}

/// `fit` without the summary line on standard output (notes still go to standard error):
/// trains, calibrates, writes `--out` and returns the model.
pub fn fit_model(a: &FitArgs) -> Result<Fitted, Error> {
    let activation =
        Activation::from_name(&a.activation).filter(|a| *a != Activation::Identity).ok_or_else(|| {
            Error::Usage(format!("unknown --activation `{}`: use tanh, relu or sigmoid", a.activation))
        })?;
    let kind = parse_kind(&a.score)?;
    check_samples(kind, a.samples)?;
    let score = ScoreConfig::new(kind, a.samples.unwrap_or(8))?;
    let rule = scoring::ThresholdRule::from_name(&a.threshold_rule).ok_or_else(|| {
        Error::Usage(format!(
            "unknown --threshold-rule `{}`: use quantile, cantelli or auto",
            a.threshold_rule
        ))
    })?;
    if rule != scoring::ThresholdRule::Quantile && a.quantile >= 1.0 {
        return Err(Error::Usage("--threshold-rule cantelli and auto need --quantile below 1".into()));
    }
    if !["validation", "all", "auto"].contains(&a.calibrate.as_str()) {
        return Err(Error::Usage(format!(
            "unknown --calibrate `{}`: use validation, all or auto",
            a.calibrate
        )));
    }
    if a.device != "cpu" && a.device != "cuda" {
        return Err(Error::Usage(format!("unknown --device `{}`: use cpu or cuda", a.device)));
    }
    let outputs = FitOutputs::prepare(a)?;

    let recs = data::load(&a.input.data, &a.input.read.options(None, a.window, NanPolicy::Refuse)?)?;
    if let Some(note) = recs.first().and_then(data::Recording::column_note) {
        eprintln!("note: {note}");
    }
    for r in &recs {
        if !r.dropped_rows.is_empty() {
            eprintln!(
                "note: {}: dropped {} row(s) with NaN/Inf/empty cells",
                r.path.display(),
                r.dropped_rows.len()
            );
        }
    }
    let split = data::split(&recs, a.val_fraction, a.window)?;
    for n in &split.notes {
        eprintln!("note: {n}");
    }
    let stats = data::Stats::fit(&split.train)?;
    let channels = recs.first().map(|r| r.channels.clone()).unwrap_or_default();
    for &c in &stats.floored {
        eprintln!(
            "note: channel `{}` is (nearly) constant in the training rows; its std is floored",
            channels[c]
        );
    }
    let (mut train_recs, mut val_recs) = (split.train, split.val);
    for r in train_recs.iter_mut().chain(val_recs.iter_mut()) {
        stats.apply(r)?;
    }
    let tw = data::windows_of(&train_recs, a.window, a.hop)?;
    let vw = if val_recs.is_empty() { None } else { Some(data::windows_of(&val_recs, a.window, a.hop)?) };
    check_window_counts(a, tw.len(), vw.as_ref().map_or(0, Windows::len))?;
    let (transform, wandering) = crate::frontend::transform_from_options(
        &a.transform,
        &a.wandering,
        a.smooth,
        &channels,
        &train_recs,
        a.window,
        a.hop,
    )?;
    if !wandering.is_empty() {
        eprintln!(
            "note: wandering levels (their feature is the change across the window): {}",
            wandering.join(", ")
        );
    }
    let x = transform.input_len(a.window, channels.len());
    let (train_x, val_x, feature_scale) = crate::frontend::training_inputs(&transform, &tw, vw.as_ref())?;
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| a.out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let meta = ModelMeta {
        name,
        seed: a.seed,
        window: a.window,
        hop: a.hop,
        channels: channels.clone(),
        norm_mean: stats.mean.clone(),
        norm_std: stats.std.clone(),
        score,
        transform,
    };
    check_model_fits(&meta, x, a, activation)?;
    eprintln!(
        "training on {} windows ({} validation) of {} x {} samples, transform {} = {} inputs; hidden {:?}, latent {}",
        tw.len(),
        vw.as_ref().map_or(0, Windows::len),
        a.window,
        channels.len(),
        transform.name(),
        x,
        a.hidden,
        a.latent
    );
    let cfg = train::TrainConfig {
        hidden: a.hidden.clone(),
        latent: a.latent,
        activation,
        epochs: a.epochs,
        batch_size: a.batch,
        learning_rate: a.lr,
        seed: a.seed,
        kl_warmup: a.kl_warmup,
        patience: (a.patience > 0).then_some(a.patience),
        checkpoint: Some(outputs.checkpoint.clone()),
        log: Some(outputs.log.clone()),
        resume: a.resume,
        progress: !a.quiet,
    };
    let val: &[f32] = &val_x;
    // Ctrl-C stops at the next batch with the resume state of the last finished epoch on disk;
    // a second Ctrl-C exits at once (the state is written atomically, so it stays valid).
    static STOP: AtomicBool = AtomicBool::new(false);
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping after this batch (Ctrl-C again to quit now)");
    });
    let trained = match a.device.as_str() {
        "cpu" => train::train_with(
            &dfdx::tensor::Cpu::seed_from_u64(a.seed),
            &train_x,
            val,
            x,
            &meta,
            &cfg,
            Some(&STOP),
        ),
        #[cfg(feature = "cuda")]
        "cuda" => {
            let dev = dfdx::tensor::Cuda::try_build(0, a.seed)
                .map_err(|e| Error::Usage(format!("cannot open CUDA device 0: {e:?}")))?;
            train::train_with(&dev, &train_x, val, x, &meta, &cfg, Some(&STOP))
        }
        #[cfg(not(feature = "cuda"))]
        "cuda" => {
            return Err(Error::Usage(
                "this vae-train was built without CUDA: rebuild with `--features cuda`".into(),
            ))
        }
        d => return Err(Error::Usage(format!("unknown --device `{d}`: use cpu or cuda"))),
    };
    let outcome = trained.inspect_err(|_| outputs.discard_empty_log())?;
    if outcome.still_improving() {
        eprintln!(
            "note: the {} loss was still falling at the last epoch ({}): more --epochs would train further",
            if val.is_empty() { "training" } else { "validation" },
            outcome.history.len()
        );
    }
    let mut net = outcome.net.clone();
    if let Some(scale) = &feature_scale {
        scale.fold(&mut net);
    }
    let mut model = OwnedModel { meta, net, thresholds: Vec::new() };

    // Threshold: a quantile of the scores of normal windows, by default those the model was
    // not fitted on.
    let n_val = vw.as_ref().map_or(0, Windows::len);
    // 1 / (1 - q) windows, rounded: 0.995 as f32 lies a little above 0.995, and 200
    // validation windows must count as enough for it.
    let enough = n_val as f64 >= (1.0 / (1.0 - f64::from(a.quantile)).max(1e-9) - 1e-3).ceil();
    let use_all = match a.calibrate.as_str() {
        "all" => true,
        "auto" => !enough,
        _ => false,
    };
    let (scored, on) = match &vw {
        Some(w) if !w.is_empty() && !use_all => (scoring::score_windows(&model, w, score)?, "validation"),
        Some(w) if !w.is_empty() => {
            let mut all = scoring::score_windows(&model, &tw, score)?;
            all.extend(scoring::score_windows(&model, w, score)?);
            (all, "training and validation")
        }
        _ => {
            eprintln!("note: no validation windows; calibrating on training windows (optimistic)");
            (scoring::score_windows(&model, &tw, score)?, "training")
        }
    };
    let mut quantiles = vec![a.quantile];
    quantiles.extend([0.99f32, 0.999].into_iter().filter(|q| (q - a.quantile).abs() > 1e-6));
    let mut decision_rule = scoring::ThresholdRule::Quantile;
    for (i, q) in quantiles.into_iter().enumerate() {
        let (t, used) = scoring::calibrate_with(&scored, q, rule)?;
        if i == 0 {
            decision_rule = used;
        }
        model.thresholds.push(Calibration { quantile: q, threshold: t.value() });
    }
    model.save(&a.out)?;
    outputs.finish();
    let best = outcome.history.iter().find(|h| h.epoch == outcome.best_epoch);
    let summary = format!(
        "wrote {} ({} bytes): best epoch {} of {}{}, {} loss {:.3} nats/window; threshold {:.3} {} of {} {} scores",
        a.out.display(),
        std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0),
        outcome.best_epoch,
        outcome.history.len(),
        if outcome.stopped_early { " (early stop)" } else { "" },
        if best.and_then(|b| b.val_loss).is_some() { "validation" } else { "training" },
        outcome.best_loss,
        model.thresholds[0].threshold,
        match decision_rule {
            scoring::ThresholdRule::Cantelli => format!(
                "by the Cantelli bound for quantile {} (mean + {:.1} sd)",
                a.quantile,
                scoring::cantelli_factor(a.quantile)
            ),
            _ => format!("at the {} quantile", a.quantile),
        },
        scored.len(),
        on
    );
    Ok(Fitted { model, summary })
}

/// The files a `fit` run writes (model, checkpoint and its resume state, log), checked
/// before any data is read and locked for the whole run (see [`crate::output`]).
struct FitOutputs {
    out: PathBuf,
    checkpoint: PathBuf,
    state: PathBuf,
    log: PathBuf,
    _lock: output::RunLock,
}

impl FitOutputs {
    fn prepare(a: &FitArgs) -> Result<Self, Error> {
        let out = a.out.clone();
        if output::Existing::at(&out) == output::Existing::Special {
            return Err(Error::Output(format!(
                "{}: --out must be a regular file path (its checkpoint and log are written beside it)",
                out.display()
            )));
        }
        let checkpoint = output::with_suffix(&out, ".ckpt");
        let state = train::state_path(&checkpoint);
        let log = a.log.clone().unwrap_or_else(|| output::with_suffix(&out, ".log.csv"));
        let inputs: Vec<&Path> = a.input.data.iter().map(PathBuf::as_path).collect();
        // Names first, so the lock file is not made for a path that cannot be written.
        for p in [&out, &checkpoint, &state] {
            output::check_name(p)?;
        }
        output::check(&out, true, &inputs)?;
        let lock = output::RunLock::take(&out)?;
        // Resuming continues the run's own files; a fresh run replaces them only with --force.
        let force = a.force || a.resume;
        for p in [&checkpoint, &state] {
            output::check(p, true, &inputs)?;
        }
        if !force && (checkpoint.exists() || state.exists()) {
            return Err(Error::Output(format!(
                "{} holds an interrupted run of this --out: continue it with --resume, \
                 or pass --force to start afresh (it is deleted)",
                if state.exists() { &state } else { &checkpoint }.display()
            )));
        }
        output::check(&out, force, &inputs)?;
        output::check(&log, force, &inputs)?;
        if !a.resume {
            for p in [&checkpoint, &state] {
                let _ = std::fs::remove_file(p);
            }
        }
        Ok(Self { out, checkpoint, state, log, _lock: lock })
    }

    /// After a failed run: a log holding only its header (the run failed in its first
    /// epoch) says nothing, so it goes.
    fn discard_empty_log(&self) {
        let only_header =
            std::fs::read_to_string(&self.log).is_ok_and(|t| t.trim_end() == train::LOG_HEADER.trim_end());
        if only_header && output::Existing::at(&self.log) == output::Existing::File {
            let _ = std::fs::remove_file(&self.log);
        }
    }

    /// The run is complete: its checkpoint and resume state have served their purpose.
    fn finish(&self) {
        debug_assert!(self.out.exists());
        let _ = std::fs::remove_file(&self.state);
        let _ = std::fs::remove_file(&self.checkpoint);
    }
}

/// Refuses a split that leaves too few windows to train on or to calibrate with.
fn check_window_counts(a: &FitArgs, train: usize, val: usize) -> Result<(), Error> {
    if train < MIN_TRAIN_WINDOWS {
        return Err(Error::Input(format!(
            "only {train} training window(s) of {} samples with hop {} (at least {MIN_TRAIN_WINDOWS} are needed): \
             give more rows, a shorter --window or --hop, or a smaller --val-fraction ({})",
            a.window, a.hop, a.val_fraction
        )));
    }
    if a.val_fraction > 0.0 && val == 1 {
        return Err(Error::Input(format!(
            "only 1 validation window of {} samples with hop {}: a threshold needs more; \
             give more rows, a shorter --hop, a larger --val-fraction, or --val-fraction 0",
            a.window, a.hop
        )));
    }
    Ok(())
}

/// Fewest training windows `fit` trains on.
pub const MIN_TRAIN_WINDOWS: usize = 2;

/// Writes the model file of a zero network of the run's shape, so what the file format
/// cannot hold (too wide an input, names too long for its header) is refused before
/// training rather than at the first checkpoint.
fn check_model_fits(meta: &ModelMeta, x: usize, a: &FitArgs, act: Activation) -> Result<(), Error> {
    let zero = |inputs: usize, outputs: usize, activation: Activation| crate::model::Layer {
        inputs,
        outputs,
        activation,
        weight: vec![0.0; inputs * outputs],
        bias: vec![0.0; outputs],
    };
    let mut widths = vec![x];
    widths.extend(&a.hidden);
    let params: usize = widths.windows(2).map(|w| (w[0] + 1) * w[1]).sum::<usize>() * 2
        + (widths[widths.len() - 1] + 1) * a.latent * 3;
    if params > MAX_PARAMETERS {
        return Err(Error::Usage(format!(
            "a model of {x} inputs, hidden {:?} and latent {} has about {params} parameters; at most {MAX_PARAMETERS}",
            a.hidden, a.latent
        )));
    }
    let encoder: Vec<_> = widths.windows(2).map(|w| zero(w[0], w[1], act)).collect();
    let last = widths[widths.len() - 1];
    let mut back = vec![a.latent];
    back.extend(a.hidden.iter().rev());
    let decoder: Vec<_> = back.windows(2).map(|w| zero(w[0], w[1], act)).collect();
    let net = crate::model::Network {
        encoder,
        mu: zero(last, a.latent, Activation::Identity),
        log_var: zero(last, a.latent, Activation::Identity),
        decoder,
        mean: zero(a.hidden[0], x, Activation::Identity),
        decoder_log_var: vec![0.0; x],
    };
    OwnedModel { meta: meta.clone(), net, thresholds: Vec::new() }
        .to_bytes()
        .map(|_| ())
        .map_err(|e| Error::Input(format!("this model cannot be written as a model file: {e}")))
}

/// Most parameters `fit` trains (16 Mi: 64 MiB of f32).
pub const MAX_PARAMETERS: usize = 16 << 20;

fn score(a: &ScoreArgs) -> Result<(), Error> {
    check_options(a.kind.as_deref(), a.samples)?;
    if let Some(out) = &a.out {
        let mut inputs: Vec<&Path> = a.input.data.iter().map(PathBuf::as_path).collect();
        inputs.push(&a.model);
        output::check(out, a.force, &inputs)?;
    }
    let model = OwnedModel::load(&a.model)?;
    let config = score_config(model.meta.score, a.kind.as_deref(), a.samples)?;
    let opts = a.input.read.options(Some(model.meta.channels.clone()), model.meta.window, NanPolicy::Keep)?;
    let mut recs = data::load(&a.input.data, &opts)?;
    if let Some(r) = recs.first() {
        if r.channels != model.meta.channels {
            return Err(Error::Input(format!(
                "{}: columns {:?} do not match the model's channels {:?}",
                r.path.display(),
                r.channels,
                model.meta.channels
            )));
        }
    }
    scoring::normalise(&model, &mut recs);
    let windows = data::windows_of(&recs, model.meta.window, model.meta.hop)?;
    let scored = scoring::score_windows(&model, &windows, config)?;
    let threshold = model.thresholds.first().and_then(|c| Threshold::new(c.threshold).ok());
    let text = scores_csv(&model, &recs, &scored, threshold.as_ref());
    match &a.out {
        Some(out) => {
            atomic::write(out, text.as_bytes()).map_err(|e| Error::io(out, e))?;
            let flagged = scored
                .iter()
                .filter(|s| threshold.is_some_and(|t| s.decide(&t) == Decision::Anomalous))
                .count();
            let invalid = scored.iter().filter(|s| matches!(s.outcome, Outcome::NonFinite { .. })).count();
            output::println(&format!(
                "wrote {}: {} windows, {} anomalous, {} invalid (NaN/Inf); score {} K={}",
                out.display(),
                scored.len(),
                flagged,
                invalid,
                config.kind().name(),
                config.samples()
            ))
        }
        None => output::print(&text),
    }
}

/// One CSV row per window: where it is, its score and decision, and its per-channel split.
fn scores_csv(
    model: &OwnedModel,
    recs: &[data::Recording],
    scored: &[ScoredWindow],
    t: Option<&Threshold>,
) -> String {
    let mut s = String::from("file,window,start_row,score,anomalous,top_channel");
    for c in &model.meta.channels {
        let _ = write!(s, ",nll_{c}");
    }
    // With smoothing, the decision is on the smoothed score: a last column.
    let smoothed = model.meta.transform.smoothing > 1;
    if smoothed {
        s.push_str(",smoothed_score");
    }
    s.push('\n');
    for w in scored {
        let rec = &recs[w.recording];
        let file = rec.path.display().to_string();
        let file =
            if file.contains([',', '"']) { format!("\"{}\"", file.replace('"', "\"\"")) } else { file };
        let row = rec.file_row(w.start);
        let (score, top) = match w.outcome {
            Outcome::Scored(sc) => (sc.score.to_string(), model.meta.channels[sc.top_channel].clone()),
            Outcome::Overflow => ("inf".into(), String::new()),
            Outcome::NonFinite { .. } => ("nan".into(), String::new()),
        };
        let flag = match (t.map(|t| w.decide(t)), &w.outcome) {
            (_, Outcome::NonFinite { .. }) => "invalid",
            (Some(Decision::Anomalous), _) => "yes",
            (Some(_), _) => "no",
            (None, _) => "",
        };
        let _ = write!(s, "{file},{},{row},{score},{flag},{top}", w.index);
        for c in 0..model.meta.channels.len() {
            match w.channel_nll.get(c) {
                Some(v) => {
                    let _ = write!(s, ",{v}");
                }
                None => s.push(','),
            }
        }
        if smoothed {
            match w.smoothed {
                Some(v) => {
                    let _ = write!(s, ",{v}");
                }
                None => s.push_str(",nan"),
            }
        }
        s.push('\n');
    }
    s
}

/// `inspect`: the header, layer by layer, the cost on the device, and the checksum verdict.
pub fn inspect(path: &Path) -> Result<(), Error> {
    let bytes = output::read_bounded(path, output::MAX_MODEL_FILE, "model file")?;
    let aligned = crate::model::AlignedBytes::new(&bytes);
    let f = vae_core::ModelFile::parse(aligned.bytes()).map_err(|e| Error::from(e).in_file(path))?;
    let h = f.header();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: valid model file (format v{}, CRC-32 ok)",
        path.display(),
        vae_core::model_file::VERSION
    );
    let _ = writeln!(o, "  name        {}", h.name);
    let _ = writeln!(
        o,
        "  input       window {} x {} channels = {} values, hop {}, transform {}",
        h.window,
        h.channels,
        h.input_len,
        h.hop,
        h.transform.name()
    );
    let t = h.transform;
    if t.wandering != 0 || t.smoothing > 1 {
        let names: Vec<&str> =
            h.channel_names().enumerate().filter(|(c, _)| t.is_wandering(*c)).map(|(_, n)| n).collect();
        let _ = writeln!(
            o,
            "  front end   {} ({} rows x {} channels){}; decisions on the mean score of {} window(s)",
            t.name(),
            t.features.rows(h.window),
            h.channels,
            if names.is_empty() {
                String::new()
            } else {
                format!(", wandering levels: {}", names.join(", "))
            },
            t.smoothing
        );
    }
    let _ = writeln!(o, "  latent      {}", h.latent_len);
    let _ = writeln!(
        o,
        "  layers      {} encoder hidden, {} decoder hidden",
        h.encoder_depth(),
        h.decoder_depth()
    );
    for (i, l) in h.layers().iter().enumerate() {
        let _ = writeln!(
            o,
            "    {:<16} {:>4} -> {:<4} {}",
            h.part(i).name(),
            l.inputs,
            l.outputs,
            l.activation.name()
        );
    }
    let _ = writeln!(o, "  parameters  {} (f32)", h.param_count());
    let _ = writeln!(o, "  flash       {} bytes (the whole file is embedded)", bytes.len());
    let _ = writeln!(o, "  cost        {} multiply-accumulates per deterministic score", h.macs());
    let _ = writeln!(o, "  score       {} (K = {})", h.score.kind().name(), h.score.samples());
    if h.thresholds().is_empty() {
        let _ = writeln!(o, "  threshold   none (uncalibrated)");
    }
    for (i, c) in h.thresholds().iter().enumerate() {
        let _ = writeln!(
            o,
            "  threshold   {:.4} at quantile {}{}",
            c.threshold,
            c.quantile,
            if i == 0 { " (decision)" } else { "" }
        );
    }
    let _ = writeln!(o, "  seed        {}", h.seed);
    let _ = writeln!(o, "  normalisation (training data):");
    for ((name, m), s) in h.channel_names().zip(f.norm_mean()).zip(f.norm_std()) {
        let _ = writeln!(o, "    {name:<24} mean {m:>12.6}  std {s:>12.6}");
    }
    output::print(&o)
}
