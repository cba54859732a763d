//! VLDM + VFMA matrix-vector kernel for Cortex-M4F / M7 (`thumbv7em-none-eabihf`).
//!
//! Two output rows per pass share each 8-element block of `x`: per block, three `VLDM`
//! loads, sixteen `VFMA`s and the loop's `SUBS`/`BNE`, i.e. 21 instructions for 16
//! multiply-accumulates. Each row keeps two accumulators so consecutive VFMAs do not wait on
//! each other. A trailing odd row and a column count that is not a multiple of 8 take the
//! scalar paths. Register use follows the AAPCS: s16-s31 and r4-r8 are saved and restored.
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
    "vae_core_matvec_f32:",
    "    push {{r4-r8, lr}}",
    "    vpush {{s16-s31}}",
    "    ldr r4, [sp, #88]", // rows (24 + 64 bytes pushed)
    "    ldr r5, [sp, #92]", // cols
    "    lsl lr, r5, #2",    // row stride in bytes
    "    movs r12, #0",
    "    vmov s7, r12", // s7 = 0.0
    // ---- two rows at a time ----
    "1:",
    "    cmp r4, #2",
    "    blt 5f",
    "    add r7, r0, lr", // row B
    "    vldr s0, [r2]",
    "    vldr s2, [r2, #4]",
    "    add r2, r2, #8",
    "    vmov.f32 s1, s7",
    "    vmov.f32 s3, s7",
    "    mov r6, r1",
    "    lsrs r8, r5, #3",
    "    beq 3f",
    "2:",
    "    vldmia r6!, {{s16-s23}}",
    "    vldmia r0!, {{s8-s15}}",
    "    vldmia r7!, {{s24-s31}}",
    "    vfma.f32 s0, s8, s16",
    "    vfma.f32 s2, s24, s16",
    "    vfma.f32 s1, s9, s17",
    "    vfma.f32 s3, s25, s17",
    "    vfma.f32 s0, s10, s18",
    "    vfma.f32 s2, s26, s18",
    "    vfma.f32 s1, s11, s19",
    "    vfma.f32 s3, s27, s19",
    "    vfma.f32 s0, s12, s20",
    "    vfma.f32 s2, s28, s20",
    "    vfma.f32 s1, s13, s21",
    "    vfma.f32 s3, s29, s21",
    "    vfma.f32 s0, s14, s22",
    "    vfma.f32 s2, s30, s22",
    "    vfma.f32 s1, s15, s23",
    "    vfma.f32 s3, s31, s23",
    "    subs r8, r8, #1",
    "    bne 2b",
    "3:",
    "    ands r8, r5, #7",
    "    beq 4f",
    "6:",
    "    vldmia r6!, {{s16}}",
    "    vldmia r0!, {{s8}}",
    "    vldmia r7!, {{s24}}",
    "    vfma.f32 s0, s8, s16",
    "    vfma.f32 s2, s24, s16",
    "    subs r8, r8, #1",
    "    bne 6b",
    "4:",
    "    vadd.f32 s0, s0, s1",
    "    vadd.f32 s2, s2, s3",
    "    vstmia r3!, {{s0}}",
    "    vstmia r3!, {{s2}}",
    "    mov r0, r7", // next pair starts after row B
    "    subs r4, r4, #2",
    "    b 1b",
    // ---- the last row when rows is odd ----
    "5:",
    "    cmp r4, #0",
    "    beq 9f",
    "    vldr s0, [r2]",
    "    vmov.f32 s1, s7",
    "    mov r6, r1",
    "    lsrs r8, r5, #3",
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
    "    ands r8, r5, #7",
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
    "    pop {{r4-r8, pc}}",
    ".size vae_core_matvec_f32, . - vae_core_matvec_f32",
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
    // an AAPCS function that restores every callee-saved register it touches (r4-r8, lr via
    // pc, s16-s31) and leaves the stack balanced; its f32 loads need 4-byte alignment, which
    // `&[f32]` guarantees.
    unsafe { vae_core_matvec_f32(w.as_ptr(), x.as_ptr(), b.as_ptr(), y.as_mut_ptr(), rows, cols) }
}
