//! Assembly kernels for Cortex-M4F / M7 (`thumbv7em-none-eabihf`): the matrix-vector
//! product, the weighted squares of the likelihood, the tanh/sigmoid activation loop and the
//! square root.
//!
//! Instructions are chosen by the Cortex-M4 TRM's cycle table, not by count: `VFMA`/`VMLA`
//! take 3 cycles, `VMUL` and `VADD` 1 each, so a multiply-accumulate as `VMUL` + `VADD` costs
//! 2 where nothing waits (an FPU result read by the very next instruction costs 1 more);
//! `VLDM` costs 1 + N; a taken branch refills the pipeline (+2).
//!
//! These kernels are also sized for flash (the 64-32-8 nRF52840 image has a 32,000-byte
//! budget): each one is a single routine with as little unrolled code as its cycle gain pays
//! for.
//!
//! * Matrix-vector product: one routine for every shape. Eight output rows per pass share
//!   each 8-element block of `x`. Per block one `VLDM` of `x` (9 cycles), eight weight
//!   `VLDM`s (72), 64 `VMUL`s into the weight registers and 64 `VADD`s, each two
//!   instructions after the product it adds (128), and the loop's `SUBS`, exit test and
//!   computed branch (6): 215 cycles for 64 multiply-accumulates, 3.4 per MAC (four rows and
//!   blocks of 4 columns took 3.9, four rows and blocks of 8 3.6, the former two-row `VFMA`
//!   loop 4.9). Four to seven rows left over go in one pass of four lanes, fewer one per
//!   pass through lane 0's code only (5.3 per MAC). Columns after the last whole block go
//!   one at a time with `VMLA`. Each row sums its products in a different order than the
//!   portable loop's eight lanes, so results differ from the host's in the last bits (within
//!   the parity tests' bounds).
//! * tanh/sigmoid: the same operations in the same order as the portable loop (so the same
//!   bits), one value per pass, software-pipelined (the end of one value's Horner chain
//!   interleaved with the load and clamp of the next) so nothing waits; about 60 cycles per
//!   value against 79 for the compiled loop (which uses 3-cycle `VMLA`s and stalls on every
//!   step of its Horner chains) and 53 for a two-value loop 128 bytes longer.
//!
//! Register use follows the AAPCS: the callee-saved registers each routine touches (s16-s31,
//! r4-r11) are saved and restored.
#![allow(unsafe_code)]

// y = W x + b for any shape: r0 = w, r1 = x, r2 = bias, r3 = out, [sp] = rows (at least 1),
// [sp + 4] = cols. Rows go in passes of eight lanes: lane k is read through its own pointer
// (r0, r4-r10) and accumulates in s(8+k), from its bias. While 8 or more rows are left a pass
// takes the next eight rows (one VLDM of bias, one VSTM of results); with 4 to 7 left, four
// rows in lanes 0, 5, 6, 7; after that one row per pass in lane 0. A pass runs only the code
// of its lanes in the blocks (the loop is rotated, lanes 1 to 7 then 0, and entered at lane
// 1, 5 or 0; r11 holds where); the lanes it does not use point into its first row, for the
// column tail, where they compute copies that are never stored. Every lane performs the same
// operations in the same order, so a row gives the same bits in any lane.
//
// Per block of 8 columns x is in s0-s7; each lane loads its 8 weights (VLDM into s16-s23 or
// s24-s31, alternately), multiplies them in place (VMUL) and adds the products to its sum
// (VADD), each VADD two instructions after the VMUL it reads and the lane's last VADD after
// the next lane's VLDM (lane 0's after the loop's SUBS), so no instruction reads the result
// of the one before. Entering at lane 5 or 0 adds junk to lane 4's or 7's sum, which that
// pass does not use. The columns after the last whole block (cols mod 8) go one at a time
// with VMLA, in all eight lanes. Rows left and x are kept on the stack (r11 and lr are the
// entry and the block count).
core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".fpu fpv4-sp-d16",
    // One lane of a block: weights through \\w into \\b0-\\b7, sum in \\acc; \\pacc += \\plast
    // finishes the lane before, after this lane's VLDM. The lane's own last VADD
    // (\\acc += \\b7) is left to the code that follows.
    ".macro vae_core_mv8_lane w, acc, b0, b1, b2, b3, b4, b5, b6, b7, pacc, plast",
    "    vldmia \\w!, {{\\b0-\\b7}}",
    "    .ifnb \\pacc",
    "    vadd.f32 \\pacc, \\pacc, \\plast",
    "    .endif",
    "    vmul.f32 \\b0, \\b0, s0",
    "    vmul.f32 \\b1, \\b1, s1",
    "    vadd.f32 \\acc, \\acc, \\b0",
    "    vmul.f32 \\b2, \\b2, s2",
    "    vadd.f32 \\acc, \\acc, \\b1",
    "    vmul.f32 \\b3, \\b3, s3",
    "    vadd.f32 \\acc, \\acc, \\b2",
    "    vmul.f32 \\b4, \\b4, s4",
    "    vadd.f32 \\acc, \\acc, \\b3",
    "    vmul.f32 \\b5, \\b5, s5",
    "    vadd.f32 \\acc, \\acc, \\b4",
    "    vmul.f32 \\b6, \\b6, s6",
    "    vadd.f32 \\acc, \\acc, \\b5",
    "    vmul.f32 \\b7, \\b7, s7",
    "    vadd.f32 \\acc, \\acc, \\b6",
    ".endm",
    ".section .text.vae_core_matvec8_f32,\"ax\",%progbits",
    ".global vae_core_matvec8_f32",
    ".type vae_core_matvec8_f32,%function",
    ".p2align 2",
    ".thumb_func",
    "vae_core_matvec8_f32:",
    "    push {{r4-r11, lr}}",
    "    vpush {{s16-s31}}",
    "    sub sp, #8",
    "    ldrd r11, r12, [sp, #108]", // rows, cols (36 + 64 + 8 bytes below them)
    "    strd r1, r11, [sp]",        // x, rows left
    "    lsls r1, r12, #2",          // row stride in bytes
    "1:",
    "    ldr r12, [sp, #4]",
    "    cmp r12, #4",
    "    bhs 2f",
    "    vldmia r2!, {{s8}}", // one row: lane 0, every lane pointer at the row
    "    adr.w r11, 20f",
    "    movs r12, #0",
    "    mov lr, r12",
    "    b 3f",
    "2:",
    "    cmp r12, #8",
    "    bhs 4f",
    "    vldmia r2!, {{s8}}", // four rows: lanes 0, 5, 6, 7
    "    vldmia r2!, {{s13-s15}}",
    "    adr.w r11, 25f",
    "    movs r12, #0",
    "    mov lr, r1",
    "    b 3f",
    "4:",
    "    vldmia r2!, {{s8-s15}}", // eight rows
    "    adr.w r11, 21f",
    "    mov r12, r1",
    "    mov lr, r1",
    "3:",
    "    adds r4, r0, r12",
    "    adds r5, r4, r12",
    "    adds r6, r5, r12",
    "    adds r7, r6, r12",
    "    adds r8, r7, lr",
    "    adds r9, r8, lr",
    "    adds r10, r9, lr",
    "    ldr r12, [sp]",
    "    lsrs.w lr, r1, #5", // whole blocks
    "    beq 5f",
    "    vldmia r12!, {{s0-s7}}",
    "    mov pc, r11",
    "21:",
    "    vae_core_mv8_lane r4, s9, s16, s17, s18, s19, s20, s21, s22, s23",
    "    vae_core_mv8_lane r5, s10, s24, s25, s26, s27, s28, s29, s30, s31, s9, s23",
    "    vae_core_mv8_lane r6, s11, s16, s17, s18, s19, s20, s21, s22, s23, s10, s31",
    "    vae_core_mv8_lane r7, s12, s24, s25, s26, s27, s28, s29, s30, s31, s11, s23",
    "25:",
    "    vae_core_mv8_lane r8, s13, s16, s17, s18, s19, s20, s21, s22, s23, s12, s31",
    "    vae_core_mv8_lane r9, s14, s24, s25, s26, s27, s28, s29, s30, s31, s13, s23",
    "    vae_core_mv8_lane r10, s15, s16, s17, s18, s19, s20, s21, s22, s23, s14, s31",
    "20:",
    "    vae_core_mv8_lane r0, s8, s24, s25, s26, s27, s28, s29, s30, s31, s15, s23",
    "    subs.w lr, lr, #1",
    "    vadd.f32 s8, s8, s31",
    "    beq 5f",
    "    vldmia r12!, {{s0-s7}}",
    "    mov pc, r11",
    "5:",
    "    ands lr, r1, #28", // columns after the blocks, times 4
    "    bne 9f",
    "6:",
    "    ldr r12, [sp, #4]",
    "    cmp r12, #4",
    "    blo 7f",
    "    mov r0, r10", // the next row: where the last lane stopped
    "    cmp r12, #8",
    "    itee hs",
    "    vstmiahs r3!, {{s8-s15}}",
    "    vstmialo r3!, {{s8}}",
    "    vstmialo r3!, {{s13-s15}}",
    "    ite hs",
    "    subhs r12, #8",
    "    sublo r12, #4",
    "    b 8f",
    "7:",
    "    vstmia r3!, {{s8}}",
    "    subs r12, #1",
    "8:",
    "    str r12, [sp, #4]",
    "    cmp r12, #0",
    "    bne 1b",
    "    add sp, #8",
    "    vpop {{s16-s31}}",
    "    pop {{r4-r11, pc}}",
    // The column tail, out of line so that the common case (none) branches nowhere.
    "9:",
    "    vldmia r12!, {{s0}}",
    "    vldmia r0!, {{s16}}",
    "    vldmia r4!, {{s17}}",
    "    vldmia r5!, {{s18}}",
    "    vldmia r6!, {{s19}}",
    "    vldmia r7!, {{s20}}",
    "    vldmia r8!, {{s21}}",
    "    vldmia r9!, {{s22}}",
    "    vldmia r10!, {{s23}}",
    "    vmla.f32 s8, s16, s0",
    "    vmla.f32 s9, s17, s0",
    "    vmla.f32 s10, s18, s0",
    "    vmla.f32 s11, s19, s0",
    "    vmla.f32 s12, s20, s0",
    "    vmla.f32 s13, s21, s0",
    "    vmla.f32 s14, s22, s0",
    "    vmla.f32 s15, s23, s0",
    "    subs.w lr, lr, #4",
    "    bne 9b",
    "    b 6b",
    ".size vae_core_matvec8_f32, . - vae_core_matvec8_f32",
    ".purgem vae_core_mv8_lane",
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

// `b + a tanh(a x)` of every value in place (contract of [`super::tanh_all`]): the same
// operations, in the same order, as the portable loop (VMUL and VADD round as `*` and `+`
// do; VDIV is IEEE division), so the same bits. r0 = xs, r1 = len, s0 = a, s1 = b.
// Software-pipelined, one value per pass: a pass runs the Horner chains of value i (q and the
// first steps of p interleaved), then the rest of value i's chain interleaved with the load,
// scaling and clamp of value i+1, so no instruction reads the result of the one before. The
// first pass enters halfway (label 7) with no value i: its chain computes from the registers'
// old contents and stores that to xs[0] after loading xs[0], and the next pass overwrites it.
// The load pointer r0 stops at the last value (r2), so the last pass loads that value again
// (and drops what it computes from it); r3 is the store pointer. len + 1 passes in all.
core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".fpu fpv4-sp-d16",
    ".section .text.vae_core_tanh_all_f32,\"ax\",%progbits",
    ".global vae_core_tanh_all_f32",
    ".type vae_core_tanh_all_f32,%function",
    ".p2align 2",
    ".thumb_func",
    "vae_core_tanh_all_f32:",
    "    cbnz r1, 0f",
    "    bx lr",
    "0:",
    "    vpush {{s16-s28}}",
    "    adr r2, 8f",
    "    vldmia r2, {{s16-s28}}", // A13 A11 A9 A7 A5 A3 A1 B6 B4 B2 B0 -C C
    "    add.w r2, r0, r1, lsl #2",
    "    subs r2, #4", // the last value
    "    mov r3, r0",
    "    b 7f",
    "1:",
    "    vmul.f32 s4, s2, s2", // x2 (t clamped in s2)
    "    mov r3, r0",
    "    vmul.f32 s6, s4, s16", // p = x2 A13 + A11, q = x2 B6 + B4
    "    vmul.f32 s8, s4, s23",
    "    vadd.f32 s6, s6, s17",
    "    vadd.f32 s8, s8, s24",
    "    vmul.f32 s6, s4, s6", // p = x2 p + A9, q = x2 q + B2
    "    vmul.f32 s8, s4, s8",
    "    vadd.f32 s6, s6, s18",
    "    vadd.f32 s8, s8, s25",
    "    vmul.f32 s6, s4, s6", // p = x2 p + A7, q = x2 q + B0
    "    vmul.f32 s8, s4, s8",
    "    vadd.f32 s6, s6, s19",
    "    vadd.f32 s8, s8, s26",
    "    vmul.f32 s6, s4, s6", // p = x2 p + A5
    "    cmp r0, r2",
    "    vadd.f32 s6, s6, s20",
    "    it lo",
    "    addlo r0, #4",
    "7:",
    "    vmul.f32 s6, s4, s6", // p = x2 p + A3
    "    vldr s3, [r0]",       // next x
    "    vadd.f32 s6, s6, s21",
    "    vmul.f32 s3, s3, s0", // next t = a x
    "    vmul.f32 s6, s4, s6", // p = x2 p + A1
    // clamp(t, -C, C) as f32::clamp: NaN compares false both times and stays.
    "    vcmp.f32 s3, s27",
    "    vadd.f32 s6, s6, s22",
    "    vmrs APSR_nzcv, fpscr",
    "    vmul.f32 s6, s6, s2", // p t
    "    it mi",
    "    vmovmi.f32 s3, s27",
    "    vdiv.f32 s6, s6, s8", // p / q
    "    vcmp.f32 s3, s28",
    "    vmul.f32 s6, s0, s6", // b + a tanh
    "    vmrs APSR_nzcv, fpscr",
    "    vadd.f32 s6, s1, s6",
    "    it gt",
    "    vmovgt.f32 s3, s28",
    "    subs r1, r1, #1",
    "    vstr s6, [r3]",
    "    vmov.f32 s2, s3",
    "    bhs 1b",
    "    vpop {{s16-s28}}",
    "    bx lr",
    ".p2align 2",
    "8:",
    // The constants of `math::tanh` as f32 bits (the self-test compares the results bit for bit).
    "    .word 0xa59f25c1, 0x2a61337e, 0xaebd37ff, 0x335c0040, 0x3779434b, 0x3a270ded, 0x3ba059dc",
    "    .word 0x35a0d3d8, 0x38f895d6, 0x3b14aa05, 0x3ba059dd, 0xc0fcf84f, 0x40fcf84f",
    ".size vae_core_tanh_all_f32, . - vae_core_tanh_all_f32",
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
    fn vae_core_matvec8_f32(
        w: *const f32,
        x: *const f32,
        bias: *const f32,
        out: *mut f32,
        rows: usize,
        cols: usize,
    );
    fn vae_core_sqrt_f32(x: f32) -> f32;
    fn vae_core_tanh_all_f32(xs: *mut f32, len: usize, a: f32, b: f32);
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
    if rows > 0 {
        // SAFETY: the routine reads rows*cols floats from `w`, cols from `x` and rows from
        // `b`, and writes rows floats to `y` (a pass with 4 to 7 rows left loads, reads and
        // stores four rows, one with fewer one row, and the lanes a pass does not use read
        // that pass's first row); `rows` is clamped above so that each of those ranges lies
        // inside its slice. It needs rows >= 1, checked here (cols may be 0). `y` is a unique
        // borrow, so it aliases none of the inputs. It is an AAPCS function that restores
        // every callee-saved register it touches (r4-r11, lr via pc, s16-s31) and leaves the
        // stack balanced (its 8-byte frame included); its f32 loads need 4-byte alignment,
        // which `&[f32]` guarantees.
        unsafe { vae_core_matvec8_f32(w.as_ptr(), x.as_ptr(), b.as_ptr(), y.as_mut_ptr(), rows, cols) }
    }
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

/// `b + a tanh(a x)` of every value in place through the assembly routine (contract of
/// [`super::tanh_all`]).
#[inline]
pub(super) fn tanh_all(xs: &mut [f32], a: f32, b: f32) {
    // SAFETY: the routine reads and writes the `xs.len()` floats of `xs` (a unique borrow)
    // and no other memory but its own constant table. It is an AAPCS hard-float function
    // (a, b in s0, s1) that restores the callee-saved registers it touches (s16-s28) and
    // leaves the stack balanced; its f32 loads need 4-byte alignment, which `&mut [f32]`
    // guarantees.
    unsafe { vae_core_tanh_all_f32(xs.as_mut_ptr(), xs.len(), a, b) }
}
