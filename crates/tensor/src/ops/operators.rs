//! `+ - * /` and unary `-` on tensors, by value or by reference, and with a scalar on
//! either side: `&a * &b + &c`, `2.0 * &x - 1.0`.
//!
//! Each operator forwards to the method of the same name (`add`, `sub`, `mul`, `div`,
//! `add_scalar`, …) and computes the same bits. The tensor–tensor operators are the one
//! place the crate panics on user input: when the shapes do not broadcast, with the
//! method's error message and the method to call for a `Result` instead. Scalar operators
//! and negation never fail.

use crate::{Float, Tensor};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Unwraps a tensor–tensor operator's result, naming the fallible method on failure.
fn or_panic<F: Float>(r: crate::Result<Tensor<F>>, op: &str, method: &str) -> Tensor<F> {
    r.unwrap_or_else(|e| {
        panic!("{e} (the `{op}` operator panics; Tensor::{method} returns the error)")
    })
}

macro_rules! tensor_operator {
    ($trait:ident, $fn:ident, $sym:literal) => {
        /// # Panics
        #[doc = concat!("If the shapes do not broadcast; [`Tensor::", stringify!($fn), "`] returns the error instead.")]
        impl<F: Float> $trait<&Tensor<F>> for &Tensor<F> {
            type Output = Tensor<F>;
            fn $fn(self, rhs: &Tensor<F>) -> Tensor<F> {
                or_panic(Tensor::$fn(self, rhs), $sym, stringify!($fn))
            }
        }
        /// # Panics
        #[doc = concat!("If the shapes do not broadcast; [`Tensor::", stringify!($fn), "`] returns the error instead.")]
        impl<F: Float> $trait<Tensor<F>> for &Tensor<F> {
            type Output = Tensor<F>;
            fn $fn(self, rhs: Tensor<F>) -> Tensor<F> {
                <&Tensor<F> as $trait<&Tensor<F>>>::$fn(self, &rhs)
            }
        }
        /// # Panics
        #[doc = concat!("If the shapes do not broadcast; [`Tensor::", stringify!($fn), "`] returns the error instead.")]
        impl<F: Float> $trait<&Tensor<F>> for Tensor<F> {
            type Output = Tensor<F>;
            fn $fn(self, rhs: &Tensor<F>) -> Tensor<F> {
                <&Tensor<F> as $trait<&Tensor<F>>>::$fn(&self, rhs)
            }
        }
        /// # Panics
        #[doc = concat!("If the shapes do not broadcast; [`Tensor::", stringify!($fn), "`] returns the error instead.")]
        impl<F: Float> $trait<Tensor<F>> for Tensor<F> {
            type Output = Tensor<F>;
            fn $fn(self, rhs: Tensor<F>) -> Tensor<F> {
                <&Tensor<F> as $trait<&Tensor<F>>>::$fn(&self, &rhs)
            }
        }
    };
}
tensor_operator!(Add, add, "+");
tensor_operator!(Sub, sub, "-");
tensor_operator!(Mul, mul, "*");
tensor_operator!(Div, div, "/");

impl<F: Float> Neg for &Tensor<F> {
    type Output = Tensor<F>;
    fn neg(self) -> Tensor<F> {
        Tensor::neg(self)
    }
}

impl<F: Float> Neg for Tensor<F> {
    type Output = Tensor<F>;
    fn neg(self) -> Tensor<F> {
        Tensor::neg(&self)
    }
}

/// `tensor ∘ scalar`: element-wise with the scalar, never fails. `x - c` is `x + (-c)`,
/// which IEEE arithmetic rounds identically.
macro_rules! scalar_right {
    ($trait:ident, $fn:ident, |$t:ident, $c:ident| $body:expr) => {
        impl<F: Float> $trait<F> for &Tensor<F> {
            type Output = Tensor<F>;
            fn $fn(self, $c: F) -> Tensor<F> {
                let $t = self;
                $body
            }
        }
        impl<F: Float> $trait<F> for Tensor<F> {
            type Output = Tensor<F>;
            fn $fn(self, $c: F) -> Tensor<F> {
                let $t = &self;
                $body
            }
        }
    };
}
scalar_right!(Add, add, |t, c| t.add_scalar(c));
scalar_right!(Sub, sub, |t, c| t.add_scalar(-c));
scalar_right!(Mul, mul, |t, c| t.mul_scalar(c));
scalar_right!(Div, div, |t, c| t.div_scalar(c));

/// `scalar ∘ tensor` for `f32` and `f64` (a generic impl on the left is not allowed):
/// element-wise with the scalar, never fails.
macro_rules! scalar_left {
    ($float:ty) => {
        scalar_left!($float, Add, add, |c, t| t.add_scalar(c));
        scalar_left!($float, Sub, sub, |c, t| t.rsub_scalar(c));
        scalar_left!($float, Mul, mul, |c, t| t.mul_scalar(c));
        scalar_left!($float, Div, div, |c, t| t.map(|a| c / a));
    };
    ($float:ty, $trait:ident, $fn:ident, |$c:ident, $t:ident| $body:expr) => {
        impl $trait<&Tensor<$float>> for $float {
            type Output = Tensor<$float>;
            fn $fn(self, $t: &Tensor<$float>) -> Tensor<$float> {
                let $c = self;
                $body
            }
        }
        impl $trait<Tensor<$float>> for $float {
            type Output = Tensor<$float>;
            fn $fn(self, $t: Tensor<$float>) -> Tensor<$float> {
                let $c = self;
                let $t = &$t;
                $body
            }
        }
    };
}
scalar_left!(f32);
scalar_left!(f64);

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn operators_compute_the_methods_bits() {
        let a = Tensor::<f64>::from_vec(vec![0.1, -2.5, 3.0, 7.25], &[2, 2]).unwrap();
        let b = Tensor::<f64>::from_vec(vec![0.3, 1.5], &[2]).unwrap();
        let want = a.mul(&b).unwrap().add(&a).unwrap();
        assert_eq!((&a * &b + &a).to_vec(), want.to_vec());
        assert_eq!((a.clone() * b.clone() + a.clone()).to_vec(), want.to_vec());
        assert_eq!((-&a).to_vec(), a.neg().to_vec());
        let naive: Vec<f64> = a.to_vec().iter().map(|x| 2.0 / x - 1.0).collect();
        assert_eq!((2.0 / &a - 1.0).to_vec(), naive);
        let naive: Vec<f64> = a.to_vec().iter().map(|x| 3.0 - x * 0.5).collect();
        assert_eq!((3.0 - &a * 0.5).to_vec(), naive);
    }

    #[test]
    #[should_panic(
        expected = "mul: shapes [2] and [3] do not broadcast (the `*` operator panics; Tensor::mul returns the error)"
    )]
    fn a_shape_mismatch_panics_naming_the_method() {
        let _ = &Tensor::<f32>::zeros(&[2]) * &Tensor::<f32>::zeros(&[3]);
    }
}
