//! One parser for every spec string: `name:key=value,key=value`.
//!
//! Optimizers (`"sgd:lr=0.1,momentum=0.9,nesterov=true"`), their variants
//! (`"rprop:variant=irprop-,etas=0.5/1.2"`), parameter-group overrides (`"lr=0.01"`) and
//! learning-rate schedules (`"step:step_size=30,gamma=0.1"`) all go through [`Spec`]. Keys are
//! torch's argument names; a pair is written `a/b` (`betas=0.9/0.999`), a list `a/b/c`
//! (`milestones=30/80`). Every key must be read by a typed getter: [`Spec::finish`] rejects
//! the leftovers, naming them and the keys that are allowed, so a typo never goes unnoticed.
//!
//! A configuration struct declares its options once, in one table ([`Options`], written with
//! the crate's `options!` macro: key, aliases, default, allowed range, a doc line), and
//! reading a spec ([`Options::read`]), range checks ([`Options::check`]), printing back to a
//! spec ([`Options::to_spec`]) and the allowed keys of the "unknown key" error all come from
//! it.
//!
//! ```
//! use descent_optim::spec::Spec;
//! let mut s = Spec::parse("adam:lr=1e-3,betas=0.9/0.999")?;
//! assert_eq!(s.name(), "adam");
//! assert_eq!(s.f64("lr", 1e-3)?, 1e-3);
//! assert_eq!(s.pair("betas", (0.9, 0.999))?, (0.9, 0.999));
//! assert_eq!(s.bool("amsgrad", false)?, false);        // absent: the default
//! s.finish()?;
//!
//! let mut s = Spec::parse("sgd:lr=0.1,momentun=0.9")?;
//! let _ = s.f64("lr", 1e-3)?;
//! let _ = s.f64("momentum", 0.0)?;
//! let err = s.finish().unwrap_err().to_string();
//! assert_eq!(err, "sgd: unknown key momentun; allowed keys: lr, momentum");
//! # Ok::<(), descent_optim::Error>(())
//! ```

use crate::error::{Error, Result};
use std::fmt;
use std::fmt::Write as _;

/// The counts a spec may set (iterations, evaluations, tries, schedule lengths): a billion
/// is beyond any run, and keeps derived values such as L-BFGS's `max_iter·5/4` far from
/// overflow.
pub(crate) const ITERATIONS: std::ops::RangeInclusive<usize> = 1..=1_000_000_000;

/// What values a numeric hyper-parameter may take; its `Display` is the text of the error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowed {
    /// Any finite number.
    Finite,
    /// `x ≥ 0`.
    NonNegative,
    /// `x > 0`.
    Positive,
    /// `0 ≤ x < 1` (betas, momentum decays).
    UnitOpenRight,
    /// `0 ≤ x ≤ 1`.
    Unit,
    /// `0 < x < 1`.
    OpenUnit,
    /// `lo ≤ x ≤ hi`.
    Between(f64, f64),
    /// `x > lo`.
    Above(f64),
}

impl Allowed {
    /// Whether `x` is allowed (NaN never is).
    pub fn contains(self, x: f64) -> bool {
        match self {
            Allowed::Finite => x.is_finite(),
            Allowed::NonNegative => x >= 0.0 && x.is_finite(),
            Allowed::Positive => x > 0.0 && x.is_finite(),
            Allowed::UnitOpenRight => (0.0..1.0).contains(&x),
            Allowed::Unit => (0.0..=1.0).contains(&x),
            Allowed::OpenUnit => x > 0.0 && x < 1.0,
            Allowed::Between(lo, hi) => (lo..=hi).contains(&x),
            Allowed::Above(lo) => x > lo && x.is_finite(),
        }
    }

    /// `Ok(x)` if allowed, else [`Error::Hyperparameter`] naming `name`, `key` and the range.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if `x` is outside the range.
    pub fn check(self, name: &str, key: &str, x: f64) -> Result<f64> {
        if self.contains(x) {
            Ok(x)
        } else {
            Err(Error::hyper(name, key, x, self.to_string()))
        }
    }
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allowed::Finite => write!(f, "a finite number"),
            Allowed::NonNegative => write!(f, "a number >= 0"),
            Allowed::Positive => write!(f, "a number > 0"),
            Allowed::UnitOpenRight => write!(f, "a number in [0, 1)"),
            Allowed::Unit => write!(f, "a number in [0, 1]"),
            Allowed::OpenUnit => write!(f, "a number in (0, 1)"),
            Allowed::Between(lo, hi) => write!(f, "a number in [{lo}, {hi}]"),
            Allowed::Above(lo) => write!(f, "a number > {lo}"),
        }
    }
}

/// torch.optim's flags that choose an implementation rather than the arithmetic, and why
/// none of them means anything here.
const TORCH_FLAGS: &[(&str, &str)] = &[
    ("foreach", "every update is one fused element loop per parameter, rounding as torch's single-tensor (foreach=False) path"),
    ("fused", "every update is already one fused element loop per parameter, rounding as torch's single-tensor path"),
    ("capturable", "there are no CUDA graphs to capture on the CPU"),
    ("differentiable", "an optimizer step is not recorded on the tape; differentiate through an unrolled loop of Var ops instead"),
];

#[derive(Debug, Clone)]
struct Arg {
    key: String,
    value: String,
    used: bool,
}

/// A parsed `name:key=value,...` string with typed getters that record which keys were read.
#[derive(Debug, Clone)]
pub struct Spec {
    text: String,
    name: String,
    args: Vec<Arg>,
    asked: Vec<&'static str>,
}

impl Spec {
    /// Parses `name` or `name:key=value,key=value`. The name is lower-cased (`Adam` and
    /// `adam` are the same); keys are kept as written (torch's `T_max`).
    ///
    /// # Errors
    /// [`Error::Spec`] for an empty name, an argument without `=`, an empty key, or a key
    /// given twice.
    pub fn parse(text: &str) -> Result<Spec> {
        let (name, args) = match text.split_once(':') {
            Some((n, a)) => (n, a),
            None => (text, ""),
        };
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            return Err(Error::Spec {
                spec: text.to_string(),
                why: "no name before `:` (expected e.g. `sgd:lr=0.1`)".into(),
            });
        }
        Spec::parse_args_named(&name, text, args)
    }

    /// Parses bare arguments `key=value,...` (a parameter group's overrides) for `name`.
    ///
    /// # Errors
    /// As [`Spec::parse`].
    pub fn parse_args(name: &str, args: &str) -> Result<Spec> {
        Spec::parse_args_named(name, args, args)
    }

    fn parse_args_named(name: &str, text: &str, args: &str) -> Result<Spec> {
        let bad = |why: String| Error::Spec {
            spec: text.to_string(),
            why,
        };
        let mut parsed: Vec<Arg> = Vec::new();
        for part in args.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                bad(format!(
                    "argument `{part}` has no `=value` (write e.g. `{part}=true`)"
                ))
            })?;
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() || value.is_empty() {
                return Err(bad(format!(
                    "argument `{part}` needs both a key and a value"
                )));
            }
            if parsed.iter().any(|a| a.key == key) {
                return Err(bad(format!("key `{key}` is given twice")));
            }
            parsed.push(Arg {
                key: key.to_string(),
                value: value.to_string(),
                used: false,
            });
        }
        Ok(Spec {
            text: text.to_string(),
            name: name.to_string(),
            args: parsed,
            asked: Vec::new(),
        })
    }

    /// The (lower-cased) name before the `:`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether `key` was given (does not count as reading it).
    pub fn has(&self, key: &str) -> bool {
        self.args.iter().any(|a| a.key == key)
    }

    /// Marks `key` as allowed and read, returning its raw value if given.
    pub fn raw(&mut self, key: &'static str) -> Option<String> {
        if !self.asked.contains(&key) {
            self.asked.push(key);
        }
        let arg = self.args.iter_mut().find(|a| a.key == key)?;
        arg.used = true;
        Some(arg.value.clone())
    }

    fn number(&self, key: &str, value: &str, what: &str) -> Result<f64> {
        value
            .parse::<f64>()
            .map_err(|_| Error::hyper(&self.name, key, value, what))
    }

    /// An optional number (no default), checked against `allowed`.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if the value is not a number or not allowed.
    pub fn opt_f64(&mut self, key: &'static str, allowed: Allowed) -> Result<Option<f64>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => {
                let x = self.number(key, &v, &allowed.to_string())?;
                if allowed.contains(x) {
                    Ok(Some(x))
                } else {
                    Err(Error::hyper(&self.name, key, v, allowed.to_string()))
                }
            }
        }
    }

    /// A number, `default` if absent, checked against `allowed` either way.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if the value is not a number or not allowed.
    pub fn f64_in(&mut self, key: &'static str, default: f64, allowed: Allowed) -> Result<f64> {
        match self.opt_f64(key, allowed)? {
            Some(x) => Ok(x),
            None => allowed.check(&self.name, key, default),
        }
    }

    /// Any finite number, `default` if absent.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if the value is not a finite number.
    pub fn f64(&mut self, key: &'static str, default: f64) -> Result<f64> {
        self.f64_in(key, default, Allowed::Finite)
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`), `default` if absent.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] for any other value.
    pub fn bool(&mut self, key: &'static str, default: bool) -> Result<bool> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => match v.to_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(Error::hyper(&self.name, key, v, "true or false")),
            },
        }
    }

    /// An integer in `range`, `default` if absent (checked too). Every count a spec can
    /// set has an upper bound, so that arithmetic derived from it (L-BFGS's default
    /// `max_eval = max_iter·5/4`) cannot overflow.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] naming the range if the value is not an integer in it.
    pub fn usize_in(
        &mut self,
        key: &'static str,
        default: usize,
        range: std::ops::RangeInclusive<usize>,
    ) -> Result<usize> {
        let allowed = || format!("an integer in [{}, {}]", range.start(), range.end());
        let (n, shown) = match self.raw(key) {
            None => (Some(default), default.to_string()),
            Some(v) => (v.parse::<usize>().ok(), v),
        };
        match n {
            Some(n) if range.contains(&n) => Ok(n),
            _ => Err(Error::hyper(&self.name, key, shown, allowed())),
        }
    }

    /// A `/`-separated list of numbers each in `allowed`, `default` if absent.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if an item is not a number or not allowed.
    pub fn list(
        &mut self,
        key: &'static str,
        default: &[f64],
        allowed: Allowed,
    ) -> Result<Vec<f64>> {
        let Some(v) = self.raw(key) else {
            return Ok(default.to_vec());
        };
        let what = format!("`/`-separated numbers, each {allowed}");
        v.split('/')
            .map(|item| {
                let x = self.number(key, item.trim(), &what)?;
                if allowed.contains(x) {
                    Ok(x)
                } else {
                    Err(Error::hyper(&self.name, key, &v, what.clone()))
                }
            })
            .collect()
    }

    /// A pair `a/b` of numbers each in `allowed` (torch's tuples: `betas`, `etas`), `default`
    /// if absent.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if it is not two numbers or one is not allowed.
    pub fn pair(&mut self, key: &'static str, default: (f64, f64)) -> Result<(f64, f64)> {
        self.pair_in(key, default, Allowed::Finite)
    }

    /// As [`Spec::pair`], each item checked against `allowed`.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if it is not two numbers or one is not allowed.
    pub fn pair_in(
        &mut self,
        key: &'static str,
        default: (f64, f64),
        allowed: Allowed,
    ) -> Result<(f64, f64)> {
        let given = self.has(key);
        let v = self.list(key, &[default.0, default.1], allowed)?;
        match v[..] {
            [a, b] => {
                if !given {
                    allowed.check(&self.name, key, a)?;
                    allowed.check(&self.name, key, b)?;
                }
                Ok((a, b))
            }
            _ => Err(Error::hyper(
                &self.name,
                key,
                self.args
                    .iter()
                    .find(|a| a.key == key)
                    .map_or("", |a| a.value.as_str()),
                format!("two numbers `a/b`, each {allowed}"),
            )),
        }
    }

    /// One of `allowed` (compared case-insensitively), `default` if absent.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] listing the choices for any other value.
    pub fn choice(
        &mut self,
        key: &'static str,
        default: &'static str,
        allowed: &[&'static str],
    ) -> Result<&'static str> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => allowed
                .iter()
                .find(|c| c.eq_ignore_ascii_case(&v))
                .copied()
                .ok_or_else(|| {
                    Error::hyper(&self.name, key, v, format!("one of {}", allowed.join(", ")))
                }),
        }
    }

    /// Accepts `alias` (descent's shorter name) for the torch key `key`: a value given under
    /// `alias` is read as if given under `key`.
    ///
    /// # Errors
    /// [`Error::Spec`] if both are given.
    pub fn alias(&mut self, key: &'static str, alias: &'static str) -> Result<()> {
        if self.has(key) && self.has(alias) {
            return Err(Error::Spec {
                spec: self.text.clone(),
                why: format!("`{alias}` is another name for `{key}`: give one of them"),
            });
        }
        if let Some(arg) = self.args.iter_mut().find(|a| a.key == alias) {
            arg.key = key.to_string();
        }
        Ok(())
    }

    /// Succeeds if every key given was read by a getter; else names the unknown keys and
    /// the allowed ones (those the getters asked for). torch.optim's implementation flags
    /// (`foreach`, `fused`, `capturable`, `differentiable`) are refused with the reason.
    ///
    /// # Errors
    /// [`Error::Spec`] for a torch implementation flag, else [`Error::UnknownKey`].
    pub fn finish(self) -> Result<()> {
        if let Some((key, why)) = TORCH_FLAGS
            .iter()
            .find(|(k, _)| self.args.iter().any(|a| !a.used && a.key == *k))
        {
            return Err(Error::Spec {
                spec: self.text.clone(),
                why: format!("torch's `{key}` does not apply here: {why}"),
            });
        }
        let unknown: Vec<&str> = self
            .args
            .iter()
            .filter(|a| !a.used)
            .map(|a| a.key.as_str())
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(Error::UnknownKey {
            name: self.name.clone(),
            keys: unknown.join(", "),
            allowed: if self.asked.is_empty() {
                "none".to_string()
            } else {
                self.asked.join(", ")
            },
        })
    }
}

impl Spec {
    /// The value of `key` as `kind` asks, `None` if absent (the key is allowed either way).
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if the value is not of that kind.
    pub fn value(&mut self, key: &'static str, kind: Kind) -> Result<Option<Value>> {
        if !self.has(key) {
            let _ = self.raw(key);
            return Ok(None);
        }
        // The key is given, so the defaults below are never used.
        Ok(Some(match kind {
            Kind::Num => Value::Num(self.f64(key, 0.0)?),
            Kind::Pair => {
                let (a, b) = self.pair(key, (0.0, 0.0))?;
                Value::Pair(a, b)
            }
            Kind::Bool => Value::Bool(self.bool(key, false)?),
            Kind::Choice(names) => Value::Choice(self.choice(key, "", names)?),
        }))
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The kinds of value an option takes, as a spec writes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A finite number (`lr=1e-3`).
    Num,
    /// Two finite numbers `a/b` (torch's tuples: `betas=0.9/0.999`).
    Pair,
    /// `true` or `false`.
    Bool,
    /// One of these names.
    Choice(&'static [&'static str]),
}

/// One option's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A number.
    Num(f64),
    /// A pair `a/b`.
    Pair(f64, f64),
    /// A flag.
    Bool(bool),
    /// A name among [`Kind::Choice`]'s.
    Choice(&'static str),
}

impl Value {
    /// Equal to the bit (so `-0` and `0` differ, and a printed spec keeps the sign).
    fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Num(a), Value::Num(b)) => a.to_bits() == b.to_bits(),
            (Value::Pair(a, b), Value::Pair(c, d)) => {
                a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
            }
            _ => self == other,
        }
    }

    /// The numbers in it, for range checks.
    fn numbers(&self) -> Vec<f64> {
        match *self {
            Value::Num(x) => vec![x],
            Value::Pair(a, b) => vec![a, b],
            Value::Bool(_) | Value::Choice(_) => Vec::new(),
        }
    }
}

/// A number as a spec writes it: the shortest text that parses back to the same bits
/// (`0.001`, `1e-8`, `3`).
pub fn number(x: f64) -> String {
    let s = format!("{x:?}");
    match s.strip_suffix(".0") {
        Some(whole) => whole.to_string(),
        None => s,
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Num(x) => f.write_str(&number(x)),
            Value::Pair(a, b) => write!(f, "{}/{}", number(a), number(b)),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Choice(c) => f.write_str(c),
        }
    }
}

/// A Rust type an option can have: `f64`, `(f64, f64)`, `bool`, or a [`Choice`] enum.
pub trait Hyper: Copy {
    /// How a spec writes it.
    const KIND: Kind;
    /// As a [`Value`].
    fn value(self) -> Value;
    /// From a [`Value`] of [`Hyper::KIND`] (`None` for another kind).
    fn from_value(v: Value) -> Option<Self>;
}

impl Hyper for f64 {
    const KIND: Kind = Kind::Num;
    fn value(self) -> Value {
        Value::Num(self)
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Num(x) => Some(x),
            _ => None,
        }
    }
}

impl Hyper for (f64, f64) {
    const KIND: Kind = Kind::Pair;
    fn value(self) -> Value {
        Value::Pair(self.0, self.1)
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Pair(a, b) => Some((a, b)),
            _ => None,
        }
    }
}

impl Hyper for bool {
    const KIND: Kind = Kind::Bool;
    fn value(self) -> Value {
        Value::Bool(self)
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// An enum option written as one of a few names (`variant=irprop+`); implemented with the
/// crate's `choices!` macro, which spells each name once.
pub trait Choice: Copy + PartialEq + 'static {
    /// Every value with its name, in the order the error message lists them.
    const CHOICES: &'static [(&'static str, Self)];
    /// The names alone, in the same order.
    const NAMES: &'static [&'static str];
}

impl<C: Choice> Hyper for C {
    const KIND: Kind = Kind::Choice(C::NAMES);
    fn value(self) -> Value {
        let name = C::CHOICES.iter().find(|(_, c)| *c == self);
        Value::Choice(name.map_or("", |(n, _)| n))
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Choice(name) => C::CHOICES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c),
            _ => None,
        }
    }
}

/// One row of an options table: what a spec may set on a configuration `R`.
pub struct Opt<R> {
    /// The key (torch's keyword name where torch has the option).
    pub key: &'static str,
    /// Other names accepted for it (descent's shorter ones).
    pub aliases: &'static [&'static str],
    /// One line saying what it does.
    pub doc: &'static str,
    /// How a spec writes it.
    pub kind: Kind,
    /// The range of a number, or of each number of a pair.
    pub allowed: Allowed,
    /// Reads it from a configuration.
    pub get: fn(&R) -> Value,
    /// Writes it (a value of another kind is ignored; [`Options::read`] never gives one).
    pub set: fn(&mut R, Value),
}

/// A configuration with an options table, from which reading a spec, range checks,
/// printing back to a spec and the list of allowed keys are derived. Written with the
/// `options!` macro, which declares the struct, its `Default` and the table in one place.
pub trait Options: Clone + Default + 'static {
    /// The table, in the order keys are listed.
    const OPTIONS: &'static [Opt<Self>];

    /// `base` with the options `spec` gives (each may also be given under an alias).
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] for a value of the wrong kind, [`Error::Spec`] for a key
    /// given under two names. Ranges are [`Options::check`]'s.
    fn read(spec: &mut Spec, base: &Self) -> Result<Self> {
        let mut out = base.clone();
        for o in Self::OPTIONS {
            for alias in o.aliases {
                spec.alias(o.key, alias)?;
            }
            if let Some(v) = spec.value(o.key, o.kind)? {
                (o.set)(&mut out, v);
            }
        }
        Ok(out)
    }

    /// Checks every number against its row's range; `name` heads the error.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] naming the first number out of range.
    fn check(&self, name: &str) -> Result<()> {
        for o in Self::OPTIONS {
            for x in (o.get)(self).numbers() {
                o.allowed.check(name, o.key, x)?;
            }
        }
        Ok(())
    }

    /// The spec `name:key=value,…` that [`Options::read`] turns back into `self` from
    /// `base`: the options that differ from `base`, in table order (just `name` if none).
    fn to_spec(&self, name: &str, base: &Self) -> String {
        let mut out = name.to_string();
        let mut sep = ':';
        for o in Self::OPTIONS {
            let v = (o.get)(self);
            if !v.same(&(o.get)(base)) {
                let _ = write!(out, "{sep}{}={v}", o.key);
                sep = ',';
            }
        }
        out
    }

    /// The table as text, one option a line: key, aliases, default (from `base`), what is
    /// allowed, and the doc line.
    fn describe(base: &Self) -> String {
        let mut out = String::new();
        for o in Self::OPTIONS {
            let _ = write!(out, "{}", o.key);
            for a in o.aliases {
                let _ = write!(out, " (or {a})");
            }
            let allowed = match o.kind {
                Kind::Num => o.allowed.to_string(),
                Kind::Pair => format!("a/b, each {}", o.allowed),
                Kind::Bool => "true or false".to_string(),
                Kind::Choice(names) => format!("one of {}", names.join(", ")),
            };
            let _ = writeln!(out, " = {}; {allowed}; {}", (o.get)(base), o.doc.trim());
        }
        out
    }
}

/// Implements [`Choice`] for an enum from one list of `"name" => Variant`.
macro_rules! choices {
    ($ty:ty { $($name:literal => $variant:ident),* $(,)? }) => {
        impl $crate::spec::Choice for $ty {
            const CHOICES: &'static [(&'static str, Self)] = &[$(($name, Self::$variant)),*];
            const NAMES: &'static [&'static str] = &[$($name),*];
        }
    };
}
pub(crate) use choices;

/// The key of a table row: the literal if given, else the field's name.
macro_rules! option_key {
    ($key:literal; $field:ident) => {
        $key
    };
    (; $field:ident) => {
        stringify!($field)
    };
}
pub(crate) use option_key;

/// The range of a table row: the one given (a variant of [`Allowed`], in scope), else any
/// finite number.
macro_rules! option_allowed {
    ($allowed:expr) => {{
        #[allow(unused_imports)]
        use $crate::spec::Allowed::*;
        $allowed
    }};
    () => {
        $crate::spec::Allowed::Finite
    };
}
pub(crate) use option_allowed;

/// Declares a configuration struct, its `Default` and its options table ([`Options`]) in
/// one list. Each field is written
///
/// ```text
/// /// The doc line.
/// field [as "key"] [| "alias"]* : Type = default [, Range];
/// ```
///
/// `key` is the spec's name when it is not the field's (torch's `T_max`); `Range` is a
/// variant of [`Allowed`] (default: any finite number) and matters for numbers only.
macro_rules! options {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident $(as $key:literal)? $(| $alias:literal)* : $ty:ty = $default:expr
                    $(, $allowed:expr)?;
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(
                $(#[doc = $doc])*
                pub $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $($field: $default,)*
                }
            }
        }

        impl $crate::spec::Options for $name {
            const OPTIONS: &'static [$crate::spec::Opt<Self>] = &[
                $(
                    $crate::spec::Opt {
                        key: $crate::spec::option_key!($($key)?; $field),
                        aliases: &[$($alias),*],
                        doc: concat!($($doc),*),
                        kind: <$ty as $crate::spec::Hyper>::KIND,
                        allowed: $crate::spec::option_allowed!($($allowed)?),
                        get: |r: &$name| $crate::spec::Hyper::value(r.$field),
                        set: |r: &mut $name, v: $crate::spec::Value| {
                            if let Some(x) = <$ty as $crate::spec::Hyper>::from_value(v) {
                                r.$field = x;
                            }
                        },
                    },
                )*
            ];
        }
    };
}
pub(crate) use options;

#[cfg(test)]
mod tests {
    use super::*;

    /// A choice, for the table below.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Mode {
        /// Minimize.
        Min,
        /// Maximize.
        Max,
    }

    choices!(Mode { "min" => Min, "max" => Max });

    options! {
        /// A table with every feature of the macro the rules do not all use.
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct Demo {
            /// A torch key that is not a Rust field name, with an alias.
            t_max as "T_max" | "t_max": f64 = 10.0, Positive;
            /// A pair, each in [0, 1).
            betas: (f64, f64) = (0.9, 0.999), UnitOpenRight;
            /// No range given: any finite number.
            shift: f64 = 0.0;
            /// A flag.
            on: bool = false;
            /// A choice.
            mode: Mode = Mode::Min;
        }
    }

    fn read(text: &str) -> Result<Demo> {
        let mut s = Spec::parse(text)?;
        let d = Demo::read(&mut s, &Demo::default())?;
        s.finish()?;
        d.check("demo")?;
        Ok(d)
    }

    #[test]
    fn a_table_reads_checks_prints_and_lists_its_keys() {
        let d = read("demo:t_max=3,betas=0.5/0,on=yes,mode=MAX,shift=-2").unwrap();
        let want = Demo {
            t_max: 3.0,
            betas: (0.5, 0.0),
            shift: -2.0,
            on: true,
            mode: Mode::Max,
        };
        assert_eq!(d, want);
        let spec = d.to_spec("demo", &Demo::default());
        assert_eq!(spec, "demo:T_max=3,betas=0.5/0,shift=-2,on=true,mode=max");
        assert_eq!(read(&spec).unwrap(), want);
        assert_eq!(Demo::default().to_spec("demo", &Demo::default()), "demo");
        let err = |text: &str| read(text).unwrap_err().to_string();
        assert_eq!(
            err("demo:T_max=0"),
            "demo: T_max=0 is invalid; allowed: a number > 0"
        );
        assert_eq!(
            err("demo:betas=0.5/1"),
            "demo: betas=1 is invalid; allowed: a number in [0, 1)"
        );
        assert_eq!(
            err("demo:T_max=1,t_max=2"),
            "spec `demo:T_max=1,t_max=2`: `t_max` is another name for `T_max`: give one of them"
        );
        assert_eq!(
            err("demo:tmax=1"),
            "demo: unknown key tmax; allowed keys: T_max, betas, shift, on, mode"
        );
        assert_eq!(
            Demo::describe(&Demo::default()),
            "T_max (or t_max) = 10; a number > 0; A torch key that is not a Rust field name, with an alias.\n\
             betas = 0.9/0.999; a/b, each a number in [0, 1); A pair, each in [0, 1).\n\
             shift = 0; a finite number; No range given: any finite number.\n\
             on = false; true or false; A flag.\n\
             mode = min; one of min, max; A choice.\n"
        );
    }
}
