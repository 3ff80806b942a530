//! Inverted dropout (Srivastava et al., 2014), of elements ([`Dropout`]) or of whole
//! channels ([`Dropout2d`], Tompson et al., 2015).

use crate::error::{Error, Result};
use crate::module::{Mode, Module};
use descent_autodiff::{Tape, Var};
use descent_tensor::{Float, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
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
    rng: RefCell<ChaCha12Rng>,
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
            rng: RefCell::new(ChaCha12Rng::seed_from_u64(seed)),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl<F: Float> Module<F> for Dropout {
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, mode: Mode) -> Result<Var<'t, F>> {
        let shape = x.shape();
        drop_with_mask(tape, x, mode, self.p, &self.rng, &shape)
    }

    /// Restarts the mask generator from `seed`: the masks of `Dropout::new(p, seed)`.
    fn reseed(&mut self, seed: u64) -> bool {
        *self.rng.get_mut() = ChaCha12Rng::seed_from_u64(seed);
        true
    }
}

/// Multiplies `x` by a mask of `mask_shape` (broadcast over `x`) whose entries are 0 with
/// probability `p` and `1/(1 − p)` otherwise; the identity in [`Mode::Eval`] or for `p = 0`.
fn drop_with_mask<'t, F: Float>(
    tape: &'t Tape<F>,
    x: Var<'t, F>,
    mode: Mode,
    p: f64,
    rng: &RefCell<ChaCha12Rng>,
    mask_shape: &[usize],
) -> Result<Var<'t, F>> {
    if mode == Mode::Eval || p == 0.0 {
        return Ok(x);
    }
    // One 32-bit draw per mask element, in bulk, large masks in parallel pieces
    // ([`Tensor::dropout_mask_chacha`]).
    let mask = Tensor::dropout_mask_chacha(mask_shape, p, &mut rng.borrow_mut())?;
    Ok(x.mul(tape.constant(mask))?)
}

/// Channel dropout, as PyTorch's `nn.Dropout2d`: in [`Mode::Train`], zeroes each whole
/// channel (`[H, W]` plane of a `[N, C, H, W]` input) with probability `p` and scales the
/// others by `1/(1 − p)`; in [`Mode::Eval`], the identity. Neighbouring pixels of a feature
/// map are strongly correlated, so dropping single pixels barely regularizes a
/// convolution; dropping the map does. As PyTorch, a 3-D input is taken as `[N, C, L]`
/// (one draw per `(n, c)` row), not as an unbatched image. Masks come from the layer's own
/// seeded generator, restarted by [`Module::reseed_dropout`] on the model, as for [`Dropout`].
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{Dropout2d, Mode, Module};
/// use descent_tensor::Tensor;
/// let drop = Dropout2d::new(0.5, 0)?;
/// let tape = Tape::<f32>::new();
/// let y = drop.forward(&tape, tape.constant(Tensor::ones(&[2, 8, 3, 3])), Mode::Train)?.value()?;
/// for plane in y.to_vec().chunks(9) {
///     assert!(plane.iter().all(|&v| v == 0.0) || plane.iter().all(|&v| v == 2.0));
/// }
/// let err = drop.forward(&tape, tape.constant(Tensor::<f32>::ones(&[4])), Mode::Train).unwrap_err();
/// assert_eq!(err.to_string(), "Dropout2d(p=0.5): expected input [N, C, H, W] or [N, C, L], got shape [4]");
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Debug)]
pub struct Dropout2d {
    p: f64,
    rng: RefCell<ChaCha12Rng>,
}

impl Dropout2d {
    /// Drops channels with probability `p`, masks drawn from a generator seeded with `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `0 ≤ p ≤ 1`.
    pub fn new(p: f64, seed: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::InvalidArgument {
                op: "Dropout2d",
                arg: "p",
                value: p.to_string(),
                why: "must be in [0, 1]",
            });
        }
        Ok(Dropout2d {
            p,
            rng: RefCell::new(ChaCha12Rng::seed_from_u64(seed)),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl<F: Float> Module<F> for Dropout2d {
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, mode: Mode) -> Result<Var<'t, F>> {
        let shape = x.shape();
        if !matches!(shape.len(), 3 | 4) {
            return Err(Error::InputShape {
                layer: format!("Dropout2d(p={})", self.p),
                expected: "[N, C, H, W] or [N, C, L]".into(),
                got: shape,
            });
        }
        // One draw per (sample, channel), broadcast over the plane.
        let mut mask_shape = shape;
        mask_shape[2..].iter_mut().for_each(|d| *d = 1);
        drop_with_mask(tape, x, mode, self.p, &self.rng, &mask_shape)
    }

    /// Restarts the mask generator from `seed`: the masks of `Dropout2d::new(p, seed)`.
    fn reseed(&mut self, seed: u64) -> bool {
        *self.rng.get_mut() = ChaCha12Rng::seed_from_u64(seed);
        true
    }
}
