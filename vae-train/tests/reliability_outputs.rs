//! The hostile pass on output paths and option values, through the real `vae-train` binary:
//! one clobber rule for every output (`--log` too), special files written in place and
//! symlinks followed, one `fit` per `--out` (a lock), an interrupted run's checkpoint kept,
//! inputs never overwritten, failures caught before training and leaving nothing behind,
//! no panic on a closed pipe or a full device, limits checked when arguments are parsed,
//! and usage errors always exit 2.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vae-train");

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env("RUST_BACKTRACE", "1");
    c
}

fn run(args: &[&str]) -> Output {
    cmd(args).output().unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

fn ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(out.status.success(), "vae-train {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out
}

/// Failed with `code`, no panic, and an `error:` line holding `expected`.
fn fails(out: &Output, code: i32, expected: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    let line =
        stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error: {stderr}"));
    assert!(stderr.contains(expected), "`{expected}` not in: {stderr}");
    line.to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small simulated recording in `dir`: `train.csv` (600 rows, 4 channels).
fn data(dir: &Path) -> PathBuf {
    let d = dir.join("synth");
    ok(&["synth", "--out", s(&d), "--train-rows", "600", "--test-rows", "60", "--seed", "2"]);
    d.join("train.csv")
}

/// A short fit; an option in `extra` that is also a default here replaces the default.
fn fit<'a>(data: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "fit",
        "--no-auto",
        "--data",
        data,
        "--out",
        out,
        "--window",
        "16",
        "--hop",
        "4",
        "--hidden",
        "8",
        "--latent",
        "2",
        "--epochs",
        "2",
        "--quiet",
    ];
    let mut rest = extra.iter().copied().peekable();
    while let Some(arg) = rest.next() {
        match (a.iter().position(|x| *x == arg), rest.peek()) {
            (Some(i), Some(v)) if !v.starts_with("--") => {
                a[i + 1] = v;
                rest.next();
            }
            _ => a.push(arg),
        }
    }
    a
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn log_follows_the_clobber_rule_and_never_overwrites_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let train = data(dir.path());
    let before = fs::read(&train).unwrap();
    let out = dir.path().join("m.vaem");
    // The training data as the log: refused, --force or not.
    fails(&run(&fit(s(&train), s(&out), &["--log", s(&train), "--force"])), 1, "would destroy the input");
    assert_eq!(fs::read(&train).unwrap(), before);
    // An existing log: kept without --force.
    let log = dir.path().join("notes.csv");
    fs::write(&log, "precious").unwrap();
    fails(&run(&fit(s(&train), s(&out), &["--log", s(&log)])), 1, "exists; pass --force");
    assert_eq!(fs::read_to_string(&log).unwrap(), "precious");
    assert!(!out.exists());
    ok(&fit(s(&train), s(&out), &["--log", s(&log), "--force"]));
    assert!(fs::read_to_string(&log).unwrap().starts_with("epoch,"));
}

#[test]
fn inputs_are_never_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let train = data(dir.path());
    let before = fs::read(&train).unwrap();
    let model = dir.path().join("m.vaem");
    fails(&run(&fit(s(&train), s(&train), &["--force"])), 1, "would destroy the input");
    ok(&fit(s(&train), s(&model), &[]));
    let m = fs::read(&model).unwrap();
    fails(
        &run(&["score", "--model", s(&model), "--data", s(&train), "--out", s(&train), "--force"]),
        1,
        "would destroy the input",
    );
    fails(
        &run(&["score", "--model", s(&model), "--data", s(&train), "--out", s(&model), "--force"]),
        1,
        "would destroy the input",
    );
    fails(&run(&["export", "--model", s(&model), "--safetensors", s(&model), "--force"]), 1, "would destroy");
    let st = dir.path().join("m.safetensors");
    ok(&["export", "--model", s(&model), "--safetensors", s(&st)]);
    let st_bytes = fs::read(&st).unwrap();
    fails(&run(&["import", "--safetensors", s(&st), "--out", s(&st), "--force"]), 1, "would destroy");
    assert_eq!(fs::read(&train).unwrap(), before);
    assert_eq!(fs::read(&model).unwrap(), m);
    assert_eq!(fs::read(&st).unwrap(), st_bytes);
}

#[test]
fn special_files_are_written_in_place_and_symlinks_followed() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let train = data(dir.path());
    let model = dir.path().join("m.vaem");
    // A FIFO as the log: read by a thread, still a FIFO afterwards.
    let fifo = dir.path().join("log.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            fs::File::open(fifo).unwrap().read_to_string(&mut text).unwrap();
            text
        })
    };
    ok(&fit(s(&train), s(&model), &["--log", s(&fifo)]));
    assert!(reader.join().unwrap().starts_with("epoch,"));
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");
    // A link to this process's standard output, as /dev/stdout is: the CSV goes to the pipe.
    let stdout_link = dir.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &stdout_link).unwrap();
    let out = ok(&["score", "--model", s(&model), "--data", s(&train), "--out", s(&stdout_link), "--force"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("file,window,start_row,score"));
    assert!(fs::symlink_metadata(&stdout_link).unwrap().file_type().is_symlink(), "the link was replaced");
    // A symlink to a regular file: the target is replaced, the link stays.
    let target = dir.path().join("scores.csv");
    fs::write(&target, "old").unwrap();
    let link = dir.path().join("scores-link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    ok(&["score", "--model", s(&model), "--data", s(&train), "--out", s(&link), "--force"]);
    assert!(fs::read_to_string(&target).unwrap().starts_with("file,window"));
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    // fit's --out must be a regular file path: its checkpoint goes beside it.
    fails(&run(&fit(s(&train), s(&fifo), &["--force"])), 1, "--out must be a regular file path");
}

#[test]
fn a_second_fit_to_the_same_out_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let train = data(dir.path());
    let model = dir.path().join("m.vaem");
    let long = fit(s(&train), s(&model), &["--patience", "0", "--epochs", "100000"]);
    let mut first = cmd(&long).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // The resume state is written after each epoch's log row: wait for it, so the kill below
    // leaves an interrupted run behind.
    let state = dir.path().join("m.vaem.ckpt.state");
    let start = Instant::now();
    while !state.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "the first run never finished an epoch");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = run(&fit(s(&train), s(&model), &["--force"]));
    first.kill().unwrap();
    first.wait().unwrap();
    fails(&second, 1, "another run is writing it");
    // The killed run's checkpoint is kept: a fresh run is refused and says how to resume.
    let e = fails(&run(&fit(s(&train), s(&model), &[])), 1, "--resume");
    assert!(e.contains("m.vaem.ckpt"), "{e}");
    assert!(state.exists());
    // --force starts afresh.
    ok(&fit(s(&train), s(&model), &["--force"]));
    assert!(!dir.path().join("m.vaem.ckpt").exists() && !dir.path().join("m.vaem.lock").exists());
}

#[test]
fn synth_and_report_directories_follow_the_clobber_rule() {
    let dir = tempfile::tempdir().unwrap();
    let train = data(dir.path());
    let d = train.parent().unwrap();
    let before = fs::read(&train).unwrap();
    fails(&run(&["synth", "--out", s(d), "--train-rows", "600", "--seed", "9"]), 1, "exists; pass --force");
    assert_eq!(fs::read(&train).unwrap(), before);
    ok(&["synth", "--out", s(d), "--train-rows", "600", "--seed", "9", "--force"]);
    assert_ne!(fs::read(&train).unwrap(), before);
    // eval --report DIR: a second report into the same directory needs --force.
    let model = dir.path().join("m.vaem");
    ok(&fit(s(&train), s(&model), &[]));
    let test = d.join("test.csv");
    let report = dir.path().join("report");
    let eval = |extra: &[&str]| {
        let mut a = vec!["eval", "--model", s(&model), "--data", s(&test), "--labels", "anomaly"];
        a.extend(["--report", s(&report)]);
        a.extend_from_slice(extra);
        run(&a)
    };
    assert!(eval(&[]).status.success());
    let md = fs::read(report.join("report.md")).unwrap();
    fails(&eval(&[]), 1, "report.md exists; pass --force");
    assert_eq!(fs::read(report.join("report.md")).unwrap(), md);
    assert!(eval(&["--force"]).status.success());
    let e = fails(&run(&["synth", "--out", s(&train)]), 1, "is a file, expected a directory");
    assert!(!e.contains("os error"), "{e}");
}

#[test]
fn failures_are_caught_before_training_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let train = data(dir.path());
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    // --out naming a directory.
    let t = Instant::now();
    fails(&run(&fit(s(&train), s(&work), &["--epochs", "100000", "--patience", "0"])), 1, "is a directory");
    assert!(t.elapsed() < Duration::from_secs(20), "the run trained before failing");
    // A file name too long for the file system with the checkpoint suffix.
    let long = work.join(format!("{}.vaem", "m".repeat(240)));
    fails(&run(&fit(s(&train), s(&long), &[])), 1, "too long");
    // A column name too long for the model file's header.
    let wide = dir.path().join("wide.csv");
    let mut text = format!("a,{}\n", "b".repeat(300));
    for i in 0..200 {
        text.push_str(&format!("{},{}\n", i % 7, (i * 3) % 11));
    }
    fs::write(&wide, text).unwrap();
    let out = work.join("m.vaem");
    fails(&run(&fit(s(&wide), s(&out), &[])), 1, "cannot be written as a model file");
    // A diverging learning rate: no header-only log.
    fails(&run(&fit(s(&train), s(&out), &["--lr", "1e30"])), 1, "");
    assert!(files_in(&work).is_empty(), "left behind: {:?}", files_in(&work));
}

#[test]
fn closed_pipe_is_quiet_and_full_device_is_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let train = data(dir.path());
    let model = dir.path().join("m.vaem");
    ok(&fit(s(&train), s(&model), &[]));
    // `vae-train score ... | head -0`: the reader is gone before the first write.
    let mut child = cmd(&["score", "--model", s(&model), "--data", s(&train)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(out.status.code(), Some(141));
    // Standard output on a full device: one error line, status 1, for every command.
    let test = train.with_file_name("test.csv");
    let (d, st, m2) = (dir.path().join("again"), dir.path().join("m.st"), dir.path().join("m2.vaem"));
    let commands = [
        vec!["inspect", s(&model)],
        vec!["score", "--model", s(&model), "--data", s(&train)],
        vec!["eval", "--model", s(&model), "--data", s(&test), "--labels", "anomaly"],
        vec!["eval", "--model", s(&model), "--data", s(&test), "--labels", "anomaly", "--json"],
        vec!["synth", "--out", s(&d), "--train-rows", "100", "--test-rows", "60"],
        vec!["export", "--model", s(&model), "--safetensors", s(&st)],
        vec!["import", "--safetensors", s(&st), "--out", s(&m2)],
    ];
    for args in commands.iter().chain([&fit(s(&train), s(&m2), &["--force"])]) {
        let full = fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let out = cmd(args).stdout(full).output().unwrap();
        fails(&out, 1, "standard output: No space left on device");
    }
}

#[test]
fn limits_are_checked_when_arguments_are_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.vaem");
    let missing = dir.path().join("not-read-yet.csv");
    let (d, o) = (s(&missing), s(&out));
    for (extra, expected) in [
        (vec!["--hidden", "65535,65535"], "from 1 to 4096, found 65535"),
        (vec!["--latent", "70000"], "from 1 to 4096, found 70000"),
        (vec!["--hop", "70000"], "from 1 to 65535, found 70000"),
        (vec!["--window", "0"], "from 1 to 65535, found 0"),
        (vec!["--window", "-1"], "-1"),
        (vec!["--quantile", "0"], "from 0.5 to 1"),
        (vec!["--val-fraction", "0.99"], "from 0 to 0.9"),
        (vec!["--score", "deterministic", "--samples", "5"], "draws no samples"),
        (vec!["--transform", "fourier"], "unknown transform `fourier`"),
    ] {
        fails(&run(&fit(d, o, &extra)), 2, expected);
    }
    let name = "n".repeat(300);
    fails(&run(&fit(d, o, &["--name", &name])), 2, "at most 255 bytes, found 300");
    fails(&run(&["synth", "--out", o, "--rate", "inf"]), 2, "positive finite number");
    fails(
        &run(&["score", "--model", o, "--data", d, "--kind", "deterministic", "--samples", "5"]),
        2,
        "draws no",
    );
    // Reads are bounded: an endless device is refused at the limit.
    fails(&run(&["inspect", "/dev/zero"]), 1, "more than 256 MiB, the largest model file read");
    fails(&run(&fit("/dev/zero", o, &[])), 1, "more than 1 GiB, the largest data file read");
}

#[test]
fn too_few_windows_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let train = data(dir.path());
    let out = dir.path().join("m.vaem");
    // 600 rows: a hop of 500 leaves one window on each side of the split.
    fails(&run(&fit(s(&train), s(&out), &["--window", "16", "--hop", "500"])), 1, "training window");
    fails(&run(&fit(s(&train), s(&out), &["--hop", "200"])), 1, "only 1 validation window");
}

#[test]
fn import_errors_say_what_is_wrong_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.vaem");
    // A header whose tensor claims F64 data of F32's size.
    let header = r#"{"t":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend([0u8; 8]);
    let st = dir.path().join("f64.safetensors");
    fs::write(&st, bytes).unwrap();
    let e = fails(&run(&["import", "--safetensors", s(&st), "--out", s(&out)]), 1, "f64.safetensors");
    assert!(e.contains("does not match its shape and dtype"), "{e}");
    for name in ["TensorInvalidInfo", "InvalidOffset", "HeaderTooSmall"] {
        assert!(!e.contains(name), "{e}");
    }
    fs::write(&st, b"junk").unwrap();
    let e = fails(&run(&["import", "--safetensors", s(&st), "--out", s(&out)]), 1, "not a safetensors file");
    assert!(!e.contains("HeaderTooSmall"), "{e}");
}

#[test]
fn the_false_alarm_rate_is_the_contract_the_model_file_records() {
    let dir = tempfile::tempdir().unwrap();
    let train = data(dir.path());
    let (a, b) = (dir.path().join("a.vaem"), dir.path().join("b.vaem"));
    ok(&fit(s(&train), s(&a), &["--false-alarm-rate", "0.01", "--name", "m"]));
    ok(&fit(s(&train), s(&b), &["--quantile", "0.99", "--name", "m"]));
    // The two spellings of one contract give the very same model.
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
    let shown = String::from_utf8(ok(&["inspect", s(&a)]).stdout).unwrap();
    assert!(shown.contains("at quantile 0.99 (decision: false-alarm rate 0.01)"), "{shown}");
    let both = fit(s(&train), s(&a), &["--false-alarm-rate", "0.01", "--quantile", "0.99", "--force"]);
    fails(&run(&both), 2, "cannot be used with");
    fails(&run(&fit(s(&train), s(&a), &["--false-alarm-rate", "0.7", "--force"])), 2, "from 0 to 0.5");
}
