//! `Display` in PyTorch's layout: `tensor([[1., 2.], [3., 4.]])`, nested rows aligned,
//! large tensors summarised with `...` (three items at each edge past 1000 elements),
//! and the dtype named when it is not the default `float32`.

use crate::{Float, Tensor};
use std::fmt;

const THRESHOLD: usize = 1000;
const EDGE: usize = 3;

impl<F: Float> fmt::Display for Tensor<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.numel() == 0 && self.ndim() != 1 {
            // As PyTorch: no rows to walk (an empty tensor's other axes may be huge).
            let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
            let comma = if dims.len() == 1 { "," } else { "" };
            write!(f, "tensor([], size=({}{comma})", dims.join(", "))?;
            if F::DTYPE != "float32" {
                write!(f, ", dtype=torch.{}", F::DTYPE)?;
            }
            return write!(f, ")");
        }
        let values = self.to_vec();
        let summarise = values.len() > THRESHOLD;
        let style = Style::pick(&values);
        let width = values
            .iter()
            .map(|&x| style.format(x).len())
            .max()
            .unwrap_or(0);
        let strides = crate::layout::contiguous_strides(&self.shape);
        let ctx = Ctx {
            values: &values,
            shape: &self.shape,
            strides: &strides,
            style,
            width,
            summarise,
        };
        write!(f, "tensor(")?;
        ctx.write(f, 0, 0, 7)?;
        if F::DTYPE != "float32" {
            write!(f, ", dtype=torch.{}", F::DTYPE)?;
        }
        write!(f, ")")
    }
}

impl<F: Float> fmt::Debug for Tensor<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} shape={:?}", self.shape)
    }
}

#[derive(Clone, Copy)]
enum Style {
    Integral,
    Fixed,
    Scientific,
}

impl Style {
    fn pick<F: Float>(values: &[F]) -> Style {
        let finite: Vec<f64> = values
            .iter()
            .map(|x| x.as_f64())
            .filter(|x| x.is_finite())
            .collect();
        if finite.iter().all(|x| x.fract() == 0.0 && x.abs() < 1e8) {
            return Style::Integral;
        }
        let nonzero = finite.iter().map(|x| x.abs()).filter(|&x| x > 0.0);
        let (lo, hi) = nonzero.fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
        if hi >= 1e8 || lo < 1e-4 || hi / lo > 1e3 {
            Style::Scientific
        } else {
            Style::Fixed
        }
    }

    fn format<F: Float>(self, x: F) -> String {
        let x = x.as_f64();
        if !x.is_finite() {
            return if x.is_nan() {
                "nan".into()
            } else if x > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            };
        }
        match self {
            Style::Integral => format!("{x:.0}."),
            Style::Fixed => format!("{x:.4}"),
            Style::Scientific => format!("{x:.4e}"),
        }
    }
}

struct Ctx<'a, F> {
    values: &'a [F],
    shape: &'a [usize],
    strides: &'a [usize],
    style: Style,
    width: usize,
    summarise: bool,
}

impl<F: Float> Ctx<'_, F> {
    fn write(
        &self,
        f: &mut fmt::Formatter<'_>,
        dim: usize,
        base: usize,
        indent: usize,
    ) -> fmt::Result {
        if dim == self.shape.len() {
            return write!(
                f,
                "{:>w$}",
                self.style.format(self.values[base]),
                w = self.width
            );
        }
        let n = self.shape[dim];
        let shown: Vec<Option<usize>> = if self.summarise && n > 2 * EDGE {
            (0..EDGE)
                .map(Some)
                .chain([None])
                .chain((n - EDGE..n).map(Some))
                .collect()
        } else {
            (0..n).map(Some).collect()
        };
        let last = dim + 1 == self.shape.len();
        let sep = if last {
            ", ".to_string()
        } else {
            format!(
                ",{}\n{:indent$}",
                "\n".repeat(self.shape.len() - dim - 2),
                "",
                indent = indent + 1
            )
        };
        write!(f, "[")?;
        for (i, item) in shown.iter().enumerate() {
            if i > 0 {
                write!(f, "{sep}")?;
            }
            match item {
                Some(j) => self.write(f, dim + 1, base + j * self.strides[dim], indent + 1)?,
                None => write!(f, "...")?,
            }
        }
        write!(f, "]")
    }
}

#[cfg(test)]
mod tests {
    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;
    use super::*;

    #[test]
    fn empty_tensors_print_their_size_like_pytorch() -> crate::Result<()> {
        assert_eq!(Tensor::<f32>::zeros(&[0]).to_string(), "tensor([])");
        assert_eq!(
            Tensor::<f32>::zeros(&[2, 0]).to_string(),
            "tensor([], size=(2, 0))"
        );
        let huge = Tensor::<f64>::zeros(&[0]).reshape(&[1 << 32, 1 << 32, -1])?;
        assert_eq!(
            huge.to_string(),
            "tensor([], size=(4294967296, 4294967296, 0), dtype=torch.float64)"
        );
        Ok(())
    }

    #[test]
    fn prints_like_pytorch() -> TestResult {
        let a = Tensor::<f32>::from_vec(vec![1., 2., 3., 4.], &[2, 2])?;
        assert_eq!(a.to_string(), "tensor([[1., 2.],\n        [3., 4.]])");
        let b = Tensor::<f64>::from_vec(vec![0.5, -1.25], &[2])?;
        assert_eq!(
            b.to_string(),
            "tensor([ 0.5000, -1.2500], dtype=torch.float64)"
        );
        assert_eq!(Tensor::<f32>::scalar(3.0).to_string(), "tensor(3.)");
        let big = Tensor::<f32>::arange(0.0, 2000.0, 1.0)?;
        assert_eq!(
            big.to_string(),
            "tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.])"
        );
        Ok(())
    }
}
