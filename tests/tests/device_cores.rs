//! The same firmware on the other cores QEMU emulates: the Cortex-M7 of mps2-an500 (the
//! Cortex-M4F image as it is), the Cortex-M33 of mps2-an505 (an Armv8-M Mainline image) and
//! the STM32F405 of netduinoplus2 (the STM32's memory map). On each, the self-test passes
//! (the assembly kernel against the portable loops, among others) and a replayed recording
//! gets the host's scores and decisions, window by window.

use std::path::Path;
use std::time::Duration;
use vae_e2e::device::{compare, read_host_scores};
use vae_e2e::qemu::{self, Machine};

fn cli(args: &[&str]) {
    vae_e2e::vae_train(args).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn every_core_scores_and_decides_as_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    cli(&["synth", "--out", &s(d), "--train-rows", "4000", "--test-rows", "2000", "--seed", "9"]);
    let model = d.join("model.vaem");
    cli(&[
        "fit",
        "--no-auto",
        "--data",
        &s(&d.join("train.csv")),
        "--window",
        "16",
        "--hop",
        "4",
        "--transform",
        "spectrum",
        "--smooth",
        "4",
        "--hidden",
        "32",
        "--latent",
        "8",
        "--epochs",
        "20",
        "--quiet",
        "--out",
        &s(&model),
    ]);
    let test = s(&d.join("test.csv"));
    let host_csv = d.join("host.csv");
    cli(&["score", "--model", &s(&model), "--data", &test, "--out", &s(&host_csv)]);
    let host = read_host_scores(&std::fs::read_to_string(&host_csv).unwrap()).unwrap();
    let threshold = vae_train::OwnedModel::load(&model).unwrap().thresholds[0].threshold;
    let target = qemu::workspace_root().join("target").join("cores");
    for machine in [Machine::Mps2An500, Machine::Mps2An505, Machine::Netduinoplus2] {
        let core = machine.core();
        let build = |bin: &str, model: Option<&Path>| {
            qemu::Build {
                model: model.map(Path::to_path_buf),
                machine,
                target_dir: Some(target.clone()),
                ..Default::default()
            }
            .run(bin)
            .unwrap_or_else(|e| panic!("{core}: {e}"))
        };
        let selftest =
            qemu::run_with(machine, &build("selftest", None), &[], None, Duration::from_secs(120)).unwrap();
        assert_eq!(
            selftest.status,
            0,
            "{core}: self-test failed:\n{}",
            String::from_utf8_lossy(&selftest.raw)
        );
        assert!(
            String::from_utf8_lossy(&selftest.raw).contains("ARM kernel: true"),
            "{core} runs the assembly kernel"
        );
        let run = qemu::run_with(
            machine,
            &build("firmware", Some(&model)),
            &[&test],
            None,
            Duration::from_secs(300),
        )
        .unwrap();
        assert_eq!(run.status, 0, "{core}:\n{}", run.lines.join("\n"));
        let parity = compare(&host, &run.lines, threshold).unwrap_or_else(|e| panic!("{core}: {e}"));
        assert!(parity.windows > 400 && parity.flagged > 0, "{core}: {parity:?}");
        eprintln!("{core}: {} windows, worst relative difference {:e}", parity.windows, parity.worst);
    }
}
