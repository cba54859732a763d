//! The firmware template (`firmware/template`, a stand-alone crate as a user's firmware is):
//! built against a model with a front end and smoothing, with no size or type written by
//! hand, it makes the same decisions as `vae-train score` on the same recording.

use std::path::Path;
use std::time::Duration;
use vae_e2e::device::parse_window;
use vae_e2e::qemu;
use vae_train::data::{load_file, LoadOptions};
use vae_train::pipeline::{read_scores, Flag};

fn cli(args: &[&str]) {
    vae_e2e::vae_train(args).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_template_decides_as_the_host_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    cli(&["synth", "--out", &s(d), "--train-rows", "6000", "--test-rows", "3000", "--seed", "3"]);
    let model = d.join("model.vaem");
    cli(&[
        "fit",
        "--no-auto",
        "--data",
        &s(&d.join("train.csv")),
        "--window",
        "32",
        "--hop",
        "8",
        "--transform",
        "spectrum",
        "--smooth",
        "4",
        "--hidden",
        "32",
        "--latent",
        "8",
        "--epochs",
        "40",
        "--quiet",
        "--out",
        &s(&model),
    ]);
    let test = d.join("test.csv");
    let host_csv = d.join("host.csv");
    cli(&["score", "--model", &s(&model), "--data", &s(&test), "--out", &s(&host_csv)]);
    let host = read_scores(&host_csv).unwrap();

    // The template reads its samples from `samples.f32`: the test recording's channels, in
    // the model's order, as the f32 the host reads.
    let loaded = vae_train::OwnedModel::load(&model).unwrap();
    assert!(loaded.meta.transform.smoothing > 1 && loaded.meta.transform.name() != "raw");
    let opts = LoadOptions { columns: Some(loaded.meta.channels.clone()), ..LoadOptions::default() };
    let rec = load_file(&test, &opts).unwrap();
    let bytes: Vec<u8> = rec.values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(d.join("samples.f32"), bytes).unwrap();

    let target = qemu::workspace_root().join("target").join("template");
    let elf = qemu::build_template(&model, &target).unwrap_or_else(|e| panic!("{e}"));
    let run = qemu::run_with(qemu::Machine::default(), &elf, &[], Some(d), Duration::from_secs(300)).unwrap();
    assert_eq!(run.status, 0, "{}", run.lines.join("\n"));
    let device: Vec<_> = run.lines.iter().filter_map(|l| parse_window(l)).collect();
    assert_eq!(device.len(), host.rows.len(), "windows, device vs host");
    let mut alarms = 0;
    for (dv, h) in device.iter().zip(&host.rows) {
        assert_eq!((dv.index, dv.start), (h.window, h.start_row));
        // The template logs the score it decided on: the smoothed one.
        let (ds, hs) = (dv.score.unwrap(), h.smoothed.unwrap());
        assert!((ds - hs).abs() <= 1e-5 * hs.abs().max(1.0), "window {}: device {ds}, host {hs}", dv.index);
        let host_decision = match h.flag {
            Flag::Yes => "Anomalous",
            Flag::Learning => "Learning",
            Flag::Invalid => "Invalid",
            _ => "Normal",
        };
        assert_eq!(dv.decision, host_decision, "window {} decision", dv.index);
        alarms += usize::from(h.flag == Flag::Yes);
    }
    assert!(alarms > 0, "the injected faults raise alarms");
    eprintln!("template: {} windows, {alarms} alarms, same decisions as the host", device.len());
}

/// The README's firmware section is the template's code, verbatim.
#[test]
fn the_readme_shows_the_template_as_it_is() {
    let root = qemu::workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let t = root.join("firmware").join("template");
    for file in ["src/main.rs", "build.rs"] {
        let code = std::fs::read_to_string(t.join(file)).unwrap();
        assert!(readme.contains(&format!("```rust\n{code}```")), "README.md lacks {file} as it is");
    }
    let manifest = std::fs::read_to_string(t.join("Cargo.toml")).unwrap();
    let deps =
        &manifest[manifest.find("[dependencies]").unwrap()..manifest.find("[profile.release]").unwrap()];
    assert!(readme.contains(deps.trim_end()), "README.md lacks the template's dependencies as they are");
}
