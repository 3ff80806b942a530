//! Shape algebra: row-major strides, axis normalisation, NumPy broadcasting, and the one
//! strided traversal (`walk`) that every non-contiguous kernel goes through.

use crate::error::{Error, Result};
use smallvec::SmallVec;

/// A shape or a stride list. Inline up to four axes, so creating, viewing and cloning a
/// tensor of rank ≤ 4 allocates nothing besides its storage: on a tape of small ops the
/// allocator was a third of the time.
pub type Dims = SmallVec<[usize; 4]>;

/// Row-major (C-order) strides for `shape`. The products saturate, so an empty tensor
/// whose other axes multiply past `usize::MAX` still gets strides (0 outside an empty axis,
/// so that no offset leaves the storage).
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides = Dims::from_elem(0, shape.len());
    let mut acc = 1usize;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc = acc.saturating_mul(d);
    }
    strides
}

/// Number of elements of `shape`, for a shape that is already known to be valid (a
/// tensor's own, or a part of it); new shapes go through [`checked_numel`]. A zero
/// anywhere gives 0, and the product saturates: the other axes of an empty tensor may
/// multiply past `usize::MAX`, and their count is then never used.
pub fn numel(shape: &[usize]) -> usize {
    if shape.contains(&0) {
        return 0;
    }
    shape.iter().fold(1, |a, &d| a.saturating_mul(d))
}

/// The largest element count a tensor may have: its bytes must fit in `isize`, as every
/// allocation's must, so that offsets into the storage never wrap.
fn max_numel(elem_bytes: usize) -> usize {
    isize::MAX as usize / elem_bytes.max(1)
}

/// Number of elements of `shape`, checked: the one place where a new shape is validated.
/// Every constructor, view and op that makes a shape goes through here, so that no
/// product of sizes, and hence no stride or offset derived from them, can wrap.
///
/// # Errors
/// [`Error::TooLarge`] naming `op` if the product overflows or the elements of
/// `elem_bytes` bytes each would not fit in `isize::MAX` bytes.
pub fn checked_numel(op: &'static str, shape: &[usize], elem_bytes: usize) -> Result<usize> {
    if shape.contains(&0) {
        return Ok(0);
    }
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= max_numel(elem_bytes))
        .ok_or_else(|| Error::TooLarge {
            op,
            shape: shape.to_vec(),
        })
}

/// Maps a possibly negative axis (`-1` is the last) to `0..ndim`.
pub fn normalize_dim(op: &'static str, dim: isize, shape: &[usize]) -> Result<usize> {
    normalize_dim_in(op, dim, shape.len(), shape)
}

/// Like [`normalize_dim`] but for an axis range of `ndim` (e.g. `ndim + 1` for `unsqueeze`).
pub(crate) fn normalize_dim_in(
    op: &'static str,
    dim: isize,
    ndim: usize,
    shape: &[usize],
) -> Result<usize> {
    let n = ndim as isize;
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n {
        return Err(Error::DimOutOfRange {
            op,
            dim,
            shape: shape.to_vec(),
        });
    }
    Ok(d as usize)
}

/// Axis mask for a list of axes (negative counts from the end; empty means all), rejecting duplicates.
///
/// # Errors
/// [`Error::DimOutOfRange`] or [`Error::InvalidArgument`] naming `op`.
pub fn normalize_dims(op: &'static str, dims: &[isize], shape: &[usize]) -> Result<Vec<bool>> {
    let mut mask = vec![dims.is_empty(); shape.len()];
    for &d in dims {
        let d0 = normalize_dim(op, d, shape)?;
        if mask[d0] {
            return Err(Error::InvalidArgument {
                op,
                arg: "dims",
                value: format!("{dims:?}"),
                why: "each axis may appear once",
            });
        }
        mask[d0] = true;
    }
    Ok(mask)
}

/// The shape two operands broadcast to under NumPy's rules.
///
/// # Errors
/// [`Error::Broadcast`] if they do not; [`Error::TooLarge`] if the result's
/// element count overflows (`[2³², 1]` against `[1, 2³²]`).
pub fn broadcast_shapes(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Dims> {
    let n = lhs.len().max(rhs.len());
    let mut out = Dims::from_elem(0, n);
    for i in 0..n {
        let a = if i + lhs.len() >= n {
            lhs[i + lhs.len() - n]
        } else {
            1
        };
        let b = if i + rhs.len() >= n {
            rhs[i + rhs.len() - n]
        } else {
            1
        };
        out[i] = if a == b || b == 1 {
            a
        } else if a == 1 {
            b
        } else {
            return Err(Error::Broadcast {
                op,
                lhs: lhs.to_vec(),
                rhs: rhs.to_vec(),
            });
        };
    }
    checked_numel(op, &out, 1)?;
    Ok(out)
}

/// Strides that view a tensor of `shape`/`strides` as `target` (stride 0 on broadcast axes).
/// A view allocates nothing, so `target` need only have an element count below
/// `isize::MAX`; an op that then fills it checks again for its element size.
pub(crate) fn broadcast_strides(
    op: &'static str,
    shape: &[usize],
    strides: &[usize],
    target: &[usize],
) -> Result<Dims> {
    if shape.len() > target.len() {
        return Err(Error::Broadcast {
            op,
            lhs: shape.to_vec(),
            rhs: target.to_vec(),
        });
    }
    let lead = target.len() - shape.len();
    let mut out = Dims::from_elem(0, target.len());
    for (i, &t) in target.iter().enumerate().skip(lead) {
        let (d, s) = (shape[i - lead], strides[i - lead]);
        out[i] = if d == t {
            s
        } else if d == 1 {
            0
        } else {
            return Err(Error::Broadcast {
                op,
                lhs: shape.to_vec(),
                rhs: target.to_vec(),
            });
        };
    }
    checked_numel(op, target, 1)?;
    Ok(out)
}

/// Visits elements `start .. start + len` of `shape` in row-major order, calling
/// `f(i, offsets)` with `i` counted from `start` and, for each of the `N` operands, the
/// element's offset `base[k] + Σ index[d]·strides[k][d]`.
pub(crate) fn walk<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    base: [usize; N],
    start: usize,
    len: usize,
    mut f: impl FnMut(usize, [usize; N]),
) {
    if len == 0 {
        return;
    }
    let nd = shape.len();
    if nd == 0 {
        f(0, base);
        return;
    }
    // Unravel `start` into a multi-index and the operands' offsets.
    let mut idx = vec![0; nd];
    let mut off = base;
    let mut rem = start;
    for d in (0..nd).rev() {
        idx[d] = rem % shape[d];
        rem /= shape[d];
        for k in 0..N {
            off[k] += idx[d] * strides[k][d];
        }
    }
    let inner = shape[nd - 1];
    let inner_stride: [usize; N] = std::array::from_fn(|k| strides[k][nd - 1]);
    let mut done = 0;
    while done < len {
        let run = (inner - idx[nd - 1]).min(len - done);
        for j in 0..run {
            f(
                done + j,
                std::array::from_fn(|k| off[k] + j * inner_stride[k]),
            );
        }
        done += run;
        idx[nd - 1] += run;
        for k in 0..N {
            off[k] += run * inner_stride[k];
        }
        if idx[nd - 1] < inner {
            continue;
        }
        // Carry into the outer axes.
        idx[nd - 1] = 0;
        for k in 0..N {
            off[k] -= inner * inner_stride[k];
        }
        for d in (0..nd - 1).rev() {
            idx[d] += 1;
            for k in 0..N {
                off[k] += strides[k][d];
            }
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
            for k in 0..N {
                off[k] -= shape[d] * strides[k][d];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() -> TestResult {
        assert_eq!(
            broadcast_shapes("t", &[3, 1, 5], &[4, 1])?[..],
            [3, 4, 5][..]
        );
        assert_eq!(broadcast_shapes("t", &[], &[2])?[..], [2][..]);
        assert_eq!(broadcast_shapes("t", &[0], &[1])?[..], [0][..]);
        let e = broadcast_shapes("add", &[3], &[4]).unwrap_err();
        assert_eq!(e.to_string(), "add: shapes [3] and [4] do not broadcast");
        Ok(())
    }

    #[test]
    fn walk_visits_a_range_in_row_major_order() -> TestResult {
        let shape = [2, 3, 2];
        let strides = [1, 2, 6]; // a permuted layout
        let mut seen = vec![];
        walk(&shape, [&strides], [0], 3, 7, |i, [o]| seen.push((i, o)));
        let expect: Vec<_> = (3..10)
            .map(|l| {
                let (a, b, c) = (l / 6, (l / 2) % 3, l % 2);
                (l - 3, a + 2 * b + 6 * c)
            })
            .collect();
        assert_eq!(seen, expect);
        Ok(())
    }
}
