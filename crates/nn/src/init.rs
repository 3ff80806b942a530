//! Weight initializers: each draws a tensor of a given shape from a seeded RNG, so the same
//! seed gives the same model on every machine.
//!
//! The scaled schemes keep the variance of activations (forward) and gradients (backward)
//! roughly constant across layers. With `m = fan_in`, `n = fan_out` (for a weight of shape
//! `[out, in, k…]`: `m = in·∏k`, `n = out·∏k`, as PyTorch) and a gain `a`:
//!
//! | scheme            | distribution                                    |
//! |-------------------|-------------------------------------------------|
//! | Xavier uniform    | `U(−b, b)`, `b = a·√(6/(m+n))`                  |
//! | Xavier normal     | `N(0, σ²)`, `σ = a·√(2/(m+n))`                  |
//! | LeCun uniform     | `U(−1/√m, 1/√m)` (PyTorch's `Linear` default)    |
//! | LeCun normal      | `N(0, 1/m)`                                     |
//! | He/Kaiming uniform| `U(−b, b)`, `b = a·√(3/m)` (`a = √2`: `√(6/m)`) |
//! | He/Kaiming normal | `N(0, σ²)`, `σ = a/√m` (`a = √2`: `√(2/m)`)     |
//! | orthogonal        | `a·Q`, `Q` from the QR of a Gaussian matrix      |
//!
//! The gains are the lecture's ([`gain`]): 1 for linear and tanh units, √2 for ReLU, 4 for
//! logistic units (Glorot & Bengio's derivation for the logistic, whose slope at 0 is ¼).
//! PyTorch's `calculate_gain` differs for tanh (5/3) and sigmoid (1); pass a number to get
//! those.
//!
//! ```
//! use descent_nn::init::Init;
//! use rand::{rngs::StdRng, SeedableRng};
//! let init: Init = "xavier_uniform:gain=relu".parse()?;
//! let w = init.tensor::<f32>(&[64, 100], &mut StdRng::seed_from_u64(0))?;
//! let bound = 2f32.sqrt() * (6.0f32 / 164.0).sqrt();
//! assert!(w.to_vec().iter().all(|x| x.abs() <= bound));
//! # Ok::<(), descent_nn::Error>(())
//! ```

use crate::error::{Error, Result};
use descent_autodiff::Param;
use descent_tensor::{Float, Tensor};
use rand::Rng;
use std::fmt;
use std::str::FromStr;

/// An initialization scheme, parseable from `"name"` or `"name:key=value,..."` (for a
/// command-line `--init`): `zeros`, `constant:value=V`, `normal:mean=M,std=S` (default
/// N(0, 1)), `trunc_normal:mean=M,std=S` (re-drawn outside ±2σ), `uniform:low=L,high=H`
/// (default U(0, 1)), `xavier_uniform`/`glorot_uniform`, `xavier_normal`/`glorot_normal`
/// (`gain=G`, default 1), `lecun_uniform` (alias `default`, `pytorch`), `lecun_normal`,
/// `he_uniform`/`kaiming_uniform`, `he_normal`/`kaiming_normal` (`gain=G`, default √2),
/// `orthogonal` (`gain=G`, default 1). A gain is a number or one of `linear`, `tanh`,
/// `relu`, `logistic`, `sigmoid` (see [`gain`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Init {
    /// Every element `value`.
    Constant {
        /// The value.
        value: f64,
    },
    /// `N(mean, std²)`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// `N(mean, std²)` re-drawn until within `mean ± 2·std`.
    TruncNormal {
        /// Mean.
        mean: f64,
        /// Standard deviation of the untruncated normal.
        std: f64,
    },
    /// `U(low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Glorot & Bengio (2010): `U(−b, b)`, `b = gain·√(6/(fan_in+fan_out))`.
    XavierUniform {
        /// The gain (1 for tanh/linear units).
        gain: f64,
    },
    /// Glorot & Bengio (2010): `N(0, σ²)`, `σ = gain·√(2/(fan_in+fan_out))`.
    XavierNormal {
        /// The gain (1 for tanh/linear units).
        gain: f64,
    },
    /// LeCun (1998): `U(−1/√fan_in, 1/√fan_in)`; PyTorch's default for `Linear`
    /// (`kaiming_uniform_(a=√5)` works out to this bound).
    LecunUniform,
    /// LeCun (1998): `N(0, 1/fan_in)`.
    LecunNormal,
    /// He et al. (2015): `U(−b, b)`, `b = gain·√(3/fan_in)`.
    KaimingUniform {
        /// The gain (√2 for ReLU units).
        gain: f64,
    },
    /// He et al. (2015): `N(0, σ²)`, `σ = gain/√fan_in`.
    KaimingNormal {
        /// The gain (√2 for ReLU units).
        gain: f64,
    },
    /// Saxe et al. (2014): `gain·Q` with orthonormal rows or columns (whichever are fewer),
    /// from the QR decomposition of a Gaussian matrix with `R`'s diagonal made positive.
    Orthogonal {
        /// The gain.
        gain: f64,
    },
}

/// The names [`Init::from_str`] accepts, for error messages and `--help`.
pub const INIT_NAMES: &str = "zeros, constant, normal, trunc_normal, uniform, xavier_uniform, glorot_uniform, xavier_normal, glorot_normal, lecun_uniform, lecun_normal, default, pytorch, he_uniform, kaiming_uniform, he_normal, kaiming_normal, orthogonal";

/// The gain for a unit type, as in the lecture: `linear` and `tanh` 1, `relu` √2,
/// `logistic` (alias `sigmoid`) 4.
///
/// # Errors
/// [`Error::UnknownName`] for any other name.
pub fn gain(nonlinearity: &str) -> Result<f64> {
    match nonlinearity {
        "linear" | "identity" | "tanh" => Ok(1.0),
        "relu" => Ok(std::f64::consts::SQRT_2),
        "logistic" | "sigmoid" => Ok(4.0),
        _ => Err(Error::UnknownName {
            what: "gain",
            name: nonlinearity.to_string(),
            allowed: "linear, identity, tanh, relu, logistic, sigmoid, or a number".into(),
        }),
    }
}

/// `(fan_in, fan_out)` of a weight of shape `[out, in, k…]`: `(in·∏k, out·∏k)`.
///
/// # Errors
/// [`Error::InvalidArgument`] for fewer than 2 dimensions (a fan is undefined for a bias).
pub fn fans(shape: &[usize]) -> Result<(usize, usize)> {
    match shape {
        [out, inp, rest @ ..] => {
            let receptive: usize = rest.iter().product();
            Ok((inp * receptive, out * receptive))
        }
        _ => Err(Error::InvalidArgument {
            op: "init",
            arg: "shape",
            value: format!("{shape:?}"),
            why: "fan-scaled initializers need a weight of at least 2 dims [out, in, ...]",
        }),
    }
}

impl Init {
    /// PyTorch's default for `Linear` weights (also LeCun's uniform).
    pub const PYTORCH_LINEAR: Init = Init::LecunUniform;

    /// Draws a tensor of `shape`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a fan-scaled scheme on a shape of fewer than 2 dims
    /// or with a zero fan, or invalid bounds or deviations.
    pub fn tensor<F: Float>(&self, shape: &[usize], rng: &mut impl Rng) -> Result<Tensor<F>> {
        let fan = || -> Result<(f64, f64)> {
            let (fan_in, fan_out) = fans(shape)?;
            if fan_in == 0 || fan_out == 0 {
                return Err(Error::InvalidArgument {
                    op: "init",
                    arg: "shape",
                    value: format!("{shape:?}"),
                    why: "a zero fan gives an infinite scale",
                });
            }
            Ok((fan_in as f64, fan_out as f64))
        };
        match *self {
            Init::Constant { value } => Ok(Tensor::full(shape, F::of(value))),
            Init::Normal { mean, std } => normal(shape, mean, std, rng),
            Init::TruncNormal { mean, std } => {
                Ok(Tensor::trunc_normal(shape, F::of(mean), F::of(std), rng)?)
            }
            Init::Uniform { low, high } => uniform(shape, low, high, rng),
            Init::XavierUniform { gain } => {
                let (m, n) = fan()?;
                symmetric_uniform(shape, gain * (6.0 / (m + n)).sqrt(), rng)
            }
            Init::XavierNormal { gain } => {
                let (m, n) = fan()?;
                normal(shape, 0.0, gain * (2.0 / (m + n)).sqrt(), rng)
            }
            Init::LecunUniform => symmetric_uniform(shape, 1.0 / fan()?.0.sqrt(), rng),
            Init::LecunNormal => normal(shape, 0.0, 1.0 / fan()?.0.sqrt(), rng),
            Init::KaimingUniform { gain } => {
                symmetric_uniform(shape, gain * (3.0 / fan()?.0).sqrt(), rng)
            }
            Init::KaimingNormal { gain } => normal(shape, 0.0, gain / fan()?.0.sqrt(), rng),
            Init::Orthogonal { gain } => orthogonal(shape, gain, rng),
        }
    }

    /// Re-draws a parameter's value in place, keeping its id (hence its optimizer state).
    ///
    /// # Errors
    /// As [`Init::tensor`] for the parameter's shape.
    pub fn fill<F: Float>(&self, param: &mut Param<F>, rng: &mut impl Rng) -> Result<()> {
        param.value = self.tensor(param.value.shape(), rng)?;
        Ok(())
    }
}

/// `N(mean, std²)` samples.
fn normal<F: Float>(shape: &[usize], mean: f64, std: f64, rng: &mut impl Rng) -> Result<Tensor<F>> {
    Ok(Tensor::randn(shape, F::of(mean), F::of(std), rng)?)
}

/// `U(low, high)` samples.
fn uniform<F: Float>(
    shape: &[usize],
    low: f64,
    high: f64,
    rng: &mut impl Rng,
) -> Result<Tensor<F>> {
    Ok(Tensor::rand(shape, F::of(low), F::of(high), rng)?)
}

/// `U(−bound, bound)` samples.
fn symmetric_uniform<F: Float>(
    shape: &[usize],
    bound: f64,
    rng: &mut impl Rng,
) -> Result<Tensor<F>> {
    uniform(shape, -bound, bound, rng)
}

/// PyTorch's `orthogonal_`: flatten to `[rows, cols]`, QR-decompose a Gaussian matrix of the
/// taller orientation, fix the signs by `R`'s diagonal (so `Q` is Haar-distributed), scale.
fn orthogonal<F: Float>(shape: &[usize], gain: f64, rng: &mut impl Rng) -> Result<Tensor<F>> {
    let rows = *shape.first().ok_or_else(|| Error::InvalidArgument {
        op: "orthogonal",
        arg: "shape",
        value: format!("{shape:?}"),
        why: "needs at least 1 dim",
    })?;
    let numel: usize = shape.iter().product();
    if numel == 0 {
        return Ok(Tensor::zeros(shape));
    }
    let cols = numel / rows;
    let (tall, short) = (rows.max(cols), rows.min(cols));
    let gauss = Tensor::<f64>::randn(&[tall, short], 0.0, 1.0, rng)?.to_vec();
    let a = nalgebra::DMatrix::from_row_slice(tall, short, &gauss);
    let qr = a.qr();
    let (mut q, r) = (qr.q(), qr.r());
    for (j, mut col) in q.column_iter_mut().enumerate() {
        if r[(j, j)] < 0.0 {
            col.neg_mut();
        }
    }
    // q is tall×short with orthonormal columns; lay it out as rows×cols.
    let values: Vec<F> = (0..rows)
        .flat_map(|i| (0..cols).map(move |j| (i, j)))
        .map(|(i, j)| if rows >= cols { q[(i, j)] } else { q[(j, i)] })
        .map(|x| F::of(gain * x))
        .collect();
    Ok(Tensor::from_vec(values, shape)?)
}

impl FromStr for Init {
    type Err = Error;

    /// Parses `"name"` or `"name:key=value,..."`; see [`Init`] for the names and keys.
    fn from_str(spec: &str) -> Result<Init> {
        let (name, opts) = spec.split_once(':').unwrap_or((spec, ""));
        let mut opts = Options::parse(name.trim(), opts)?;
        let init = match name.trim() {
            "zeros" => Init::Constant { value: 0.0 },
            "ones" => Init::Constant { value: 1.0 },
            "constant" => Init::Constant {
                value: opts.number("value", 0.0)?,
            },
            "normal" => Init::Normal {
                mean: opts.number("mean", 0.0)?,
                std: opts.number("std", 1.0)?,
            },
            "trunc_normal" => Init::TruncNormal {
                mean: opts.number("mean", 0.0)?,
                std: opts.number("std", 1.0)?,
            },
            "uniform" => Init::Uniform {
                low: opts.number("low", 0.0)?,
                high: opts.number("high", 1.0)?,
            },
            "xavier_uniform" | "glorot_uniform" => Init::XavierUniform {
                gain: opts.gain(1.0)?,
            },
            "xavier_normal" | "glorot_normal" => Init::XavierNormal {
                gain: opts.gain(1.0)?,
            },
            "lecun_uniform" | "default" | "pytorch" => Init::LecunUniform,
            "lecun_normal" => Init::LecunNormal,
            "he_uniform" | "kaiming_uniform" => Init::KaimingUniform {
                gain: opts.gain(std::f64::consts::SQRT_2)?,
            },
            "he_normal" | "kaiming_normal" => Init::KaimingNormal {
                gain: opts.gain(std::f64::consts::SQRT_2)?,
            },
            "orthogonal" => Init::Orthogonal {
                gain: opts.gain(1.0)?,
            },
            other => {
                return Err(Error::UnknownName {
                    what: "initializer",
                    name: other.to_string(),
                    allowed: INIT_NAMES.into(),
                })
            }
        };
        opts.finish()?;
        Ok(init)
    }
}

impl fmt::Display for Init {
    /// The spec string [`Init::from_str`] parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Init::Constant { value } => write!(f, "constant:value={value}"),
            Init::Normal { mean, std } => write!(f, "normal:mean={mean},std={std}"),
            Init::TruncNormal { mean, std } => write!(f, "trunc_normal:mean={mean},std={std}"),
            Init::Uniform { low, high } => write!(f, "uniform:low={low},high={high}"),
            Init::XavierUniform { gain } => write!(f, "xavier_uniform:gain={gain}"),
            Init::XavierNormal { gain } => write!(f, "xavier_normal:gain={gain}"),
            Init::LecunUniform => write!(f, "lecun_uniform"),
            Init::LecunNormal => write!(f, "lecun_normal"),
            Init::KaimingUniform { gain } => write!(f, "kaiming_uniform:gain={gain}"),
            Init::KaimingNormal { gain } => write!(f, "kaiming_normal:gain={gain}"),
            Init::Orthogonal { gain } => write!(f, "orthogonal:gain={gain}"),
        }
    }
}

/// The `key=value` options of a spec; each is taken once, leftovers are an error.
struct Options<'a> {
    name: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Options<'a> {
    fn parse(name: &'a str, opts: &'a str) -> Result<Self> {
        let pairs = opts
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.trim(), v.trim()))
                    .ok_or_else(|| Error::InvalidArgument {
                        op: "init spec",
                        arg: "option",
                        value: kv.to_string(),
                        why: "options are written key=value, separated by commas",
                    })
            })
            .collect::<Result<_>>()?;
        Ok(Options { name, pairs })
    }

    fn take(&mut self, key: &str) -> Option<&'a str> {
        let i = self.pairs.iter().position(|(k, _)| *k == key)?;
        Some(self.pairs.remove(i).1)
    }

    fn number(&mut self, key: &'static str, default: f64) -> Result<f64> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| Error::InvalidArgument {
                op: "init spec",
                arg: key,
                value: v.to_string(),
                why: "not a number",
            }),
        }
    }

    fn gain(&mut self, default: f64) -> Result<f64> {
        match self.take("gain") {
            None => Ok(default),
            Some(v) => v.parse().or_else(|_| gain(v)),
        }
    }

    fn finish(self) -> Result<()> {
        match self.pairs.first() {
            None => Ok(()),
            Some((key, _)) => Err(Error::UnknownName {
                what: "initializer option",
                name: format!("{}:{key}", self.name),
                allowed: "value (constant); mean, std (normal, trunc_normal); low, high (uniform); gain (xavier_*, he_*, kaiming_*, orthogonal)".into(),
            }),
        }
    }
}
