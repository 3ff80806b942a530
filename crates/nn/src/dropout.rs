//! Inverted dropout (Srivastava et al., 2014).

use crate::error::{Error, Result};
use crate::module::{Mode, Module};
use descent_autodiff::{Tape, Var};
use descent_tensor::{Float, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;

/// In [`Mode::Train`], zeroes each element with probability `p` and scales the rest by
/// `1/(1 − p)`, so the expected output is the input and evaluation needs no rescaling; in
/// [`Mode::Eval`], the identity. Masks come from the layer's own seeded generator (in a
/// `RefCell`, as `forward` takes `&self`), so a run is reproducible.
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{Dropout, Mode, Module};
/// use descent_tensor::Tensor;
/// let drop = Dropout::new(0.5, 0)?;
/// let tape = Tape::<f32>::new();
/// let y = drop.forward(&tape, tape.constant(Tensor::ones(&[1000])), Mode::Train)?.value()?;
/// assert!(y.to_vec().iter().all(|&v| v == 0.0 || v == 2.0));
/// let x = tape.constant(Tensor::ones(&[3]));
/// assert_eq!(drop.forward(&tape, x, Mode::Eval)?.value()?.to_vec(), vec![1.0; 3]);
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    rng: RefCell<StdRng>,
}

impl Dropout {
    /// Drops with probability `p`, masks drawn from a generator seeded with `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `0 ≤ p ≤ 1`.
    pub fn new(p: f64, seed: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::InvalidArgument {
                op: "Dropout",
                arg: "p",
                value: p.to_string(),
                why: "must be in [0, 1]",
            });
        }
        Ok(Dropout {
            p,
            rng: RefCell::new(StdRng::seed_from_u64(seed)),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl<F: Float> Module<F> for Dropout {
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, mode: Mode) -> Result<Var<'t, F>> {
        if mode == Mode::Eval || self.p == 0.0 {
            return Ok(x);
        }
        let shape = x.shape();
        let n: usize = shape.iter().product();
        // With p = 1 everything is dropped (scale irrelevant, kept finite).
        let keep = if self.p < 1.0 {
            F::of(1.0 / (1.0 - self.p))
        } else {
            F::zero()
        };
        let mut rng = self.rng.borrow_mut();
        let mask: Vec<F> = (0..n)
            .map(|_| {
                if rng.random::<f64>() < self.p {
                    F::zero()
                } else {
                    keep
                }
            })
            .collect();
        Ok(x.mul(tape.constant(Tensor::from_vec(mask, &shape)?))?)
    }
}
