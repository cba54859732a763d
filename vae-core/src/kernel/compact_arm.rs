//! Assembly matrix-vector kernels for f16 and int8 weights on Cortex-M4F / M7
//! (`thumbv7em-none-eabihf`, feature `arm-vfma`), used by [`super::matvec_f16`] and
//! [`super::matvec_i8`]. Laid out like the f32 kernel (`kernel/cortex_m.rs`), with four output
//! rows per pass instead of eight (their weights take more registers and instructions): the
//! rows share each block of 8 values of `x` (in s0-s7); a pass with fewer than four rows left
//! gives every lane the same row and stores lane 0 only. Each product is `VMUL` +
//! `VADD` into accumulators that alternate between two rows, so no instruction reads the
//! result of the one before (Cortex-M4 cycle table: VMUL, VADD, VCVT 1 cycle, +1 when the next
//! instruction reads the result; VLDM 1 + N).
//!
//! * f16: per lane and block one `VLDM` of 4 words (8 halves), converted in place, last half
//!   first, with `VCVTT`/`VCVTB.F32.F16` (exact for every finite half; FPSCR.AHP is 0, IEEE
//!   halves), then 8 `VMUL` by `x` and 8 `VADD`: about 4 cycles per multiply-accumulate. The
//!   rows must start on a word (`VLDM` needs 4-byte alignment): the wrapper calls the kernel
//!   on whole matrices of even width from an aligned address, and otherwise row by row on the
//!   aligned even part of each row, adding the one or two other products itself.
//! * int8: four rows per pass, as f16; per lane and block eight
//!   `LDRSB` (any alignment), eight `VMOV` to the FPU, `VCVT.F32.S32`, `VMUL` by `x` and
//!   `VADD`: about 6 cycles per multiply-accumulate; the row's scale multiplies its sum once,
//!   `b + s * sum(q x)`, as [`super::matvec_i8_portable`] computes it.
//!
//! The weights themselves are exact (the host's); each row sums its products in another order
//! than the portable loop's eight lanes, so results differ from the portable loop's in the
//! last bits.
//! Register use follows the AAPCS (r4-r11 and s16-s31 saved and restored).
#![allow(unsafe_code)]

// Both routines in one block, so that the multiply-add macro they share is defined once.
// f16: r0 = w (4-byte aligned), r1 = x, r2 = bias, r3 = out, [sp] = rows (at least 1),
// [sp + 4] = cols (even). Lanes: r0, r4, r5, r6, accumulators s8-s11.
core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".fpu fpv4-sp-d16",
    // Two lanes of one block: 8 halves through \wa into s16-s23 and \wb into s24-s31,
    // converted in place from the last half down (each word is read before it is overwritten).
    ".macro vae_core_mvh8_pair wa, wb, sa, sb",
    "    vldmia \\wa!, {{s16-s19}}",
    "    vcvtt.f32.f16 s23, s19",
    "    vcvtb.f32.f16 s22, s19",
    "    vcvtt.f32.f16 s21, s18",
    "    vcvtb.f32.f16 s20, s18",
    "    vcvtt.f32.f16 s19, s17",
    "    vcvtb.f32.f16 s18, s17",
    "    vcvtt.f32.f16 s17, s16",
    "    vcvtb.f32.f16 s16, s16",
    "    vldmia \\wb!, {{s24-s27}}",
    "    vcvtt.f32.f16 s31, s27",
    "    vcvtb.f32.f16 s30, s27",
    "    vcvtt.f32.f16 s29, s26",
    "    vcvtb.f32.f16 s28, s26",
    "    vcvtt.f32.f16 s27, s25",
    "    vcvtb.f32.f16 s26, s25",
    "    vcvtt.f32.f16 s25, s24",
    "    vcvtb.f32.f16 s24, s24",
    ".endm",
    // The sixteen products of s16-s31 by x (s0-s7) and their sums into \sa and \sb.
    ".macro vae_core_mv8_muladd sa, sb",
    "    vmul.f32 s16, s16, s0",
    "    vmul.f32 s17, s17, s1",
    "    vmul.f32 s18, s18, s2",
    "    vmul.f32 s19, s19, s3",
    "    vmul.f32 s20, s20, s4",
    "    vmul.f32 s21, s21, s5",
    "    vmul.f32 s22, s22, s6",
    "    vmul.f32 s23, s23, s7",
    "    vmul.f32 s24, s24, s0",
    "    vmul.f32 s25, s25, s1",
    "    vmul.f32 s26, s26, s2",
    "    vmul.f32 s27, s27, s3",
    "    vmul.f32 s28, s28, s4",
    "    vmul.f32 s29, s29, s5",
    "    vmul.f32 s30, s30, s6",
    "    vmul.f32 s31, s31, s7",
    "    vadd.f32 \\sa, \\sa, s16",
    "    vadd.f32 \\sb, \\sb, s24",
    "    vadd.f32 \\sa, \\sa, s17",
    "    vadd.f32 \\sb, \\sb, s25",
    "    vadd.f32 \\sa, \\sa, s18",
    "    vadd.f32 \\sb, \\sb, s26",
    "    vadd.f32 \\sa, \\sa, s19",
    "    vadd.f32 \\sb, \\sb, s27",
    "    vadd.f32 \\sa, \\sa, s20",
    "    vadd.f32 \\sb, \\sb, s28",
    "    vadd.f32 \\sa, \\sa, s21",
    "    vadd.f32 \\sb, \\sb, s29",
    "    vadd.f32 \\sa, \\sa, s22",
    "    vadd.f32 \\sb, \\sb, s30",
    "    vadd.f32 \\sa, \\sa, s23",
    "    vadd.f32 \\sb, \\sb, s31",
    ".endm",
    ".section .text.vae_core_matvec4_f16,\"ax\",%progbits",
    ".global vae_core_matvec4_f16",
    ".type vae_core_matvec4_f16,%function",
    ".p2align 2",
    ".thumb_func",
    "vae_core_matvec4_f16:",
    "    push {{r4-r8, lr}}",
    "    vpush {{s16-s31}}",
    "    mov r8, r1",             // x
    "    ldrd r7, r1, [sp, #88]", // rows left, cols (24 + 64 bytes pushed)
    "    lsls r1, r1, #1",        // row stride in bytes
    "1:",
    "    cmp r7, #4",
    "    ite hs",
    "    vldmiahs r2!, {{s8-s11}}",
    "    vldmialo r2!, {{s8}}",
    "    ite hs",
    "    movhs r6, r1", // lane step: a row, or 0 (one row in all four lanes)
    "    movlo r6, #0",
    "    adds r4, r0, r6",
    "    adds r5, r4, r6",
    "    adds r6, r5, r6",
    "    mov r12, r8",
    "    lsrs.w lr, r1, #4", // whole blocks of 8 halves
    "    beq 3f",
    "2:",
    "    vldmia r12!, {{s0-s7}}",
    "    vae_core_mvh8_pair r0, r4",
    "    vae_core_mv8_muladd s8, s9",
    "    vae_core_mvh8_pair r5, r6",
    "    vae_core_mv8_muladd s10, s11",
    "    subs.w lr, lr, #1",
    "    bne 2b",
    "3:",
    "    ands lr, r1, #12", // bytes after the blocks: two columns per word
    "    beq 5f",
    "4:",
    "    vldmia r12!, {{s0-s1}}",
    "    vldmia r0!, {{s16}}",
    "    vldmia r4!, {{s17}}",
    "    vldmia r5!, {{s18}}",
    "    vldmia r6!, {{s19}}",
    "    vcvtb.f32.f16 s20, s16",
    "    vcvtb.f32.f16 s21, s17",
    "    vcvtb.f32.f16 s22, s18",
    "    vcvtb.f32.f16 s23, s19",
    "    vcvtt.f32.f16 s16, s16",
    "    vcvtt.f32.f16 s17, s17",
    "    vcvtt.f32.f16 s18, s18",
    "    vcvtt.f32.f16 s19, s19",
    "    vmla.f32 s8, s20, s0",
    "    vmla.f32 s9, s21, s0",
    "    vmla.f32 s10, s22, s0",
    "    vmla.f32 s11, s23, s0",
    "    vmla.f32 s8, s16, s1",
    "    vmla.f32 s9, s17, s1",
    "    vmla.f32 s10, s18, s1",
    "    vmla.f32 s11, s19, s1",
    "    subs.w lr, lr, #4",
    "    bne 4b",
    "5:",
    "    cmp r7, #4",
    "    ite hs",
    "    vstmiahs r3!, {{s8-s11}}",
    "    vstmialo r3!, {{s8}}",
    "    it hs",
    "    subhs r7, #3",
    "    mov r0, r6", // the next row: where the last lane stopped
    "    subs r7, #1",
    "    bne 1b",
    "    vpop {{s16-s31}}",
    "    pop {{r4-r8, pc}}",
    ".size vae_core_matvec4_f16, . - vae_core_matvec4_f16",
    ".purgem vae_core_mvh8_pair",
    // int8: r0 = w (any alignment), r1 = x, r2 = bias, r3 = out, [sp] = rows (at least 1),
    // [sp + 4] = cols, [sp + 8] = scales (one per row). Four rows per pass: lanes r0, r4, r5,
    // r6, sums of q x in s8-s11 (from 0), scales s12-s15; after the blocks the biases are
    // loaded into s16-s19 and each row's result is bias + s * sum. Fewer than four rows left:
    // one row per pass in all four lanes (step 0), only lane 0 stored. The pass's pointers
    // and counts live in a frame on the stack so that r1-r3 and r7-r11 are free for the bytes
    // of a block. Frame: [sp] x, [sp + 4] bias, [sp + 8] out, [sp + 12] rows left, [sp + 16]
    // cols, [sp + 20] scales.
    // Eight weights of one lane through \w into \d0-\d7 as f32 integers.
    ".macro vae_core_i8x8 w, d0, d1, d2, d3, d4, d5, d6, d7",
    "    ldrsb r1, [\\w, #0]",
    "    ldrsb r2, [\\w, #1]",
    "    ldrsb r3, [\\w, #2]",
    "    ldrsb r7, [\\w, #3]",
    "    ldrsb r8, [\\w, #4]",
    "    ldrsb r9, [\\w, #5]",
    "    ldrsb r10, [\\w, #6]",
    "    ldrsb r11, [\\w, #7]",
    "    adds \\w, #8",
    "    vmov \\d0, r1",
    "    vmov \\d1, r2",
    "    vmov \\d2, r3",
    "    vmov \\d3, r7",
    "    vmov \\d4, r8",
    "    vmov \\d5, r9",
    "    vmov \\d6, r10",
    "    vmov \\d7, r11",
    ".endm",
    // Two lanes of one block: weights through \wa and \wb, sums of q x into \sa and \sb.
    ".macro vae_core_mvb8_pair wa, wb, sa, sb",
    "    vae_core_i8x8 \\wa, s16, s17, s18, s19, s20, s21, s22, s23",
    "    vae_core_i8x8 \\wb, s24, s25, s26, s27, s28, s29, s30, s31",
    "    vcvt.f32.s32 s16, s16",
    "    vcvt.f32.s32 s17, s17",
    "    vcvt.f32.s32 s18, s18",
    "    vcvt.f32.s32 s19, s19",
    "    vcvt.f32.s32 s20, s20",
    "    vcvt.f32.s32 s21, s21",
    "    vcvt.f32.s32 s22, s22",
    "    vcvt.f32.s32 s23, s23",
    "    vcvt.f32.s32 s24, s24",
    "    vcvt.f32.s32 s25, s25",
    "    vcvt.f32.s32 s26, s26",
    "    vcvt.f32.s32 s27, s27",
    "    vcvt.f32.s32 s28, s28",
    "    vcvt.f32.s32 s29, s29",
    "    vcvt.f32.s32 s30, s30",
    "    vcvt.f32.s32 s31, s31",
    "    vae_core_mv8_muladd \\sa, \\sb",
    ".endm",
    ".section .text.vae_core_matvec4_i8,\"ax\",%progbits",
    ".global vae_core_matvec4_i8",
    ".type vae_core_matvec4_i8,%function",
    ".p2align 2",
    ".thumb_func",
    "vae_core_matvec4_i8:",
    "    push {{r4-r11, lr}}",
    "    vpush {{s16-s31}}",
    "    sub sp, #28",
    "    ldr r4, [sp, #128]", // rows (36 + 64 + 28 bytes below the arguments)
    "    ldr r5, [sp, #132]", // cols
    "    ldr r6, [sp, #136]", // scales
    "    stmia sp, {{r1-r6}}",
    "1:",
    "    ldmia sp, {{r1, r2, r3, r7, r8, r9}}", // x, bias, out, rows left, cols, scales
    "    cmp r7, #4",
    "    ite hs",
    "    vldmiahs r9!, {{s12-s15}}",
    "    vldmialo r9!, {{s12}}",
    "    str r9, [sp, #20]",
    "    ite hs",
    "    movhs r6, r8", // lane step: a row, or 0 (one row in all four lanes)
    "    movlo r6, #0",
    "    adds r4, r0, r6",
    "    adds r5, r4, r6",
    "    adds r6, r5, r6",
    "    mov r12, r1",
    "    movs r1, #0", // the sums of q x start at 0
    "    vmov s8, s9, r1, r1",
    "    vmov s10, s11, r1, r1",
    "    lsrs.w lr, r8, #3", // whole blocks of 8
    "    beq 3f",
    "2:",
    "    vldmia r12!, {{s0-s7}}",
    "    vae_core_mvb8_pair r0, r4, s8, s9",
    "    vae_core_mvb8_pair r5, r6, s10, s11",
    "    subs.w lr, lr, #1",
    "    bne 2b",
    "3:",
    "    ldr r8, [sp, #16]",
    "    ands lr, r8, #7", // columns after the blocks
    "    beq 5f",
    "4:",
    "    vldmia r12!, {{s0}}",
    "    ldrsb r1, [r0], #1",
    "    ldrsb r2, [r4], #1",
    "    ldrsb r3, [r5], #1",
    "    ldrsb r7, [r6], #1",
    "    vmov s16, r1",
    "    vmov s17, r2",
    "    vmov s18, r3",
    "    vmov s19, r7",
    "    vcvt.f32.s32 s16, s16",
    "    vcvt.f32.s32 s17, s17",
    "    vcvt.f32.s32 s18, s18",
    "    vcvt.f32.s32 s19, s19",
    "    vmla.f32 s8, s16, s0",
    "    vmla.f32 s9, s17, s0",
    "    vmla.f32 s10, s18, s0",
    "    vmla.f32 s11, s19, s0",
    "    subs.w lr, lr, #1",
    "    bne 4b",
    "5:",
    "    ldr r2, [sp, #4]",      // bias
    "    ldrd r3, r7, [sp, #8]", // out, rows left
    "    cmp r7, #4",
    "    ite hs",
    "    vldmiahs r2!, {{s16-s19}}",
    "    vldmialo r2!, {{s16}}",
    "    str r2, [sp, #4]",
    "    vmla.f32 s16, s12, s8", // bias + s * sum: one product by the scale per row
    "    vmla.f32 s17, s13, s9",
    "    vmla.f32 s18, s14, s10",
    "    vmla.f32 s19, s15, s11",
    "    ite hs",
    "    vstmiahs r3!, {{s16-s19}}",
    "    vstmialo r3!, {{s16}}",
    "    it hs",
    "    subhs r7, #3",
    "    mov r0, r6", // the next row: where the last lane stopped
    "    subs r7, #1",
    "    strd r3, r7, [sp, #8]",
    "    bne 1b",
    "    add sp, #28",
    "    vpop {{s16-s31}}",
    "    pop {{r4-r11, pc}}",
    ".size vae_core_matvec4_i8, . - vae_core_matvec4_i8",
    ".purgem vae_core_mvb8_pair",
    ".purgem vae_core_i8x8",
    ".purgem vae_core_mv8_muladd",
);

extern "C" {
    fn vae_core_matvec4_f16(
        w: *const u16,
        x: *const f32,
        bias: *const f32,
        out: *mut f32,
        rows: usize,
        cols: usize,
    );
    fn vae_core_matvec4_i8(
        w: *const i8,
        x: *const f32,
        bias: *const f32,
        out: *mut f32,
        rows: usize,
        cols: usize,
        scale: *const f32,
    );
}

/// The rows of `w` (`cols` each) that fit in `w`, `b` and `y`.
#[inline]
fn rows_that_fit(w: usize, cols: usize, b: usize, y: usize) -> usize {
    let rows = y.min(b);
    match w.checked_div(cols) {
        Some(fit) => rows.min(fit),
        None => rows,
    }
}

/// `y = W x + b` of f16 weights (contract of [`super::matvec_f16`]).
pub(super) fn matvec_f16(w: &[u16], x: &[f32], b: &[f32], y: &mut [f32]) {
    let cols = x.len();
    let rows = rows_that_fit(w.len(), cols, b.len(), y.len());
    if rows == 0 {
        return;
    }
    if cols.is_multiple_of(2) && w.as_ptr().align_offset(4) == 0 {
        // SAFETY: the routine reads rows*cols halves from `w`, cols floats from `x` and rows
        // from `b`, and writes rows floats to `y` (passes with fewer than four rows left load
        // and store one row's bias and result, and read that row's weights through all four
        // lanes); `rows` is clamped so that each range lies inside its slice, and is at least
        // 1 (cols may be 0). Its `VLDM`s of weights need every row on a 4-byte boundary: `w`
        // is, and the rows are an even number of halves long. `y` is a unique borrow, so it
        // aliases none of the inputs. It is an AAPCS function that restores every callee-saved
        // register it touches (r4-r8, lr via pc, s16-s31) and leaves the stack balanced.
        unsafe { vae_core_matvec4_f16(w.as_ptr(), x.as_ptr(), b.as_ptr(), y.as_mut_ptr(), rows, cols) }
        return;
    }
    // Odd widths (or a matrix not on a word): each row's aligned part of even length through
    // the routine, the one or two columns outside it here.
    for (o, (out, bias)) in y.iter_mut().zip(b).take(rows).enumerate() {
        let row = &w[o * cols..(o + 1) * cols];
        let start = row.as_ptr().align_offset(4).min(cols);
        let len = (cols - start) & !1;
        let mut acc = *bias;
        if len > 0 {
            let mut part = 0.0f32;
            // SAFETY: as above, for one row of `len` columns: `row[start..start + len]` and
            // `x[start..start + len]` lie inside their slices, `row[start..]` starts on a
            // 4-byte boundary (`align_offset`), `len` is even, and `part` and `bias` are one
            // float each.
            unsafe {
                vae_core_matvec4_f16(row.as_ptr().add(start), x.as_ptr().add(start), bias, &mut part, 1, len)
            }
            acc = part;
        }
        for c in (0..start).chain(start + len..cols) {
            acc += super::half(row[c]) * x[c];
        }
        *out = acc;
    }
}

/// `y = W x + b` of int8 weights scaled per row (contract of [`super::matvec_i8`]).
pub(super) fn matvec_i8(w: &[i8], scale: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let cols = x.len();
    let rows = rows_that_fit(w.len(), cols, b.len(), y.len()).min(scale.len());
    if rows > 0 {
        // SAFETY: the routine reads rows*cols bytes from `w` (byte loads, any alignment),
        // cols floats from `x`, rows from `b` and from `scale`, and writes rows floats to `y`
        // (a pass with fewer than four rows left loads one bias and scale, stores one result,
        // and reads that row's weights through all four lanes); `rows` is clamped so that each
        // range lies inside its slice, and is at least 1 (cols may be 0). `y` is a unique
        // borrow, so it aliases none of the inputs. It is an AAPCS function that restores
        // every callee-saved register it touches (r4-r11, lr via pc, s16-s31) and leaves the
        // stack balanced (its 28-byte frame included); its f32 loads need 4-byte alignment,
        // which `&[f32]` guarantees.
        unsafe {
            vae_core_matvec4_i8(
                w.as_ptr(),
                x.as_ptr(),
                b.as_ptr(),
                y.as_mut_ptr(),
                rows,
                cols,
                scale.as_ptr(),
            )
        }
    }
}
