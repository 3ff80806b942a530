//! `+ - * /` and unary `-` on variables, with a `Var` or a `&Var` on either side and with a
//! scalar on either side: `&a * &b + &c`, `2.0 * x - 1.0`.
//!
//! Each operator records the op of the same name (`add`, `mul`, `add_scalar`, `neg`, …), so
//! the graph, the values and the gradients are those of the methods. The methods return a
//! `Result`; the operators panic instead, naming the method to call for the error. Use them
//! where the shapes are known to fit (the usual case inside a model), the methods at the
//! boundary where input arrives.

use crate::error::Result;
use crate::tape::Var;
use descent_tensor::{Float, Tensor};
use std::borrow::Borrow;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Unwraps an operator's result, naming the fallible method on failure.
fn or_panic<'t, F: Float>(r: Result<Var<'t, F>>, op: &str, method: &str) -> Var<'t, F> {
    r.unwrap_or_else(|e| {
        panic!("{e} (the `{op}` operator panics; Var::{method} returns the error)")
    })
}

/// The handle, from a `Var` or a `&Var` (both are `Borrow<Var>`).
fn owned<'t, F: Float>(v: &impl Borrow<Var<'t, F>>) -> Var<'t, F> {
    *v.borrow()
}

macro_rules! var_operator {
    ($trait:ident, $fn:ident, $sym:literal) => {
        var_operator!(@one $trait, $fn, $sym, Var<'t, F>, Var<'t, F>, |a, b| (a, b));
        var_operator!(@one $trait, $fn, $sym, &Var<'t, F>, Var<'t, F>, |a, b| (*a, b));
        var_operator!(@one $trait, $fn, $sym, Var<'t, F>, &Var<'t, F>, |a, b| (a, *b));
        var_operator!(@one $trait, $fn, $sym, &Var<'t, F>, &Var<'t, F>, |a, b| (*a, *b));
    };
    (@one $trait:ident, $fn:ident, $sym:literal, $lhs:ty, $rhs:ty, |$a:ident, $b:ident| $pair:expr) => {
        /// # Panics
        #[doc = concat!(
            "If the shapes do not broadcast, or on any other error of [`Var::", stringify!($fn),
            "`] (operands on different tapes, a value freed by backward), which returns it instead."
        )]
        impl<'t, F: Float> $trait<$rhs> for $lhs {
            type Output = Var<'t, F>;
            fn $fn(self, rhs: $rhs) -> Var<'t, F> {
                let ($a, $b) = (self, rhs);
                let (a, b) = $pair;
                or_panic(Var::$fn(a, b), $sym, stringify!($fn))
            }
        }
    };
}
var_operator!(Add, add, "+");
var_operator!(Sub, sub, "-");
var_operator!(Mul, mul, "*");
var_operator!(Div, div, "/");

macro_rules! var_neg {
    ($ty:ty) => {
        /// # Panics
        /// On an error of [`Var::neg`] (a value freed by backward), which returns it instead.
        impl<'t, F: Float> Neg for $ty {
            type Output = Var<'t, F>;
            fn neg(self) -> Var<'t, F> {
                or_panic(Var::neg(owned(&self)), "-", "neg")
            }
        }
    };
}
var_neg!(Var<'t, F>);
var_neg!(&Var<'t, F>);

/// `var ∘ scalar`; `x - c` records `add_scalar(-c)`, which IEEE arithmetic rounds as `x - c`.
macro_rules! scalar_right {
    ($trait:ident, $fn:ident, $sym:literal, $method:ident, |$c:ident| $arg:expr) => {
        scalar_right!(@one $trait, $fn, $sym, $method, Var<'t, F>, |$c| $arg);
        scalar_right!(@one $trait, $fn, $sym, $method, &Var<'t, F>, |$c| $arg);
    };
    (@one $trait:ident, $fn:ident, $sym:literal, $method:ident, $lhs:ty, |$c:ident| $arg:expr) => {
        /// # Panics
        #[doc = concat!("On an error of [`Var::", stringify!($method), "`] (a value freed by backward), which returns it instead.")]
        impl<'t, F: Float> $trait<F> for $lhs {
            type Output = Var<'t, F>;
            fn $fn(self, $c: F) -> Var<'t, F> {
                or_panic(Var::$method(owned(&self), $arg), $sym, stringify!($method))
            }
        }
    };
}
scalar_right!(Add, add, "+", add_scalar, |c| c);
scalar_right!(Sub, sub, "-", add_scalar, |c| -c);
scalar_right!(Mul, mul, "*", mul_scalar, |c| c);
scalar_right!(Div, div, "/", div_scalar, |c| c);

/// `scalar ∘ var` for `f32` and `f64` (a generic impl on the left is not allowed). `c / x`
/// records a division by `x` of a constant scalar, which broadcasts.
macro_rules! scalar_left {
    ($float:ty) => {
        scalar_left!(@both $float, Add, add, "+", add_scalar, |c, x| Var::add_scalar(x, c));
        scalar_left!(@both $float, Sub, sub, "-", rsub_scalar, |c, x| Var::rsub_scalar(x, c));
        scalar_left!(@both $float, Mul, mul, "*", mul_scalar, |c, x| Var::mul_scalar(x, c));
        scalar_left!(@both $float, Div, div, "/", div, |c, x| {
            x.tape().constant(Tensor::scalar(c)).div(x)
        });
    };
    (@both $float:ty, $trait:ident, $fn:ident, $sym:literal, $method:ident, |$c:ident, $x:ident| $body:expr) => {
        scalar_left!(@one $float, $trait, $fn, $sym, $method, Var<'t, $float>, |$c, $x| $body);
        scalar_left!(@one $float, $trait, $fn, $sym, $method, &Var<'t, $float>, |$c, $x| $body);
    };
    (@one $float:ty, $trait:ident, $fn:ident, $sym:literal, $method:ident, $rhs:ty, |$c:ident, $x:ident| $body:expr) => {
        /// # Panics
        #[doc = concat!("On an error of [`Var::", stringify!($method), "`] (a value freed by backward), which returns it instead.")]
        impl<'t> $trait<$rhs> for $float {
            type Output = Var<'t, $float>;
            fn $fn(self, rhs: $rhs) -> Var<'t, $float> {
                let ($c, $x): ($float, Var<'t, $float>) = (self, owned(&rhs));
                or_panic($body, $sym, stringify!($method))
            }
        }
    };
}
scalar_left!(f32);
scalar_left!(f64);
