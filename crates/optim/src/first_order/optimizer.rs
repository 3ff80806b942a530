//! The [`Optimizer`] trait every first-order method implements, the generic driver
//! [`FirstOrder`] that owns per-parameter state and parameter groups, and the traits a rule
//! implements: [`UpdateRule`] and its typed state, [`RuleState`].
//!
//! The math of one method is an [`UpdateRule`]: a config struct with an options table
//! (torch's argument names, defaults and ranges) whose `update` applies one step to one
//! parameter, element by element, in place. Everything that is the same for every method lives once in [`FirstOrder`]:
//! looking up each parameter's gradient by [`ParamId`], shape and finiteness checks (a NaN
//! gradient changes nothing), lazy state, step counting, groups, save/load.
//!
//! Why element loops rather than chains of tensor in-place ops: one pass over memory per
//! step instead of five, no temporaries at all (torch's `denom = v.sqrt().add_(eps)`
//! allocates), and each formula is written in the order torch evaluates it, so f64
//! trajectories match torch.optim to the last few bits.

use crate::error::{Error, Result};
use crate::first_order::state::{
    check_count, check_finite, shape_from_meta, shape_to_meta, StateDict, MAX_COUNT,
};
use crate::spec::{Options, Spec};
use descent_autodiff::{Gradients, Param, ParamId};
use descent_tensor::{vectorized, Float, Tensor, Vectorize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::path::Path;

/// A first-order optimizer: updates parameters in place from their gradients.
///
/// `params` is the slice a model hands out (`model.params_mut()`); each parameter's
/// gradient is looked up in `grads` by its [`ParamId`], and parameters without a gradient
/// are skipped (torch skips `p.grad is None`). State is keyed by `ParamId`, so the same
/// parameters may be passed in any order and on any tape.
///
/// ```
/// use descent_autodiff::{Param, Tape};
/// use descent_optim::build;
/// use descent_tensor::Tensor;
///
/// let mut w = Param::new(Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2])?);
/// let mut opt = build::<f64>("sgd:lr=0.1,momentum=0.9")?;
/// for _ in 0..3 {
///     let tape = Tape::new();
///     let loss = tape.param(&w).square()?.sum(&[], false)?;      // ‖w‖²
///     let grads = loss.backward()?;
///     opt.step(&mut [&mut w], &grads)?;
/// }
/// assert!(w.value.to_vec()[0].abs() < 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Its `Display` is the spec that rebuilds it with [`build`](crate::build) (the default
/// group's hyper-parameters at their current values; groups are added by parameter, so
/// they are not part of a spec).
pub trait Optimizer<F: Float>: Send + fmt::Display {
    /// The spec name (`sgd`, `adam`, ...), also stored in saved state.
    fn name(&self) -> &'static str;

    /// One step for every parameter that has a gradient.
    ///
    /// # Errors
    /// [`Error::GradShape`] if a gradient's shape differs from its parameter's,
    /// [`Error::NonFiniteGradient`] if one holds NaN or infinity (then nothing changed),
    /// [`Error::NeedsLoss`] for rules that compare losses (use
    /// [`Optimizer::step_with_loss`]).
    fn step(&mut self, params: &mut [&mut Param<F>], grads: &Gradients<F>) -> Result<()>;

    /// As [`Optimizer::step`], also giving the loss at the current parameters (iRprop+
    /// backtracks only when the loss went up). Other rules ignore it.
    ///
    /// # Errors
    /// As [`Optimizer::step`].
    fn step_with_loss(
        &mut self,
        params: &mut [&mut Param<F>],
        grads: &Gradients<F>,
        loss: f64,
    ) -> Result<()>;

    /// Number of parameter groups (1 + those added with [`Optimizer::add_group`]).
    fn num_groups(&self) -> usize;

    /// The learning rate of `group` (0 is the default group), if it exists.
    fn lr(&self, group: usize) -> Option<f64>;

    /// Sets the learning rate of `group` (what schedules do).
    ///
    /// # Errors
    /// [`Error::Group`] for a group that does not exist, [`Error::Hyperparameter`] for a
    /// negative or non-finite lr.
    fn set_lr(&mut self, group: usize, lr: f64) -> Result<()>;

    /// Puts the parameters `ids` in a new group whose hyper-parameters are the default
    /// group's with `overrides` (`"lr=0.01,weight_decay=0"`) applied. Returns its index.
    ///
    /// # Errors
    /// [`Error::UnknownKey`] / [`Error::Hyperparameter`] for bad overrides, [`Error::Spec`]
    /// for overrides that would change the buffers of a parameter that has already stepped
    /// (`momentum=0.9` for a plain SGD's parameter).
    fn add_group(&mut self, ids: &[ParamId], overrides: &str) -> Result<usize>;

    /// The state (per-parameter buffers, step counts, learning rates) with parameters
    /// numbered by their position in `ids`, so it can be loaded into another process
    /// whose parameters have other ids.
    ///
    /// # Errors
    /// Never for the built-in optimizers; the `Result` is for implementations that may.
    fn state_dict(&self, ids: &[ParamId]) -> Result<StateDict<F>>;

    /// Restores what [`Optimizer::state_dict`] returned, parameter `i` of the state going
    /// to `ids[i]`.
    ///
    /// # Errors
    /// [`Error::State`] if the state is from another optimizer, another dtype, another
    /// number of parameters or groups, or lacks a buffer.
    fn load_state_dict(&mut self, state: &StateDict<F>, ids: &[ParamId]) -> Result<()>;

    /// Writes [`Optimizer::state_dict`] to a safetensors file, atomically.
    ///
    /// # Errors
    /// [`Error::File`] if it cannot be written.
    fn save(&self, path: &Path, ids: &[ParamId]) -> Result<()> {
        self.state_dict(ids)?.save(path)
    }

    /// Reads a file written by [`Optimizer::save`] and loads it.
    ///
    /// # Errors
    /// [`Error::File`] if it cannot be read or parsed, else as
    /// [`Optimizer::load_state_dict`].
    fn load(&mut self, path: &Path, ids: &[ParamId]) -> Result<()> {
        let state = StateDict::load(path)?;
        self.load_state_dict(&state, ids)
    }
}

/// What an update may need besides the parameter, its gradient and its state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleCtx {
    /// Steps taken for this parameter, this one included (torch's `state['step']`): 1 in
    /// the first update.
    pub step: u64,
    /// Whether the loss went up since the previous step (`false` when unknown).
    pub loss_increased: bool,
}

/// The math of one first-order method, applied to one parameter at a time.
///
/// Implementors are config structs declared with an options table ([`Options`]: torch's
/// argument names, defaults and ranges), with a typed per-parameter state
/// ([`UpdateRule::State`]); [`FirstOrder`] does everything else, and the registry builds
/// them by name.
pub trait UpdateRule: Options + Debug + PartialEq + Send + Sync {
    /// A parameter's state: the rule's buffers (torch's names) and scalars.
    type State<F: Float>: RuleState<F, Rule = Self>;

    /// The spec name and the name stored in saved state.
    fn name(&self) -> &'static str;

    /// Checks what the table's ranges cannot say: relations between options (Nesterov
    /// needs momentum). The ranges are checked before.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] naming the option.
    fn check_relations(&self) -> Result<()> {
        Ok(())
    }

    /// The learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate (already validated).
    fn set_lr(&mut self, lr: f64);

    /// Whether each step needs the loss ([`Optimizer::step_with_loss`]).
    fn needs_loss(&self) -> bool {
        false
    }

    /// One step: `param` and `grad` have the same length, and so has every buffer of
    /// `state` (made by [`RuleState::new`] for this parameter, or loaded for it).
    fn update<F: Float>(
        &self,
        param: &mut [F],
        grad: &[F],
        state: &mut Self::State<F>,
        ctx: RuleCtx,
    );
}

/// The ranges of the table, then the rule's own relations.
fn validate<R: UpdateRule>(rule: &R) -> Result<()> {
    rule.check(rule.name())?;
    rule.check_relations()
}

/// A rule's per-parameter state, which saves and loads itself under torch's names.
pub trait RuleState<F: Float>: Clone + Debug + PartialEq + Send + Sync + Sized {
    /// The rule whose state this is.
    type Rule;

    /// Fresh state for a parameter of `numel` elements, as `rule` configures it.
    fn new(rule: &Self::Rule, numel: usize) -> Self;

    /// The buffers under torch's state names (`exp_avg`, `momentum_buffer`, …), for saving.
    fn buffers(&self) -> Vec<(&'static str, &[F])>;

    /// The scalars, in the order [`RuleState::load`] reads them (NAdam's `mu_product`).
    fn scalars(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Reads the state `rule` keeps back from a saved one.
    ///
    /// # Errors
    /// [`Error::State`] for a missing buffer or scalar, or one of the wrong shape or not
    /// finite.
    fn load(rule: &Self::Rule, saved: &mut Saved<'_, F>) -> Result<Self>;
}

/// Declares a rule's state struct of buffers (torch's state names) and its [`RuleState`]:
///
/// ```text
/// /// Doc.
/// pub struct AdamState for Adam {
///     /// Doc.
///     exp_avg,                                 // Vec<F>, zeros
///     max_exp_avg_sq if (|r| r.amsgrad),       // Option<Vec<F>>, kept when the rule says
///     step_size = |r| r.lr,                    // Vec<F> filled with what the rule says
/// }
/// ```
///
/// A state with scalars (NAdam's) implements [`RuleState`] by hand.
macro_rules! rule_state {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident for $rule:ty {
            $(
                $(#[doc = $doc:literal])*
                $buf:ident $(if ($kept:expr))? $(= $init:expr)?,
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        pub struct $name<F> {
            $(
                $(#[doc = $doc])*
                pub $buf: $crate::first_order::optimizer::rule_state!(@ty $($kept)?),
            )*
        }

        // By hand: `derive` does not take fields whose type a macro writes.
        impl<F: Clone> Clone for $name<F> {
            fn clone(&self) -> Self {
                $name { $($buf: self.$buf.clone(),)* }
            }
        }

        impl<F: PartialEq> PartialEq for $name<F> {
            fn eq(&self, other: &Self) -> bool {
                true $(&& self.$buf == other.$buf)*
            }
        }

        impl<F: std::fmt::Debug> std::fmt::Debug for $name<F> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    $(.field(stringify!($buf), &self.$buf))*
                    .finish()
            }
        }

        impl<F: Float> $crate::first_order::optimizer::RuleState<F> for $name<F> {
            type Rule = $rule;

            #[allow(unused_variables)]
            fn new(rule: &$rule, numel: usize) -> Self {
                $name {
                    $(
                        $buf: $crate::first_order::optimizer::rule_state!(
                            @new $rule, rule, numel, [$($kept)?], [$($init)?]
                        ),
                    )*
                }
            }

            #[allow(clippy::vec_init_then_push)]
            fn buffers(&self) -> Vec<(&'static str, &[F])> {
                let mut out: Vec<(&'static str, &[F])> = Vec::new();
                $(
                    $crate::first_order::optimizer::rule_state!(
                        @push out, &self.$buf, $buf, $($kept)?
                    );
                )*
                out
            }

            #[allow(unused_variables)]
            fn load(
                rule: &$rule,
                saved: &mut $crate::first_order::optimizer::Saved<'_, F>,
            ) -> $crate::error::Result<Self> {
                Ok($name {
                    $(
                        $buf: $crate::first_order::optimizer::rule_state!(
                            @load $rule, rule, saved, $buf, $($kept)?
                        ),
                    )*
                })
            }
        }
    };
    (@ty) => { Vec<F> };
    (@ty $kept:expr) => { Option<Vec<F>> };
    (@new $r:ty, $rule:ident, $n:ident, [], []) => { vec![F::zero(); $n] };
    (@new $r:ty, $rule:ident, $n:ident, [], [$init:expr]) => {{
        let init: fn(&$r) -> f64 = $init;
        vec![F::of(init($rule)); $n]
    }};
    (@new $r:ty, $rule:ident, $n:ident, [$kept:expr], [$($init:expr)?]) => {{
        let kept: fn(&$r) -> bool = $kept;
        kept($rule).then(|| {
            $crate::first_order::optimizer::rule_state!(@new $r, $rule, $n, [], [$($init)?])
        })
    }};
    (@push $out:ident, $v:expr, $buf:ident,) => {
        $out.push((stringify!($buf), &$v[..]))
    };
    (@push $out:ident, $v:expr, $buf:ident, $kept:expr) => {
        if let Some(b) = $v {
            $out.push((stringify!($buf), &b[..]))
        }
    };
    (@load $r:ty, $rule:ident, $saved:ident, $buf:ident,) => {
        $saved.buffer(stringify!($buf))?
    };
    (@load $r:ty, $rule:ident, $saved:ident, $buf:ident, $kept:expr) => {{
        let kept: fn(&$r) -> bool = $kept;
        $saved.optional(kept($rule), stringify!($buf))?
    }};
}
pub(crate) use rule_state;

/// One parameter's saved state, as [`RuleState::load`] reads it: buffers by name, checked
/// for shape and finiteness, and the scalars in order.
pub struct Saved<'a, F: Float> {
    sd: &'a StateDict<F>,
    index: usize,
    shape: Option<Vec<usize>>,
    scalars: Vec<f64>,
    read: usize,
}

impl<F: Float> Saved<'_, F> {
    /// The buffer `name`, which must be there.
    ///
    /// # Errors
    /// [`Error::State`] if it is missing, has another shape than the parameter, or holds
    /// NaN or infinity.
    pub fn buffer(&mut self, name: &str) -> Result<Vec<F>> {
        let i = self.index;
        let key = format!("param.{i}.{name}");
        let t = self.sd.tensors.get(&key).ok_or_else(|| {
            Error::state(format!(
                "parameter {i}: buffer `{name}` of {} is missing",
                self.sd.optimizer
            ))
        })?;
        let want = self.shape.get_or_insert_with(|| t.shape().to_vec());
        if want.as_slice() != t.shape() {
            return Err(Error::state(format!(
                "`{key}` has shape {:?} but parameter {i} has shape {want:?}",
                t.shape()
            )));
        }
        check_finite(&key, t)?;
        Ok(t.to_vec())
    }

    /// The buffer `name` if `kept` (the configuration keeps it), else `None`.
    ///
    /// # Errors
    /// As [`Saved::buffer`].
    pub fn optional(&mut self, kept: bool, name: &str) -> Result<Option<Vec<F>>> {
        kept.then(|| self.buffer(name)).transpose()
    }

    /// The next scalar (`name` is for the error).
    ///
    /// # Errors
    /// [`Error::State`] if fewer were saved.
    pub fn scalar(&mut self, name: &str) -> Result<f64> {
        let x = self.scalars.get(self.read).copied().ok_or_else(|| {
            Error::state(format!(
                "parameter {}: scalar `{name}` of {} is missing",
                self.index, self.sd.optimizer
            ))
        })?;
        self.read += 1;
        Ok(x)
    }
}

/// A parameter's state in [`FirstOrder`]: the step count and shape every rule has, and the
/// rule's own.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamState<S> {
    /// Steps taken for this parameter (torch's `state['step']`).
    pub step: u64,
    /// The parameter's shape (the shape of every buffer).
    pub shape: Vec<usize>,
    /// The rule's buffers and scalars.
    pub rule: S,
}

/// Drives an [`UpdateRule`]: parameter groups, per-parameter state keyed by [`ParamId`],
/// checks, and save/load. `FirstOrder<F, Adam>` is torch's `Adam`.
///
/// ```
/// use descent_autodiff::Param;
/// use descent_optim::{Optimizer, first_order::{Adam, FirstOrder}};
/// use descent_tensor::Tensor;
///
/// let w = Param::new(Tensor::<f32>::zeros(&[3]));
/// let b = Param::new(Tensor::<f32>::zeros(&[1]));
/// let mut opt = FirstOrder::<f32, _>::new(Adam { lr: 1e-2, ..Adam::default() })?;
/// opt.add_group(&[b.id()], "lr=0.1,weight_decay=0")?;   // the bias: its own lr
/// assert_eq!(opt.lr(1), Some(0.1));
/// assert!(FirstOrder::<f32, _>::new(Adam { betas: (1.0, 0.999), ..Adam::default() }).is_err());
/// # Ok::<(), descent_optim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FirstOrder<F: Float, R: UpdateRule> {
    groups: Vec<R>,
    group_of: HashMap<ParamId, usize>,
    states: HashMap<ParamId, ParamState<R::State<F>>>,
    last_loss: Option<f64>,
}

impl<F: Float, R: UpdateRule> FirstOrder<F, R> {
    /// An optimizer whose default group has the hyper-parameters `rule`.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if one is out of range.
    pub fn new(rule: R) -> Result<Self> {
        validate(&rule)?;
        Ok(FirstOrder {
            groups: vec![rule],
            group_of: HashMap::new(),
            states: HashMap::new(),
            last_loss: None,
        })
    }

    /// The hyper-parameters of `group`.
    pub fn group(&self, group: usize) -> Option<&R> {
        self.groups.get(group)
    }

    /// The state of one parameter, once it has taken a step.
    pub fn state(&self, id: ParamId) -> Option<&ParamState<R::State<F>>> {
        self.states.get(&id)
    }

    fn run(
        &mut self,
        params: &mut [&mut Param<F>],
        grads: &Gradients<F>,
        loss: Option<f64>,
    ) -> Result<()> {
        let name = self.groups[0].name();
        // Check everything before touching anything: a bad gradient changes nothing.
        for (index, p) in params.iter().enumerate() {
            let Some(g) = grads.by_id(p.id()) else {
                continue;
            };
            if g.shape() != p.shape() {
                return Err(Error::GradShape {
                    name: name.to_string(),
                    index,
                    param: p.shape().to_vec(),
                    grad: g.shape().to_vec(),
                });
            }
            if !all_finite(g) {
                return Err(Error::NonFiniteGradient {
                    name: name.to_string(),
                    index,
                    shape: p.shape().to_vec(),
                });
            }
            let rule = &self.groups[self.group_of.get(&p.id()).copied().unwrap_or(0)];
            if rule.needs_loss() && loss.is_none() {
                return Err(Error::NeedsLoss {
                    name: name.to_string(),
                    call: "step_with_loss",
                });
            }
            if let Some(st) = self.states.get(&p.id()) {
                if st.step >= MAX_COUNT {
                    return Err(Error::state(format!(
                        "{name}: parameter {index} has taken 2^53 steps, the most a state counts"
                    )));
                }
                if st.shape != p.shape() {
                    return Err(Error::state(format!(
                        "{name}: the state of parameter {index} has shape {:?} but the parameter has shape {:?}",
                        st.shape,
                        p.shape()
                    )));
                }
            }
        }
        let loss_increased = matches!((self.last_loss, loss), (Some(a), Some(b)) if b > a);
        for p in params.iter_mut() {
            let id = p.id();
            let Some(g) = grads.by_id(id) else {
                continue;
            };
            let rule = &self.groups[self.group_of.get(&id).copied().unwrap_or(0)];
            let state = self.states.entry(id).or_insert_with(|| ParamState {
                step: 0,
                shape: g.shape().to_vec(),
                rule: R::State::new(rule, g.numel()),
            });
            state.step += 1;
            let g: Cow<'_, [F]> = match g.as_slice() {
                Some(s) => Cow::Borrowed(s),
                None => Cow::Owned(g.to_vec()),
            };
            let ctx = RuleCtx {
                step: state.step,
                loss_increased,
            };
            rule.update(p.value.data_mut(), &g, &mut state.rule, ctx);
        }
        if loss.is_some() {
            self.last_loss = loss;
        }
        Ok(())
    }

    fn check_group(&self, group: usize) -> Result<()> {
        if group < self.groups.len() {
            Ok(())
        } else {
            Err(Error::Group {
                name: self.groups[0].name().to_string(),
                group,
                groups: self.groups.len(),
            })
        }
    }
}

/// The spec that rebuilds the default group: `adam:lr=0.01,amsgrad=true`.
impl<F: Float, R: UpdateRule> fmt::Display for FirstOrder<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::first_order::registry::spec_of(&self.groups[0]))
    }
}

impl<F: Float, R: UpdateRule> Optimizer<F> for FirstOrder<F, R> {
    fn name(&self) -> &'static str {
        self.groups[0].name()
    }

    fn step(&mut self, params: &mut [&mut Param<F>], grads: &Gradients<F>) -> Result<()> {
        self.run(params, grads, None)
    }

    fn step_with_loss(
        &mut self,
        params: &mut [&mut Param<F>],
        grads: &Gradients<F>,
        loss: f64,
    ) -> Result<()> {
        self.run(params, grads, Some(loss))
    }

    fn num_groups(&self) -> usize {
        self.groups.len()
    }

    fn lr(&self, group: usize) -> Option<f64> {
        self.groups.get(group).map(UpdateRule::lr)
    }

    fn set_lr(&mut self, group: usize, lr: f64) -> Result<()> {
        self.check_group(group)?;
        let rule = &mut self.groups[group];
        crate::spec::Allowed::NonNegative.check(rule.name(), "lr", lr)?;
        rule.set_lr(lr);
        Ok(())
    }

    fn add_group(&mut self, ids: &[ParamId], overrides: &str) -> Result<usize> {
        let base = &self.groups[0];
        let mut spec = Spec::parse_args(base.name(), overrides)?;
        let rule = R::read(&mut spec, base)?;
        spec.finish()?;
        validate(&rule)?;
        // A parameter that has stepped keeps its state: the new group must keep the same.
        let fresh = R::State::<F>::new(&rule, 0);
        let names = |st: &R::State<F>| -> Vec<&'static str> {
            st.buffers().iter().map(|(n, _)| *n).collect()
        };
        for (index, id) in ids.iter().enumerate() {
            if let Some(st) = self.states.get(id) {
                if names(&st.rule) != names(&fresh)
                    || st.rule.scalars().len() != fresh.scalars().len()
                {
                    return Err(Error::Spec {
                        spec: overrides.to_string(),
                        why: format!(
                            "{} parameter {index} has stepped with the buffers {:?}, and this group keeps {:?}",
                            rule.name(),
                            names(&st.rule),
                            names(&fresh)
                        ),
                    });
                }
            }
        }
        self.groups.push(rule);
        let group = self.groups.len() - 1;
        for &id in ids {
            self.group_of.insert(id, group);
        }
        Ok(group)
    }

    fn state_dict(&self, ids: &[ParamId]) -> Result<StateDict<F>> {
        let mut sd = StateDict::new(self.name());
        sd.set_meta("groups", self.groups.len());
        for (g, rule) in self.groups.iter().enumerate() {
            sd.set_meta(&format!("group.{g}.lr"), format!("{:?}", rule.lr()));
        }
        if let Some(loss) = self.last_loss {
            sd.set_meta("last_loss", format!("{loss:?}"));
        }
        sd.set_meta("params", ids.len());
        for (i, id) in ids.iter().enumerate() {
            let Some(st) = self.states.get(id) else {
                continue;
            };
            sd.set_meta(&format!("param.{i}.step"), st.step);
            // The shape is metadata, not read off a buffer: a rule without buffers (plain
            // SGD) has none to read it from.
            sd.set_meta(&format!("param.{i}.shape"), shape_to_meta(&st.shape));
            let scalars: Vec<String> = st.rule.scalars().iter().map(|x| format!("{x:?}")).collect();
            sd.set_meta(&format!("param.{i}.scalars"), scalars.join(","));
            for (name, buf) in st.rule.buffers() {
                let t = Tensor::from_slice(buf, &st.shape)?;
                sd.tensors.insert(format!("param.{i}.{name}"), t);
            }
        }
        Ok(sd)
    }

    fn load_state_dict(&mut self, sd: &StateDict<F>, ids: &[ParamId]) -> Result<()> {
        let name = self.name();
        if sd.optimizer != name {
            return Err(Error::state(format!(
                "the state was saved by `{}` and cannot be loaded into `{name}`",
                sd.optimizer
            )));
        }
        let groups: usize = sd.meta_parse("groups")?;
        if groups != self.groups.len() {
            return Err(Error::state(format!(
                "the state has {groups} parameter groups but this {name} has {}",
                self.groups.len()
            )));
        }
        let params: usize = sd.meta_parse("params")?;
        if params != ids.len() {
            return Err(Error::state(format!(
                "the state is for {params} parameters but {} were given",
                ids.len()
            )));
        }
        let mut states = HashMap::new();
        for (i, &id) in ids.iter().enumerate() {
            let key = format!("param.{i}.step");
            if !sd.meta.contains_key(&key) {
                continue;
            }
            let step = check_count(&key, sd.meta_parse(&key)?)?;
            let rule = &self.groups[self.group_of.get(&id).copied().unwrap_or(0)];
            let shape_key = format!("param.{i}.shape");
            let shape = match sd.meta.get(&shape_key) {
                Some(v) => Some(shape_from_meta(&shape_key, v)?),
                None => None,
            };
            let scalars = sd
                .meta_str(&format!("param.{i}.scalars"))?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| match s.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(x),
                    _ => Err(Error::state(format!(
                        "parameter {i}: scalar `{s}` is not a finite number"
                    ))),
                })
                .collect::<Result<Vec<f64>>>()?;
            let expected = R::State::<F>::new(rule, 0).scalars().len();
            if scalars.len() != expected {
                return Err(Error::state(format!(
                    "parameter {i}: {} scalars saved but {} keeps {expected}",
                    scalars.len(),
                    self.name()
                )));
            }
            let mut saved = Saved {
                sd,
                index: i,
                shape,
                scalars,
                read: 0,
            };
            let state = R::State::load(rule, &mut saved)?;
            let shape = saved.shape.ok_or_else(|| {
                Error::state(format!("`{shape_key}` is missing from the metadata"))
            })?;
            let state = ParamState {
                step,
                shape,
                rule: state,
            };
            states.insert(id, state);
        }
        let mut lrs = Vec::with_capacity(groups);
        for g in 0..groups {
            let key = format!("group.{g}.lr");
            let lr = sd.meta_parse::<f64>(&key)?;
            crate::spec::Allowed::NonNegative.check(self.name(), &key, lr)?;
            lrs.push(lr);
        }
        let last_loss = match sd.meta.get("last_loss") {
            Some(_) => Some(sd.meta_parse::<f64>("last_loss")?),
            None => None,
        };
        for (g, lr) in lrs.into_iter().enumerate() {
            self.set_lr(g, lr)?;
        }
        self.states = states;
        self.last_loss = last_loss;
        Ok(())
    }
}

/// Whether every element is finite, without copying: `0·x` is 0 for finite `x` and NaN
/// for NaN or ±∞, summed in 32 independent lanes (four AVX2 registers, so that the
/// additions' latency overlaps) by a loop compiled for the CPU's SIMD tier, and split
/// across the pool like the updates (otherwise it is serial work while the other worker
/// waits).
fn all_finite<F: Float>(g: &Tensor<F>) -> bool {
    /// The summing loop, for [`vectorized`].
    struct ZeroTimesSum<'a, F>(&'a [F]);
    impl<F: Float> Vectorize for ZeroTimesSum<'_, F> {
        type Output = F;
        #[inline(always)]
        fn run(self) -> F {
            let mut acc = [F::zero(); 32];
            let chunks = self.0.chunks_exact(32);
            let mut tail = F::zero();
            for &x in chunks.remainder() {
                tail += x * F::zero();
            }
            for c in chunks {
                for k in 0..32 {
                    acc[k] += c[k] * F::zero();
                }
            }
            acc.iter().fold(tail, |a, &b| a + b)
        }
    }
    /// Halves a long slice between the threads; any NaN in either half shows.
    fn finite<F: Float>(s: &[F]) -> bool {
        if s.len() < 2 * crate::first_order::kernel::PAR_MIN || rayon::current_num_threads() < 2 {
            return !vectorized(ZeroTimesSum(s)).is_nan();
        }
        let (a, b) = s.split_at(s.len() / 2);
        let (a, b) = rayon::join(|| finite(a), || finite(b));
        a && b
    }
    match g.as_slice() {
        Some(s) => finite(s),
        None => !g.has_non_finite(),
    }
}
