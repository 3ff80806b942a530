//! The reverse sweep. One loop serves both modes: plain backward runs each rule with
//! recording off, keeps gradients as tensors and drops every temporary node as soon as the
//! rule returns (so memory stays flat); with a graph (`grad`, PyTorch's
//! `create_graph=True`) the same rules are recorded, and the gradients are variables that
//! can be differentiated again.

use crate::error::{Error, Result};
use crate::param::{Param, ParamId};
use crate::tape::{Ctx, Tape, Var};
use descent_tensor::{Float, Tensor};
use std::collections::HashMap;
use std::ops::ControlFlow;

/// Gradients of a scalar with respect to every leaf it depends on, keyed by leaf.
/// A returned value: nothing is mutated, so there is no `zero_grad`; accumulating over
/// micro-batches is [`Gradients::accumulate`].
#[derive(Clone, Default)]
pub struct Gradients<F: Float> {
    map: HashMap<ParamId, Tensor<F>>,
}

impl<F: Float> Gradients<F> {
    /// No gradients.
    pub fn new() -> Self {
        Gradients {
            map: HashMap::new(),
        }
    }

    /// The gradient of a parameter, if the output depended on it.
    pub fn get(&self, p: &Param<F>) -> Option<&Tensor<F>> {
        self.map.get(&p.id())
    }

    /// The gradient of a leaf variable (from [`Tape::var`] or [`Tape::param`]).
    pub fn wrt(&self, v: Var<'_, F>) -> Option<&Tensor<F>> {
        let leaf = v.tape.nodes.borrow()[v.id].leaf;
        leaf.and_then(|id| self.map.get(&id))
    }

    /// The gradient stored under a leaf id.
    pub fn by_id(&self, id: ParamId) -> Option<&Tensor<F>> {
        self.map.get(&id)
    }

    /// Mutable access to the gradient stored under a leaf id: for work done in the
    /// gradient's own storage, as summing it across processes without a copy.
    pub fn by_id_mut(&mut self, id: ParamId) -> Option<&mut Tensor<F>> {
        self.map.get_mut(&id)
    }

    /// Sets or replaces a gradient (e.g. after clipping).
    pub fn insert(&mut self, id: ParamId, g: Tensor<F>) {
        self.map.insert(id, g);
    }

    /// Iterates over `(leaf id, gradient)` pairs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &Tensor<F>)> {
        self.map.iter().map(|(&k, v)| (k, v))
    }

    /// Mutable access to every gradient (for clipping or scaling in place).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Tensor<F>> {
        self.map.values_mut()
    }

    /// Number of leaves with a gradient.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds `other` into `self` leaf by leaf (gradient accumulation over micro-batches).
    ///
    /// # Errors
    /// A shape error if the same leaf has gradients of different shapes.
    pub fn accumulate(&mut self, other: &Gradients<F>) -> Result<()> {
        for (id, g) in &other.map {
            match self.map.get_mut(id) {
                Some(mine) => mine.add_inplace(g)?,
                None => {
                    self.map.insert(*id, g.clone());
                }
            }
        }
        Ok(())
    }

    /// Multiplies every gradient by `c` (e.g. `1/k` after accumulating `k` micro-batches).
    pub fn scale(&mut self, c: F) {
        self.map.values_mut().for_each(|g| g.scale_inplace(c));
    }
}

/// Options for [`Var::backward_with`].
#[derive(Clone, Default)]
pub struct BackwardOptions<F: Float> {
    /// The gradient of the final result with respect to this output; required unless the
    /// output is a scalar (then it defaults to 1).
    pub seed: Option<Tensor<F>>,
    /// Keep the saved values so the tape can be differentiated again (PyTorch's
    /// `retain_graph`). Without it, values of interior nodes are freed as the sweep passes.
    pub retain_graph: bool,
}

/// A gradient during the sweep: a tensor in plain mode, a recorded variable with a graph.
#[derive(Clone)]
enum Grad<'t, F: Float> {
    Value(Tensor<F>),
    Node(Var<'t, F>),
}

impl<'t, F: Float> Grad<'t, F> {
    fn into_var(self, tape: &'t Tape<F>) -> Var<'t, F> {
        match self {
            Grad::Value(t) => tape.constant(t),
            Grad::Node(v) => v,
        }
    }

    fn add(self, other: Grad<'t, F>) -> Result<Grad<'t, F>> {
        Ok(match (self, other) {
            (Grad::Value(mut a), Grad::Value(b)) => {
                a.add_inplace(&b)?;
                Grad::Value(a)
            }
            (Grad::Node(a), Grad::Node(b)) => Grad::Node(a.add(b)?),
            _ => unreachable!("one sweep uses one representation"),
        })
    }
}

impl<'t, F: Float> Var<'t, F> {
    /// Gradients of this scalar with respect to every leaf it depends on. Interior values
    /// are freed as the sweep passes them (read what you need first).
    ///
    /// # Errors
    /// [`Error::NotScalar`] for a non-scalar output; [`Error::Freed`] on a second call.
    pub fn backward(self) -> Result<Gradients<F>> {
        self.backward_with(BackwardOptions::default())
    }

    /// [`Var::backward`] with a seed gradient and/or `retain_graph`.
    ///
    /// # Errors
    /// [`Error::NotScalar`], [`Error::SeedShape`], [`Error::Freed`].
    pub fn backward_with(self, opts: BackwardOptions<F>) -> Result<Gradients<F>> {
        self.backward_hooked(opts, None)
    }

    /// [`Var::backward`], handing each leaf's gradient to `on_final` as soon as it is final:
    /// the reverse sweep reaches a leaf only after every use of it has been differentiated.
    /// Leaves come in reverse order of their first use, so a model's layers come last
    /// first. For work that can start before backward ends, as sending a layer's
    /// gradients to other processes while earlier layers' are still being computed
    /// (PyTorch DDP's gradient hooks). An error from `on_final` stops the sweep and is
    /// returned as it was.
    ///
    /// ```
    /// use descent_autodiff::{Param, Tape};
    /// use descent_tensor::Tensor;
    /// let (w1, w2) = (Param::new(Tensor::scalar(2.0)), Param::new(Tensor::scalar(3.0)));
    /// let tape = Tape::<f64>::new();
    /// let y = tape.param(&w1).mul(tape.param(&w2))?.square()?; // (w1 w2)²
    /// let mut seen = Vec::new();
    /// let grads = y.backward_each(|id, g| {
    ///     seen.push((id, g.item()?));
    ///     Ok::<(), descent_autodiff::Error>(())
    /// })?;
    /// // w2 was used last, so its gradient is final first: 2·6·2 = 24, then 2·6·3 = 36.
    /// assert_eq!(seen, vec![(w2.id(), 24.0), (w1.id(), 36.0)]);
    /// assert_eq!(grads.get(&w1).unwrap().item()?, 36.0);
    /// # Ok::<(), descent_autodiff::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Var::backward`], and `on_final`'s error.
    pub fn backward_each<E: From<Error>>(
        self,
        mut on_final: impl FnMut(ParamId, &Tensor<F>) -> std::result::Result<(), E>,
    ) -> std::result::Result<Gradients<F>, E> {
        let mut failed = None;
        let mut hook = |id: ParamId, g: &Tensor<F>| match on_final(id, g) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        };
        let grads = self.backward_hooked(BackwardOptions::default(), Some(&mut hook));
        match failed {
            Some(e) => Err(e),
            None => Ok(grads?),
        }
    }

    fn backward_hooked(
        self,
        opts: BackwardOptions<F>,
        hook: Option<Hook<'_, F>>,
    ) -> Result<Gradients<F>> {
        let seed = Grad::Value(self.seed(opts.seed)?);
        let tape = self.tape;
        let mark = tape.len();
        let grads = sweep(self, seed, !opts.retain_graph, false, hook);
        let mut out = Gradients::new();
        let result = grads.map(|grads| {
            let nodes = tape.nodes.borrow();
            for (i, g) in grads.into_iter().enumerate() {
                if let (Some(leaf), Some(Grad::Value(g))) = (nodes[i].leaf, g) {
                    out.map.insert(leaf, g);
                }
            }
        });
        tape.nodes.borrow_mut().truncate(mark);
        result.map(|()| out)
    }

    /// Gradients of this output with respect to `wrt` as variables recorded on the tape, so
    /// they can be differentiated again (PyTorch's `autograd.grad(create_graph=True)`).
    /// A `wrt` the output does not depend on gets a zero gradient. Nothing is freed.
    ///
    /// ```
    /// use descent_autodiff::Tape;
    /// use descent_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::scalar(3.0));
    /// let y = x.powf(3.0)?;                           // y = x³
    /// let dy = y.grad(&[x], None)?[0];                // 3x² = 27
    /// let d2y = dy.grad(&[x], None)?[0];              // 6x = 18
    /// assert_eq!((dy.item()?, d2y.item()?), (27.0, 18.0));
    /// # Ok::<(), descent_autodiff::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotScalar`] without a seed for a non-scalar output, [`Error::SeedShape`];
    /// [`Error::ForeignTape`] if a `wrt` or the seed lives on another tape (a node index
    /// means nothing there: it would name an unrelated node).
    pub fn grad(self, wrt: &[Var<'t, F>], seed: Option<Var<'t, F>>) -> Result<Vec<Var<'t, F>>> {
        if wrt.iter().chain(&seed).any(|v| !self.same_tape(v)) {
            return Err(Error::ForeignTape { op: "grad" });
        }
        let seed = match seed {
            Some(s) if s.shape() != self.shape() => {
                return Err(Error::SeedShape {
                    expected: self.shape(),
                    got: s.shape(),
                })
            }
            Some(s) => s,
            None => self.constant(self.seed(None)?),
        };
        let grads = sweep(self, Grad::Node(seed), false, true, None)?;
        wrt.iter()
            .map(|w| match grads.get(w.id).cloned().flatten() {
                Some(Grad::Node(g)) => Ok(g),
                _ => Ok(self.constant(Tensor::zeros(&w.shape()))),
            })
            .collect()
    }

    fn seed(&self, seed: Option<Tensor<F>>) -> Result<Tensor<F>> {
        let shape = self.shape();
        match seed {
            Some(s) if s.shape() != shape.as_slice() => Err(Error::SeedShape {
                expected: shape,
                got: s.shape().to_vec(),
            }),
            Some(s) => Ok(s),
            None if shape.iter().product::<usize>() == 1 => Ok(Tensor::ones(&shape)),
            None => Err(Error::NotScalar(shape)),
        }
    }
}

/// Called with a leaf's gradient when the sweep reaches it; `Break` stops the sweep.
type Hook<'h, F> = &'h mut dyn FnMut(ParamId, &Tensor<F>) -> ControlFlow<()>;

/// Runs the rules from `root` back to the leaves and returns each node's gradient.
fn sweep<'t, F: Float>(
    root: Var<'t, F>,
    seed: Grad<'t, F>,
    free: bool,
    create_graph: bool,
    mut hook: Option<Hook<'_, F>>,
) -> Result<Vec<Option<Grad<'t, F>>>> {
    let tape = root.tape;
    let mut grads: Vec<Option<Grad<'t, F>>> = vec![None; root.id + 1];
    grads[root.id] = Some(seed);
    let was_recording = tape.set_recording(create_graph);
    let result = (|| {
        for i in (0..=root.id).rev() {
            if grads[i].is_none() {
                continue;
            }
            let step = {
                let mut nodes = tape.nodes.borrow_mut();
                let node = &mut nodes[i];
                if node.inputs.is_empty() {
                    Err(node.leaf) // a leaf or a constant
                } else {
                    let Some(rule) = node.rule.take() else {
                        return Err(Error::Freed {
                            op: node.label,
                            node: i,
                        });
                    };
                    let inputs = node.inputs.clone();
                    let needs = inputs.iter().map(|&j| nodes[j].requires_grad).collect();
                    Ok((nodes[i].label, (inputs, needs), rule))
                }
            };
            let (label, inputs, rule) = match step {
                Ok(step) => step,
                Err(leaf) => {
                    // Every node after a leaf has run, so its gradient is final.
                    if let (Some(hook), Some(id), Some(Grad::Value(g))) =
                        (hook.as_mut(), leaf, &grads[i])
                    {
                        if hook(id, g).is_break() {
                            return Ok(());
                        }
                    }
                    continue;
                }
            };
            // Plain mode reports only leaves' gradients, so an interior one is moved out; a
            // graph keeps it for `grad(wrt)` on interior variables.
            let g = match &mut grads[i] {
                Some(g) if create_graph => g.clone(),
                g => g.take().ok_or(Error::Freed { op: label, node: i })?,
            };
            let mark = tape.len();
            let ctx = Ctx {
                g: g.into_var(tape),
                out: Var { tape, id: i },
                inputs: inputs.0.iter().map(|&id| Var { tape, id }).collect(),
                needs: inputs.1,
            };
            let got = rule(&ctx);
            {
                let mut nodes = tape.nodes.borrow_mut();
                if free {
                    nodes[i].value = if i == root.id {
                        nodes[i].value.take()
                    } else {
                        None
                    };
                } else {
                    nodes[i].rule = Some(rule);
                }
            }
            for (k, gk) in got?.into_iter().enumerate() {
                let (j, Some(gk)) = (ctx.inputs[k].id, gk) else {
                    continue;
                };
                let (expected, found) = (ctx.inputs[k].dims(), gk.dims());
                if expected != found {
                    return Err(Error::BackwardShape {
                        op: label,
                        expected: expected.to_vec(),
                        got: found.to_vec(),
                    });
                }
                let gk = if create_graph {
                    Grad::Node(gk)
                } else {
                    Grad::Value(gk.value()?)
                };
                grads[j] = Some(match grads[j].take() {
                    Some(prev) => prev.add(gk)?,
                    None => gk,
                });
            }
            if !create_graph {
                tape.nodes.borrow_mut().truncate(mark); // the rule's temporaries
            }
        }
        Ok(())
    })();
    tape.set_recording(was_recording);
    result.map(|()| grads)
}
