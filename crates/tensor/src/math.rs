//! Branch-free `f32` transcendental kernels that the compiler vectorizes inside `map`
//! loops. glibc's scalar `tanhf` (through `expm1f`) dominated the tape benchmark; these run
//! 8 lanes at a time and stay within a few ulp of the exact value (the tests
//! below sweep the whole range against `f64`).

/// `eʸ` for `y ∈ [−87, 0]`: Cody–Waite reduction `y = n·ln2 + r`, `|r| ≤ ln2/2`, a degree-7
/// Taylor polynomial for `eʳ` (truncation below 1e-9), and `2ⁿ` built in the exponent bits.
#[inline(always)]
fn exp_nonpositive(y: f32) -> f32 {
    let (p, n) = exp_reduced(y);
    p * pow2(n)
}

/// `eˣ` for `f32`, within 2 ulp over the whole range: the reduction and polynomial of
/// [`exp_nonpositive`], with `2ⁿ` applied as two factors `2^⌊n/2⌋ · 2^⌈n/2⌉` so that results
/// near overflow (`n = 128`) and in the subnormal range (`n` down to −150) come out right.
/// Overflow gives `+∞`, underflow `0`, and NaN propagates.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    // Beyond these every f32 result is 0 or ∞; clamping keeps n small.
    let (p, n) = exp_reduced(x.clamp(-104.0, 89.0));
    let half = n >> 1;
    let e = p * pow2(half) * pow2(n - half);
    if x.is_nan() {
        x
    } else {
        e
    }
}

/// `(eʳ, n)` with `y = n·ln2 + r`, `|r| ≤ ln2/2` (Cody–Waite), `eʳ` by a degree-7 Taylor
/// polynomial; `|y| ≤ 104`.
#[inline(always)]
fn exp_reduced(y: f32) -> (f32, i32) {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75; // ln 2 split so that n·LN2_HI is exact
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Round to nearest by adding 1.5·2²³ (no libm call, so the loop vectorizes); the
    // integer n is then in the low bits of the sum.
    const SHIFT: f32 = 12_582_912.0;
    let shifted = y * LOG2E + SHIFT;
    let n = shifted - SHIFT;
    let r = (y - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    (p, shifted.to_bits() as i32 - SHIFT.to_bits() as i32)
}

/// `2ᵏ` for `k ∈ [−126, 127]`, built in the exponent bits.
#[inline(always)]
fn pow2(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// `tanh x` for `f32`, within 2 ulp: an odd Taylor polynomial below `|x| = 0.3` (where
/// `(1 − e)/(1 + e)` would cancel), `(1 − e)/(1 + e)` with `e = e^(−2|x|)` above, and exactly
/// ±1 beyond `|x| = 9`. NaN propagates.
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let a = x.abs().min(9.0);
    // tanh a = a + a³·(−1/3 + a²·(2/15 + a²·(−17/315 + ...))), the series through a¹⁵.
    let a2 = a * a;
    let mut q = -929_569.0 / 638_512_875.0;
    for c in [
        21_844.0 / 6_081_075.0,
        -1382.0 / 155_925.0,
        62.0 / 2835.0,
        -17.0 / 315.0,
        2.0 / 15.0,
        -1.0 / 3.0,
    ] {
        q = q * a2 + c;
    }
    let series = a + a * a2 * q;
    let e = exp_nonpositive(-2.0 * a);
    let ratio = (1.0 - e) / (1.0 + e);
    let t = if a < 0.3 { series } else { ratio };
    if x.is_nan() {
        x
    } else {
        t.copysign(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between `got` and the correctly rounded `exact`.
    fn ulps(got: f32, exact: f64) -> u32 {
        let want = exact as f32;
        (got.to_bits() as i64 - want.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn tanh_is_within_2_ulp_everywhere() {
        let mut worst = (0, 0.0f32);
        // Every 97th f32 in [0, 10] (about 11 million points), both signs.
        let top = 10.0f32.to_bits();
        for bits in (0..top).step_by(97).chain([top]) {
            for x in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let u = ulps(tanh_f32(x), (x as f64).tanh());
                if u > worst.0 {
                    worst = (u, x);
                }
            }
        }
        assert!(worst.0 <= 2, "{} ulp at x = {:e}", worst.0, worst.1);
    }

    #[test]
    fn exp_is_within_2_ulp_everywhere() {
        let mut worst = (0, 0.0f32);
        // Every 97th f32 with |x| < 104 (about 22 million points), both signs.
        let top = 104.0f32.to_bits();
        for bits in (0..top).step_by(97).chain([top]) {
            for x in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let u = ulps(exp_f32(x), (x as f64).exp());
                if u > worst.0 {
                    worst = (u, x);
                }
            }
        }
        assert!(worst.0 <= 2, "{} ulp at x = {:e}", worst.0, worst.1);
    }

    #[test]
    fn exp_special_values() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-0.0), 1.0);
        assert_eq!(exp_f32(88.8), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-104.0), 0.0);
        assert!(ulps(exp_f32(88.72), (88.72f32 as f64).exp()) <= 2); // 2¹²⁸ needs two factors
        assert!(exp_f32(-100.0) > 0.0); // subnormal, not flushed
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_special_values() {
        assert_eq!(tanh_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh_f32(1e-30), 1e-30);
        assert!(tanh_f32(f32::NAN).is_nan());
    }
}
