//! A module's state as named pieces: [`Buffer`] and [`BufferMut`] (what `state_dict` reads
//! and a load writes), and the [`params!`](crate::params) and [`buffers!`](crate::buffers)
//! macros, which list a layer's parameters or buffers once and write both the shared and
//! the mutable accessor of [`Module`](crate::Module) from that one list.
//!
//! This module sits below both `module.rs` (which names state) and `serialize.rs` (which
//! writes it), so neither imports the other for it.

use descent_autodiff::Param;
use descent_tensor::{Float, Tensor};
use std::cell::{Cell, RefCell};

/// A named piece of a model's state, by value (tensors share storage, so this is cheap).
#[derive(Debug, Clone)]
pub enum Buffer<F: Float> {
    /// A float tensor (a parameter, a running mean or variance).
    Float(Tensor<F>),
    /// A count (BatchNorm's `num_batches_tracked`), stored as a 0-dim `I64`.
    Count(u64),
}

/// A named piece of a model's state, to be overwritten by a load.
#[derive(Debug)]
pub enum BufferMut<'a, F: Float> {
    /// A float tensor; the loaded tensor must have its current shape.
    Float(&'a mut Tensor<F>),
    /// A count, loaded from a 0-dim `I64`.
    Count(&'a mut u64),
}

/// A field that holds parameters: a [`Param`], or an optional one (a bias that may be
/// switched off). Used by [`params!`](crate::params).
pub trait ParamSlot<F: Float> {
    /// Appends the field's parameters, named `name`.
    fn collect<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a Param<F>)>);
    /// Appends the field's parameters mutably, in the order of [`ParamSlot::collect`].
    fn collect_mut<'a>(&'a mut self, name: &str, out: &mut Vec<(String, &'a mut Param<F>)>);
}

impl<F: Float> ParamSlot<F> for Param<F> {
    fn collect<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a Param<F>)>) {
        out.push((name.to_string(), self));
    }
    fn collect_mut<'a>(&'a mut self, name: &str, out: &mut Vec<(String, &'a mut Param<F>)>) {
        out.push((name.to_string(), self));
    }
}

impl<F: Float> ParamSlot<F> for Option<Param<F>> {
    fn collect<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a Param<F>)>) {
        if let Some(p) = self {
            p.collect(name, out);
        }
    }
    fn collect_mut<'a>(&'a mut self, name: &str, out: &mut Vec<(String, &'a mut Param<F>)>) {
        if let Some(p) = self {
            p.collect_mut(name, out);
        }
    }
}

/// A field that holds a buffer: a tensor or a count, plain or behind the `RefCell` / `Cell`
/// a forward pass updates it through. Used by [`buffers!`](crate::buffers).
pub trait BufferSlot<F: Float> {
    /// The buffer's current value.
    fn buffer(&self) -> Buffer<F>;
    /// The buffer, to be overwritten.
    fn buffer_mut(&mut self) -> BufferMut<'_, F>;
}

impl<F: Float> BufferSlot<F> for Tensor<F> {
    fn buffer(&self) -> Buffer<F> {
        Buffer::Float(self.clone())
    }
    fn buffer_mut(&mut self) -> BufferMut<'_, F> {
        BufferMut::Float(self)
    }
}

impl<F: Float> BufferSlot<F> for RefCell<Tensor<F>> {
    fn buffer(&self) -> Buffer<F> {
        Buffer::Float(self.borrow().clone())
    }
    fn buffer_mut(&mut self) -> BufferMut<'_, F> {
        BufferMut::Float(self.get_mut())
    }
}

impl<F: Float> BufferSlot<F> for u64 {
    fn buffer(&self) -> Buffer<F> {
        Buffer::Count(*self)
    }
    fn buffer_mut(&mut self) -> BufferMut<'_, F> {
        BufferMut::Count(self)
    }
}

impl<F: Float> BufferSlot<F> for Cell<u64> {
    fn buffer(&self) -> Buffer<F> {
        Buffer::Count(self.get())
    }
    fn buffer_mut(&mut self) -> BufferMut<'_, F> {
        BufferMut::Count(self.get_mut())
    }
}

/// Writes [`Module::named_params`](crate::Module::named_params) and
/// [`Module::named_params_mut`](crate::Module::named_params_mut) inside an `impl Module<F>`
/// block from one list of fields, each a `Param<F>` or an `Option<Param<F>>` (see
/// [`ParamSlot`]), named as the fields — PyTorch's `state_dict` names when the fields carry
/// PyTorch's names. The first argument is the impl's float type.
///
/// ```
/// use descent_autodiff::{Param, Tape, Var};
/// use descent_nn::{Mode, Module};
/// use descent_tensor::{Float, Tensor};
///
/// /// `y = x·scale + shift`, element-wise.
/// struct Affine<F: Float> { scale: Param<F>, shift: Option<Param<F>> }
///
/// impl<F: Float> Module<F> for Affine<F> {
///     fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, _: Mode) -> descent_nn::Result<Var<'t, F>> {
///         let y = x.mul(tape.param(&self.scale))?;
///         Ok(match &self.shift { Some(b) => y.add(tape.param(b))?, None => y })
///     }
///     descent_nn::params!(F; scale, shift);
/// }
///
/// let mut layer = Affine { scale: Param::new(Tensor::<f32>::ones(&[3])), shift: None };
/// assert_eq!(layer.named_params()[0].0, "scale");
/// layer.shift = Some(Param::new(Tensor::zeros(&[3])));
/// let names: Vec<String> = layer.named_params_mut().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["scale", "shift"]);
/// ```
#[macro_export]
macro_rules! params {
    ($f:ty; $($field:ident),+ $(,)?) => {
        fn named_params(
            &self,
        ) -> ::std::vec::Vec<(::std::string::String, &$crate::__private::Param<$f>)> {
            let mut out = ::std::vec::Vec::new();
            $($crate::ParamSlot::<$f>::collect(&self.$field, stringify!($field), &mut out);)+
            out
        }

        fn named_params_mut(
            &mut self,
        ) -> ::std::vec::Vec<(::std::string::String, &mut $crate::__private::Param<$f>)> {
            let mut out = ::std::vec::Vec::new();
            $($crate::ParamSlot::<$f>::collect_mut(&mut self.$field, stringify!($field), &mut out);)+
            out
        }
    };
}

/// Writes [`Module::named_buffers`](crate::Module::named_buffers) and
/// [`Module::named_buffers_mut`](crate::Module::named_buffers_mut) inside an
/// `impl Module<F>` block from one list of fields (each a [`BufferSlot`]), named as the
/// fields. `; if flag` after the list makes the buffers exist only while the boolean field
/// `flag` is true (BatchNorm's `track_running_stats`).
///
/// ```
/// use descent_autodiff::{Tape, Var};
/// use descent_nn::{serialize::Buffer, Mode, Module};
/// use descent_tensor::{Float, Tensor};
/// use std::cell::Cell;
///
/// /// The identity, counting the batches it has seen in training.
/// struct Counter { seen: Cell<u64>, enabled: bool }
///
/// impl<F: Float> Module<F> for Counter {
///     fn forward<'t>(&self, _: &'t Tape<F>, x: Var<'t, F>, mode: Mode) -> descent_nn::Result<Var<'t, F>> {
///         if mode == Mode::Train { self.seen.set(self.seen.get() + 1); }
///         Ok(x)
///     }
///     descent_nn::buffers!(F; seen; if enabled);
/// }
///
/// let counter = Counter { seen: Cell::new(3), enabled: true };
/// let state = Module::<f32>::named_buffers(&counter);
/// assert!(matches!(state[..], [(ref name, Buffer::Count(3))] if name == "seen"));
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[macro_export]
macro_rules! buffers {
    ($f:ty; $($field:ident),+ $(; if $flag:ident)? $(;)?) => {
        fn named_buffers(&self) -> ::std::vec::Vec<(::std::string::String, $crate::Buffer<$f>)> {
            $(if !self.$flag {
                return ::std::vec::Vec::new();
            })?
            ::std::vec![$((
                ::std::string::String::from(stringify!($field)),
                $crate::BufferSlot::<$f>::buffer(&self.$field),
            )),+]
        }

        fn named_buffers_mut(
            &mut self,
        ) -> ::std::vec::Vec<(::std::string::String, $crate::BufferMut<'_, $f>)> {
            $(if !self.$flag {
                return ::std::vec::Vec::new();
            })?
            ::std::vec![$((
                ::std::string::String::from(stringify!($field)),
                $crate::BufferSlot::<$f>::buffer_mut(&mut self.$field),
            )),+]
        }
    };
}
