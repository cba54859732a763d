//! Markers for the instruction counter (`shared/tools/qemu-insn-count`): it counts the guest
//! instructions executed between entering `bench_begin` and entering `bench_end`, i.e. one
//! scored window.

/// Entered just before a window is scored.
// SAFETY: `no_mangle` exports a symbol named `bench_begin`; no other symbol of the image has
// that name. `inline(never)` and the `nop` keep the function and its address under LTO.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn bench_begin() {
    cortex_m::asm::nop();
}

/// Entered just after a window is scored.
// SAFETY: as for `bench_begin`.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn bench_end() {
    // Two nops: a body different from `bench_begin`'s, so the linker cannot fold the two
    // functions into one address.
    cortex_m::asm::nop();
    cortex_m::asm::nop();
}
