//! `vae_core::selftest` on the emulated Cortex-M4F (the firmware's `selftest` binary in
//! QEMU): the assembly kernels against the portable loops, the PRNG, tanh, a hand-computed
//! score, the spectrum front end at every window size the model-file reader accepts (a
//! microfft size whose sine table is not enabled panics there), and a finite `f32::MAX`
//! spike that must overflow rather than count as NaN/Inf. `cargo xtask test` also runs it
//! with `cargo run`; this keeps it in `cargo test`.

use std::process::Command;
use vae_e2e::qemu;

#[test]
fn the_self_test_passes_on_the_emulated_cortex_m4f() {
    let elf = qemu::Build::default().run("selftest").unwrap_or_else(|e| panic!("{e}"));
    let q = qemu::qemu_command(&elf, &[]);
    // A lock-up loops for ever: bound it.
    let out = Command::new("timeout")
        .arg("120")
        .arg(q.get_program())
        .args(q.get_args())
        .output()
        .unwrap_or_else(|e| panic!("qemu-system-arm (install the Debian package qemu-system-arm): {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "self-test failed (1: a check, 101: a panic, 124: a hang):\n{text}"
    );
    // Every check ran: the host's count (`vae_core::selftest::run` on the host).
    let n = vae_core::selftest::run().expect("the self-test passes on the host");
    assert!(text.contains(&format!("selftest: {n} checks passed (ARM kernel: true)")), "{text}");
}
