//! The tape: a Wengert list of recorded ops. Nodes are appended in creation order, so the
//! backward pass is a reverse `for` loop (no topological sort, no recursion). A [`Var`] is a
//! `Copy` handle (tape + index) that cannot outlive its tape.

use crate::error::{Error, Result};
use crate::param::{Param, ParamId};
use descent_tensor::layout::Dims;
use descent_tensor::{Float, Tensor};
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// A backward rule: given the upstream gradient `g`, the inputs and the output as
/// variables, returns the gradient of each input that [`Ctx::needs`] it. Rules are written
/// with `Var` ops, so the backward pass can itself be recorded (higher-order derivatives).
pub type Rule<F> = Box<dyn for<'a> Fn(&Ctx<'a, F>) -> Result<Vec<Option<Var<'a, F>>>>>;

pub(crate) struct Node<F: Float> {
    pub(crate) label: &'static str,
    /// The forward value; `None` once a backward pass freed it.
    pub(crate) value: Option<Tensor<F>>,
    pub(crate) inputs: SmallVec<[usize; 2]>,
    pub(crate) rule: Option<Rule<F>>,
    /// Set for leaves whose gradient is reported.
    pub(crate) leaf: Option<ParamId>,
    /// Whether a gradient can flow to a leaf through this node.
    pub(crate) requires_grad: bool,
}

/// Records operations on tensors so that their gradients can be computed in reverse.
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3])?);
/// let y = x.square()?.sum(&[], false)?;          // y = Σ x²
/// let grads = y.backward()?;
/// assert_eq!(grads.wrt(x).map(|g| g.to_vec()), Some(vec![2.0, 4.0, 6.0]));
/// # Ok::<(), descent_autodiff::Error>(())
/// ```
pub struct Tape<F: Float> {
    pub(crate) nodes: RefCell<Vec<Node<F>>>,
    params: RefCell<HashMap<ParamId, usize>>,
    recording: Cell<bool>,
    anomaly: Cell<bool>,
}

/// Recording paused on a tape until this guard is dropped; see [`Tape::no_grad_guard`].
#[must_use = "recording resumes as soon as the guard is dropped: bind it with `let _paused = …`"]
pub struct NoGradGuard<'t, F: Float> {
    tape: &'t Tape<F>,
    before: bool,
}

impl<F: Float> Drop for NoGradGuard<'_, F> {
    fn drop(&mut self) {
        self.tape.recording.set(self.before);
    }
}

/// A value recorded on a [`Tape`]: a `Copy` handle to one node.
#[derive(Clone, Copy)]
pub struct Var<'t, F: Float> {
    pub(crate) tape: &'t Tape<F>,
    pub(crate) id: usize,
}

impl<F: Float> Default for Tape<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Float> Tape<F> {
    /// An empty tape, recording.
    pub fn new() -> Self {
        Tape {
            nodes: RefCell::new(Vec::with_capacity(64)),
            params: RefCell::new(HashMap::new()),
            recording: Cell::new(true),
            anomaly: Cell::new(false),
        }
    }

    /// A leaf that requires a gradient (look it up with [`crate::Gradients::wrt`]).
    pub fn var(&self, value: Tensor<F>) -> Var<'_, F> {
        self.push(Node {
            label: "var",
            value: Some(value),
            inputs: SmallVec::new(),
            rule: None,
            leaf: Some(ParamId::fresh()),
            requires_grad: true,
        })
    }

    /// A value that needs no gradient (inputs, targets, masks).
    pub fn constant(&self, value: Tensor<F>) -> Var<'_, F> {
        self.push(Node {
            label: "constant",
            value: Some(value),
            inputs: SmallVec::new(),
            rule: None,
            leaf: None,
            requires_grad: false,
        })
    }

    /// The leaf for a parameter; asking twice on one tape gives the same `Var`.
    pub fn param(&self, p: &Param<F>) -> Var<'_, F> {
        if let Some(&id) = self.params.borrow().get(&p.id()) {
            return Var { tape: self, id };
        }
        let v = self.push(Node {
            label: "param",
            value: Some(p.value.clone()),
            inputs: SmallVec::new(),
            rule: None,
            leaf: Some(p.id()),
            requires_grad: true,
        });
        self.params.borrow_mut().insert(p.id(), v.id);
        v
    }

    /// Makes [`Tape::param`] return `v` for `p` on this tape from now on, so a model reads
    /// `v` where it reads its parameter: how a module is checked or differentiated at
    /// parameter values other than its own without touching it (a module gradcheck
    /// perturbs them one by one). `v`'s gradient is found with [`Gradients::wrt`]`(v)`.
    ///
    /// # Errors
    /// [`Error::ForeignTape`] if `v` is on another tape; a shape mismatch naming both
    /// shapes if `v`'s shape is not the parameter's.
    ///
    /// [`Gradients::wrt`]: crate::Gradients::wrt
    pub fn bind_param<'t>(&'t self, p: &Param<F>, v: Var<'t, F>) -> Result<()> {
        if !std::ptr::eq(v.tape, self) {
            return Err(Error::ForeignTape { op: "bind_param" });
        }
        if v.shape() != p.value.shape() {
            return Err(descent_tensor::Error::ShapeMismatch {
                op: "bind_param",
                expected: p.value.shape().to_vec(),
                got: v.shape(),
            }
            .into());
        }
        self.params.borrow_mut().insert(p.id(), v.id);
        Ok(())
    }

    /// Runs `f` without recording: ops inside produce values but no gradients flow
    /// through them (PyTorch's `torch.no_grad()`). `R` is anything, so `f` may return a
    /// `Result` with any error; a closure that uses `?` on calls into several crates names
    /// its error once (`|| -> descent::Result<_> { … }`), or use [`Tape::no_grad_guard`],
    /// whose `?` goes straight to the enclosing function.
    ///
    /// ```
    /// use descent_autodiff::{Error, Tape};
    /// use descent_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, -2.0], &[2])?);
    /// let y = tape.no_grad(|| -> Result<_, Error> { x.relu()?.mul_scalar(2.0) })?;
    /// assert!(!y.requires_grad());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        let _paused = self.no_grad_guard();
        f()
    }

    /// Stops recording until the returned guard is dropped (the end of its scope), as
    /// [`Tape::no_grad`] without a closure: `?` inside the scope returns from the enclosing
    /// function with its own error type. Recording resumes as it was, also on early return.
    ///
    /// ```
    /// use descent_autodiff::Tape;
    /// use descent_tensor::Tensor;
    /// fn scaled(tape: &Tape<f64>) -> Result<f64, Box<dyn std::error::Error>> {
    ///     let x = tape.var(Tensor::from_vec(vec![3.0], &[1])?);
    ///     let _paused = tape.no_grad_guard();
    ///     let y = x.mul_scalar(2.0)?.sum_all()?;
    ///     assert!(!tape.is_recording());
    ///     Ok(y.item()?)
    /// }
    /// let tape = Tape::new();
    /// assert_eq!(scaled(&tape)?, 6.0);
    /// assert!(tape.is_recording());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn no_grad_guard(&self) -> NoGradGuard<'_, F> {
        NoGradGuard {
            tape: self,
            before: self.recording.replace(false),
        }
    }

    /// With anomaly detection on, the first op whose output holds NaN or ±inf fails with
    /// [`Error::NonFinite`] naming it and its shapes. Costs one pass over each output.
    pub fn set_anomaly_detection(&self, on: bool) {
        self.anomaly.set(on);
    }

    /// Number of nodes recorded.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether ops are recorded for differentiation (false inside [`Tape::no_grad`]).
    pub fn is_recording(&self) -> bool {
        self.recording.get()
    }

    pub(crate) fn set_recording(&self, on: bool) -> bool {
        self.recording.replace(on)
    }

    fn push(&self, node: Node<F>) -> Var<'_, F> {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(node);
        Var {
            tape: self,
            id: nodes.len() - 1,
        }
    }

    /// Appends an op's output: how to write a custom op. `rule` receives a [`Ctx`] (the
    /// upstream gradient `g`, the inputs `x(i)` and the output `out` as variables) and
    /// returns each input's gradient (`None` where [`Ctx::needs`] is false). Write it with
    /// `Var` ops and the op is differentiable to any order. The rule is kept only if
    /// recording is on and some input requires a gradient; otherwise the node is a
    /// constant and costs nothing in backward. Check a new op with [`crate::gradcheck`].
    ///
    /// ```
    /// use descent_autodiff::{gradcheck, Tape, Tolerances, Var};
    /// use descent_tensor::Tensor;
    /// /// x³ as a custom op: forward on tensors, backward as g·3x².
    /// fn cube<'t>(x: Var<'t, f64>) -> descent_autodiff::Result<Var<'t, f64>> {
    ///     let value = x.value()?.powf(3.0);
    ///     x.tape().record("cube", value, &[x], |c| Ok(vec![Some(c.g.mul(c.x(0).square()?.mul_scalar(3.0)?)?)]))
    /// }
    /// let x = Tensor::from_vec(vec![0.5, -2.0], &[2])?;
    /// assert!(gradcheck(|_, v| cube(v[0]), &[x], Tolerances::default())?.passed);
    /// # Ok::<(), descent_autodiff::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ForeignTape`] if an input lives on another tape; [`Error::NonFinite`] in
    /// anomaly mode.
    pub fn record<'t>(
        &'t self,
        label: &'static str,
        value: Tensor<F>,
        inputs: &[Var<'t, F>],
        rule: impl for<'a> Fn(&Ctx<'a, F>) -> Result<Vec<Option<Var<'a, F>>>> + 'static,
    ) -> Result<Var<'t, F>> {
        if inputs.iter().any(|v| !std::ptr::eq(v.tape, self)) {
            return Err(Error::ForeignTape { op: label });
        }
        if self.anomaly.get() && value.has_non_finite() {
            let shapes = inputs.iter().map(|v| v.shape()).collect();
            return Err(Error::NonFinite {
                op: label,
                inputs: shapes,
                output: value.shape().to_vec(),
            });
        }
        let requires_grad = self.recording.get() && {
            let nodes = self.nodes.borrow();
            inputs.iter().any(|v| nodes[v.id].requires_grad)
        };
        let (ids, rule): (SmallVec<[usize; 2]>, Option<Rule<F>>) = if requires_grad {
            (inputs.iter().map(|v| v.id).collect(), Some(Box::new(rule)))
        } else {
            (SmallVec::new(), None)
        };
        Ok(self.push(Node {
            label,
            value: Some(value),
            inputs: ids,
            rule,
            leaf: None,
            requires_grad,
        }))
    }

    /// The value of node `id`, or [`Error::Freed`].
    pub(crate) fn value_of(&self, id: usize) -> Result<Tensor<F>> {
        let nodes = self.nodes.borrow();
        let n = &nodes[id];
        n.value.clone().ok_or(Error::Freed {
            op: n.label,
            node: id,
        })
    }

    /// The shape of node `id` (empty if freed), inline for rank ≤ 4.
    pub(crate) fn dims_of(&self, id: usize) -> Dims {
        self.nodes.borrow()[id]
            .value
            .as_ref()
            .map(|v| Dims::from_slice(v.shape()))
            .unwrap_or_default()
    }
}

impl<'t, F: Float> Var<'t, F> {
    /// The forward value.
    ///
    /// # Errors
    /// [`Error::Freed`] if a backward pass (without `retain_graph`) freed it: read values
    /// you need before calling backward. Leaves and the output backward started from are
    /// never freed.
    pub fn value(&self) -> Result<Tensor<F>> {
        self.tape.value_of(self.id)
    }

    /// Runs `f` on the forward value in place: no clone, no reference-count traffic (every
    /// op's forward reads its inputs this way). `f` must not record on the tape.
    pub(crate) fn with_value<R>(&self, f: impl FnOnce(&Tensor<F>) -> R) -> Result<R> {
        let nodes = self.tape.nodes.borrow();
        let node = &nodes[self.id];
        node.value.as_ref().map(f).ok_or(Error::Freed {
            op: node.label,
            node: self.id,
        })
    }

    /// [`Var::with_value`] on two variables of the same tape.
    pub(crate) fn with_values<R>(
        &self,
        other: Var<'t, F>,
        f: impl FnOnce(&Tensor<F>, &Tensor<F>) -> R,
    ) -> Result<R> {
        other.with_value(|b| self.with_value(|a| f(a, b)))?
    }

    /// The single element of a one-element value (a loss, typically).
    ///
    /// # Errors
    /// [`Error::Freed`], or a tensor error if the value has more than one element.
    pub fn item(&self) -> Result<F> {
        Ok(self.value()?.item()?)
    }

    /// The value's shape (empty if freed).
    pub fn shape(&self) -> Vec<usize> {
        self.dims().to_vec()
    }

    /// [`Var::shape`] without allocating, for the rules' own checks.
    pub(crate) fn dims(&self) -> Dims {
        self.tape.dims_of(self.id)
    }

    /// The tape this variable lives on.
    pub fn tape(&self) -> &'t Tape<F> {
        self.tape
    }

    /// Whether `other` was recorded on the same tape: node indices mean something only on
    /// their own tape.
    pub(crate) fn same_tape(&self, other: &Var<'_, F>) -> bool {
        std::ptr::eq(self.tape, other.tape)
    }

    /// Whether gradients flow through this variable.
    pub fn requires_grad(&self) -> bool {
        self.tape.nodes.borrow()[self.id].requires_grad
    }

    /// The same value as a constant: gradients stop here (PyTorch's `detach`).
    ///
    /// # Errors
    /// [`Error::Freed`] if the value was freed.
    pub fn detach(self) -> Result<Var<'t, F>> {
        Ok(self.tape.constant(self.value()?))
    }

    /// Records an op computed from `self` alone.
    pub(crate) fn unary_op(
        self,
        label: &'static str,
        value: Tensor<F>,
        rule: impl for<'a> Fn(&Ctx<'a, F>) -> Result<Vec<Option<Var<'a, F>>>> + 'static,
    ) -> Result<Var<'t, F>> {
        self.tape.record(label, value, &[self], rule)
    }

    /// A constant on the same tape.
    pub(crate) fn constant(self, value: Tensor<F>) -> Var<'t, F> {
        self.tape.constant(value)
    }
}

impl<F: Float> std::fmt::Debug for Var<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let label = self.tape.nodes.borrow()[self.id].label;
        write!(f, "Var(#{} {label}, shape={:?})", self.id, self.shape())
    }
}

/// What a backward rule sees: the upstream gradient, the inputs and the output.
pub struct Ctx<'a, F: Float> {
    /// The gradient of the final output with respect to this op's output.
    pub g: Var<'a, F>,
    /// This op's output.
    pub out: Var<'a, F>,
    pub(crate) inputs: SmallVec<[Var<'a, F>; 2]>,
    pub(crate) needs: SmallVec<[bool; 2]>,
}

impl<'a, F: Float> Ctx<'a, F> {
    /// Input `i` of the op.
    pub fn x(&self, i: usize) -> Var<'a, F> {
        self.inputs[i]
    }

    /// Whether input `i` needs a gradient.
    pub fn needs(&self, i: usize) -> bool {
        self.needs[i]
    }

    /// Computes input `i`'s gradient with `f` only if it is needed.
    pub fn need(
        &self,
        i: usize,
        f: impl FnOnce() -> Result<Var<'a, F>>,
    ) -> Result<Option<Var<'a, F>>> {
        if self.needs[i] {
            f().map(Some)
        } else {
            Ok(None)
        }
    }
}
