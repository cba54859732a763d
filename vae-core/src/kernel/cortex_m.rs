//! VLDM + VFMA kernels for Cortex-M4F / M7 (`thumbv7em-none-eabihf`): the matrix-vector
//! product and the weighted squares of the likelihood.
//!
//! Two output rows per pass share each 8-element block of `x`: per block, three `VLDM`
//! loads, sixteen `VFMA`s and the loop's `SUBS`/`BNE`, i.e. 21 instructions for 16
//! multiply-accumulates, and 15 more per pass of two rows. Each row keeps two accumulators
//! so consecutive VFMAs do not wait on each other. A trailing odd row and a column count that
//! is not a multiple of 8 take the scalar paths. Register use follows the AAPCS: s16-s31 and
//! r4-r10 are saved and restored.
#![allow(unsafe_code)]

core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".fpu fpv4-sp-d16",
    ".section .text.vae_core_matvec_f32,\"ax\",%progbits",
    ".global vae_core_matvec_f32",
    ".type vae_core_matvec_f32,%function",
    ".p2align 2",
    ".thumb_func",
    // r0 = w, r1 = x, r2 = bias, r3 = out, [sp] = rows, [sp + 4] = cols.
    // Row A accumulates in s0 (from its bias) and s2, row B in s1 (from its bias) and s3, so
    // one VLDM loads both biases and one VSTM stores both results.
    "vae_core_matvec_f32:",
    "    push {{r4-r10, lr}}",
    "    vpush {{s16-s31}}",
    "    ldr r4, [sp, #96]",  // rows (32 + 64 bytes pushed)
    "    ldr r5, [sp, #100]", // cols
    "    lsl lr, r5, #2",     // row stride in bytes
    "    lsr r9, r5, #3",     // whole blocks of 8 per row
    "    and r10, r5, #7",    // values after the blocks
    "    movs r12, #0",
    "    vmov s7, r12", // s7 = 0.0
    // ---- two rows at a time ----
    "    subs r4, r4, #2",
    "    blt 5f",
    "1:",
    "    add r7, r0, lr", // row B
    "    vldmia r2!, {{s0-s1}}",
    "    vmov.f32 s2, s7",
    "    vmov.f32 s3, s7",
    "    mov r6, r1",
    "    movs r8, r9",
    "    beq 3f",
    "2:",
    "    vldmia r6!, {{s16-s23}}",
    "    vldmia r0!, {{s8-s15}}",
    "    vldmia r7!, {{s24-s31}}",
    "    vfma.f32 s0, s8, s16",
    "    vfma.f32 s1, s24, s16",
    "    vfma.f32 s2, s9, s17",
    "    vfma.f32 s3, s25, s17",
    "    vfma.f32 s0, s10, s18",
    "    vfma.f32 s1, s26, s18",
    "    vfma.f32 s2, s11, s19",
    "    vfma.f32 s3, s27, s19",
    "    vfma.f32 s0, s12, s20",
    "    vfma.f32 s1, s28, s20",
    "    vfma.f32 s2, s13, s21",
    "    vfma.f32 s3, s29, s21",
    "    vfma.f32 s0, s14, s22",
    "    vfma.f32 s1, s30, s22",
    "    vfma.f32 s2, s15, s23",
    "    vfma.f32 s3, s31, s23",
    "    subs r8, r8, #1",
    "    bne 2b",
    "3:",
    "    movs r8, r10",
    "    beq 4f",
    "6:",
    "    vldmia r6!, {{s16}}",
    "    vldmia r0!, {{s8}}",
    "    vldmia r7!, {{s24}}",
    "    vfma.f32 s0, s8, s16",
    "    vfma.f32 s1, s24, s16",
    "    subs r8, r8, #1",
    "    bne 6b",
    "4:",
    "    vadd.f32 s0, s0, s2",
    "    vadd.f32 s1, s1, s3",
    "    vstmia r3!, {{s0-s1}}",
    "    mov r0, r7", // next pair starts after row B
    "    subs r4, r4, #2",
    "    bge 1b",
    // ---- the last row when rows is odd (r4 is -1 then, -2 when none is left) ----
    "5:",
    "    adds r4, r4, #2",
    "    beq 9f",
    "    vldr s0, [r2]",
    "    vmov.f32 s1, s7",
    "    mov r6, r1",
    "    movs r8, r9",
    "    beq 7f",
    "8:",
    "    vldmia r6!, {{s16-s23}}",
    "    vldmia r0!, {{s8-s15}}",
    "    vfma.f32 s0, s8, s16",
    "    vfma.f32 s1, s9, s17",
    "    vfma.f32 s0, s10, s18",
    "    vfma.f32 s1, s11, s19",
    "    vfma.f32 s0, s12, s20",
    "    vfma.f32 s1, s13, s21",
    "    vfma.f32 s0, s14, s22",
    "    vfma.f32 s1, s15, s23",
    "    subs r8, r8, #1",
    "    bne 8b",
    "7:",
    "    movs r8, r10",
    "    beq 10f",
    "11:",
    "    vldmia r6!, {{s16}}",
    "    vldmia r0!, {{s8}}",
    "    vfma.f32 s0, s8, s16",
    "    subs r8, r8, #1",
    "    bne 11b",
    "10:",
    "    vadd.f32 s0, s0, s1",
    "    vstmia r3!, {{s0}}",
    "9:",
    "    vpop {{s16-s31}}",
    "    pop {{r4-r10, pc}}",
    ".size vae_core_matvec_f32, . - vae_core_matvec_f32",
);

// Weighted squares in blocks of 8: lanes[j] += sum over blocks of (x - m)^2 * p at position j.
// Eight lane accumulators in s24-s31; per block three VLDM, eight VSUB, eight VMUL, eight
// VFMA and the loop's SUBS/BNE: 29 instructions for 8 values.
core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".fpu fpv4-sp-d16",
    ".section .text.vae_core_wsq8_f32,\"ax\",%progbits",
    ".global vae_core_wsq8_f32",
    ".type vae_core_wsq8_f32,%function",
    ".p2align 2",
    ".thumb_func",
    // r0 = x, r1 = m, r2 = p, r3 = lanes (8 floats, read and written), [sp] = blocks.
    "vae_core_wsq8_f32:",
    "    vpush {{s16-s31}}",
    "    ldr r12, [sp, #64]", // blocks (64 bytes pushed)
    "    vldmia r3, {{s24-s31}}",
    "    cmp r12, #0",
    "    beq 2f",
    "1:",
    "    vldmia r0!, {{s0-s7}}",
    "    vldmia r1!, {{s8-s15}}",
    "    vldmia r2!, {{s16-s23}}",
    "    vsub.f32 s0, s0, s8",
    "    vsub.f32 s1, s1, s9",
    "    vsub.f32 s2, s2, s10",
    "    vsub.f32 s3, s3, s11",
    "    vsub.f32 s4, s4, s12",
    "    vsub.f32 s5, s5, s13",
    "    vsub.f32 s6, s6, s14",
    "    vsub.f32 s7, s7, s15",
    "    vmul.f32 s8, s0, s16",
    "    vmul.f32 s9, s1, s17",
    "    vmul.f32 s10, s2, s18",
    "    vmul.f32 s11, s3, s19",
    "    vmul.f32 s12, s4, s20",
    "    vmul.f32 s13, s5, s21",
    "    vmul.f32 s14, s6, s22",
    "    vmul.f32 s15, s7, s23",
    "    vfma.f32 s24, s8, s0",
    "    vfma.f32 s25, s9, s1",
    "    vfma.f32 s26, s10, s2",
    "    vfma.f32 s27, s11, s3",
    "    vfma.f32 s28, s12, s4",
    "    vfma.f32 s29, s13, s5",
    "    vfma.f32 s30, s14, s6",
    "    vfma.f32 s31, s15, s7",
    "    subs r12, r12, #1",
    "    bne 1b",
    "2:",
    "    vstmia r3, {{s24-s31}}",
    "    vpop {{s16-s31}}",
    "    bx lr",
    ".size vae_core_wsq8_f32, . - vae_core_wsq8_f32",
);

// The square root: x and the result in s0 (AAPCS hard-float).
core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".fpu fpv4-sp-d16",
    ".section .text.vae_core_sqrt_f32,\"ax\",%progbits",
    ".global vae_core_sqrt_f32",
    ".type vae_core_sqrt_f32,%function",
    ".p2align 1",
    ".thumb_func",
    "vae_core_sqrt_f32:",
    "    vsqrt.f32 s0, s0",
    "    bx lr",
    ".size vae_core_sqrt_f32, . - vae_core_sqrt_f32",
);

extern "C" {
    fn vae_core_matvec_f32(
        w: *const f32,
        x: *const f32,
        bias: *const f32,
        out: *mut f32,
        rows: usize,
        cols: usize,
    );
    fn vae_core_sqrt_f32(x: f32) -> f32;
    fn vae_core_wsq8_f32(x: *const f32, m: *const f32, p: *const f32, lanes: *mut f32, blocks: usize);
}

/// `y = W x + b` through the assembly routine (contract of [`super::matvec`]).
#[inline]
pub(super) fn matvec(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let cols = x.len();
    let mut rows = y.len().min(b.len());
    if let Some(fit) = w.len().checked_div(cols) {
        rows = rows.min(fit);
    }
    // SAFETY: the routine reads rows*cols floats from `w`, cols from `x` and rows from `b`,
    // and writes rows floats to `y`; `rows` is clamped above so that each of those ranges
    // lies inside its slice. `y` is a unique borrow, so it aliases none of the inputs. It is
    // an AAPCS function that restores every callee-saved register it touches (r4-r10, lr via
    // pc, s16-s31) and leaves the stack balanced; its f32 loads need 4-byte alignment, which
    // `&[f32]` guarantees.
    unsafe { vae_core_matvec_f32(w.as_ptr(), x.as_ptr(), b.as_ptr(), y.as_mut_ptr(), rows, cols) }
}

/// Weighted squares over whole blocks of 8 through the assembly routine (contract of
/// [`super::weighted_squares8`]).
#[inline]
pub(super) fn weighted_squares8(x: &[f32], m: &[f32], p: &[f32], lanes: &mut [f32; 8]) -> usize {
    let blocks = x.len().min(m.len()).min(p.len()) / 8;
    // SAFETY: the routine reads blocks*8 floats from each of `x`, `m` and `p` (each slice is
    // at least that long by the `min` above) and reads and writes the 8 floats of `lanes`, a
    // unique borrow that aliases none of the inputs. It is an AAPCS function that restores
    // the callee-saved registers it touches (s16-s31) and leaves the stack balanced; its f32
    // loads need 4-byte alignment, which `&[f32]` guarantees.
    unsafe { vae_core_wsq8_f32(x.as_ptr(), m.as_ptr(), p.as_ptr(), lanes.as_mut_ptr(), blocks) }
    blocks * 8
}

/// Square root with the FPU's `VSQRT` (IEEE correctly rounded, so the same bits as
/// `libm::sqrtf` on the host), instead of libm's integer routine.
#[inline]
pub(super) fn sqrt(x: f32) -> f32 {
    // SAFETY: an AAPCS hard-float function taking and returning an f32 in s0; it touches no
    // other register and no memory.
    unsafe { vae_core_sqrt_f32(x) }
}
