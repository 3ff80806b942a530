//! `matmul` with 1-D operands, `dot`, `outer` and `einsum` against naive loops over every
//! label assignment, on random sizes (including 1) and on contiguous, permuted and strided
//! layouts.

use crate::common::{numel, pool, ravel, unravel};
use descent_tensor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A tensor with `shape` and row-major values `data`, stored contiguously, with its axes
/// permuted, or at every other position of its last axis, as `layout` says (0, 1, 2).
pub(crate) fn laid_out(shape: &[usize], data: &[f64], layout: usize) -> Tensor<f64> {
    let t = Tensor::from_slice(data, shape).unwrap();
    let nd = shape.len();
    match layout {
        1 if nd >= 2 => {
            // Stored reversed, permuted back: a non-contiguous view of the same values.
            let rev: Vec<isize> = (0..nd as isize).rev().collect();
            t.permute(&rev).unwrap().contiguous().permute(&rev).unwrap()
        }
        2 if nd >= 1 => {
            let doubled =
                Tensor::concat(&[&t.unsqueeze(-1).unwrap(), &t.unsqueeze(-1).unwrap()], -1)
                    .unwrap();
            let mut wide: Vec<isize> = shape.iter().map(|&n| n as isize).collect();
            wide[nd - 1] *= 2;
            doubled
                .reshape(&wide)
                .unwrap()
                .slice(-1, 0, 2 * shape[nd - 1], 2)
                .unwrap()
        }
        _ => t,
    }
}

/// `torch.einsum` by definition: every assignment of the labels, summed into the output.
fn naive_einsum(inputs: &[&str], out: &str, shapes: &[Vec<usize>], data: &[Vec<f64>]) -> Vec<f64> {
    let mut labels: Vec<char> = inputs.iter().flat_map(|s| s.chars()).collect();
    labels.sort_unstable();
    labels.dedup();
    let size = |c: char| {
        inputs
            .iter()
            .zip(shapes)
            .find_map(|(s, sh)| s.chars().position(|x| x == c).map(|p| sh[p]))
            .unwrap()
    };
    let sizes: Vec<usize> = labels.iter().map(|&c| size(c)).collect();
    let out_shape: Vec<usize> = out.chars().map(size).collect();
    let mut result = vec![0.0; numel(&out_shape)];
    for p in 0..numel(&sizes) {
        let at = unravel(p, &sizes);
        let index = |s: &str| -> Vec<usize> {
            s.chars()
                .map(|c| at[labels.iter().position(|&l| l == c).unwrap()])
                .collect()
        };
        let term: f64 = inputs
            .iter()
            .zip(shapes)
            .zip(data)
            .map(|((s, sh), d)| d[ravel(&index(s), sh)])
            .product();
        result[ravel(&index(out), &out_shape)] += term;
    }
    result
}

#[track_caller]
fn assert_close(got: &Tensor<f64>, want: &[f64], what: &str) {
    let got = got.to_vec();
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "{what}: element {i}: {g} vs {w}"
        );
    }
}

#[test]
fn einsum_matches_naive_loops_on_random_sizes_and_layouts() {
    let specs = [
        "ij,jk->ik",
        "ij,kj->ik",
        "bij,bjk->bik",
        "bij,jk->bki",
        "abc,cd->abd",
        "ijk,jkl->il",
        "i,j->ij",
        "i,i->",
        "ij,ij->ij",
        "iij,jk->ik",
        "bi,bj->bij",
        "ij,jk",
        "ij->ji",
        "ii",
        "ii->i",
        "ijk->j",
        "ba",
        "ab,cd->dacb",
    ];
    let mut rng = StdRng::seed_from_u64(3);
    for spec in specs {
        for _ in 0..6 {
            let (lhs, out) = match spec.split_once("->") {
                Some((l, o)) => (l, o.to_string()),
                None => {
                    let mut once: Vec<char> = spec
                        .chars()
                        .filter(|&c| c != ',' && spec.matches(c).count() == 1)
                        .collect();
                    once.sort_unstable();
                    (spec, once.into_iter().collect())
                }
            };
            let inputs: Vec<&str> = lhs.split(',').collect();
            let mut sizes = std::collections::HashMap::new();
            for c in lhs.chars().filter(|&c| c != ',') {
                sizes
                    .entry(c)
                    .or_insert_with(|| rng.random_range(1..=4usize));
            }
            let shapes: Vec<Vec<usize>> = inputs
                .iter()
                .map(|s| s.chars().map(|c| sizes[&c]).collect())
                .collect();
            let data: Vec<Vec<f64>> = shapes
                .iter()
                .map(|sh| {
                    (0..numel(sh))
                        .map(|_| rng.random_range(-2.0..2.0))
                        .collect()
                })
                .collect();
            let tensors: Vec<Tensor<f64>> = shapes
                .iter()
                .zip(&data)
                .map(|(sh, d)| laid_out(sh, d, rng.random_range(0..3)))
                .collect();
            let got = Tensor::einsum(spec, &tensors.iter().collect::<Vec<_>>()).unwrap();
            let want = naive_einsum(&inputs, &out, &shapes, &data);
            let out_shape: Vec<usize> = out.chars().map(|c| sizes[&c]).collect();
            assert_eq!(got.shape(), &out_shape[..], "{spec} {shapes:?}");
            assert_close(&got, &want, &format!("{spec} {shapes:?}"));
        }
    }
}

#[test]
fn matmul_dot_outer_with_vectors_match_naive_loops() {
    let mut rng = StdRng::seed_from_u64(4);
    for _ in 0..20 {
        let (b, m, k, n) = (
            rng.random_range(1..=3),
            rng.random_range(1..=4),
            rng.random_range(1..=5),
            rng.random_range(1..=4),
        );
        let mut draw =
            |len: usize| -> Vec<f64> { (0..len).map(|_| rng.random_range(-2.0..2.0)).collect() };
        let (x, y, a3, bm) = (draw(k), draw(k), draw(b * m * k), draw(k * n));
        let layout = rng.random_range(0..3);
        let xv = laid_out(&[k], &x, layout);
        let yv = laid_out(&[k], &y, layout);
        // vector · vector
        let dot: f64 = x.iter().zip(&y).map(|(p, q)| p * q).sum();
        assert_close(&xv.matmul(&yv).unwrap(), &[dot], "vec.vec");
        assert_close(&xv.dot(&yv).unwrap(), &[dot], "dot");
        assert_eq!(xv.dot(&yv).unwrap().shape(), &[] as &[usize]);
        // batched matrix · vector
        let a = laid_out(&[b, m, k], &a3, layout);
        let want: Vec<f64> = (0..b * m)
            .map(|r| (0..k).map(|j| a3[r * k + j] * x[j]).sum())
            .collect();
        let got = a.matmul(&xv).unwrap();
        assert_eq!(got.shape(), &[b, m]);
        assert_close(&got, &want, "mat.vec");
        // vector · matrix
        let bt = laid_out(&[k, n], &bm, layout);
        let want: Vec<f64> = (0..n)
            .map(|c| (0..k).map(|j| x[j] * bm[j * n + c]).sum())
            .collect();
        let got = xv.matmul(&bt).unwrap();
        assert_eq!(got.shape(), &[n]);
        assert_close(&got, &want, "vec.mat");
        // outer
        let want: Vec<f64> = x
            .iter()
            .flat_map(|p| y.iter().map(move |q| p * q))
            .collect();
        assert_close(&xv.outer(&yv).unwrap(), &want, "outer");
    }
    let s = Tensor::<f64>::scalar(1.0);
    assert!(s.matmul(&Tensor::zeros(&[2])).is_err());
    assert_eq!(
        Tensor::<f64>::zeros(&[2, 3])
            .outer(&Tensor::zeros(&[2]))
            .unwrap_err()
            .to_string(),
        "outer: expected a 1-D tensor, got shape [2, 3]"
    );
}

/// A `rows×cols` `f32` matrix of values uniform in `[-1, 1)`.
fn random_matrix(rows: usize, cols: usize, rng: &mut StdRng) -> Tensor<f32> {
    let v: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    Tensor::from_vec(v, &[rows, cols]).unwrap()
}

/// A product split over two threads gives the bits of the same product on one, for the
/// MNIST model's weight-gradient shapes (784 columns: two blocks of whole tiles on every
/// CPU) and ragged sizes, with `A` transposed as the weight gradients pass it and with a
/// strided `B`.
#[test]
fn a_split_product_gives_the_bits_of_one_thread() {
    let (one, two) = (pool(1), pool(2));
    let mut rng = StdRng::seed_from_u64(11);
    for (m, k, n) in [
        (512, 128, 784),
        (256, 128, 512),
        (96, 131, 785),
        (40, 77, 257),
        (300, 50, 100),
    ] {
        let a = random_matrix(k, m, &mut rng).t().unwrap();
        let b = random_matrix(k, 2 * n, &mut rng)
            .slice(1, 0, 2 * n, 2)
            .unwrap();
        for (a, b) in [(a.clone(), b.clone()), (a.contiguous(), b.contiguous())] {
            let serial = one.install(|| a.matmul(&b).unwrap().to_vec());
            let split = two.install(|| a.matmul(&b).unwrap().to_vec());
            assert!(serial == split, "{m}×{k}·{k}×{n}");
            let (a64, b64) = (a.cast::<f64>(), b.cast::<f64>());
            let serial = one.install(|| a64.matmul(&b64).unwrap().to_vec());
            let split = two.install(|| a64.matmul(&b64).unwrap().to_vec());
            assert!(serial == split, "{m}×{k}·{k}×{n} (f64)");
        }
    }
}

/// `f32` bits equal, any NaN counting as equal to any NaN (which NaN an operation returns
/// when both inputs are NaN depends on the instruction's operand order).
fn same_bits(x: &[f32], y: &[f32]) -> bool {
    x.len() == y.len()
        && x.iter()
            .zip(y)
            .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))
}

/// The signature `matrixmultiply::sgemm` and `Float::gemm` share.
type Sgemm = unsafe fn(
    usize,
    usize,
    usize,
    f32,
    *const f32,
    isize,
    isize,
    *const f32,
    isize,
    isize,
    f32,
    *mut f32,
    isize,
    isize,
);

/// A matrix in a buffer: the buffer, its rows and columns, and their (non-negative) strides.
type Strided<T> = (T, [usize; 2], [isize; 2]);

/// A row-major `rows × cols` matrix in `buf`.
fn row_major<T>(buf: T, [rows, cols]: [usize; 2]) -> Strided<T> {
    (buf, [rows, cols], [cols as isize, 1])
}

/// `c ← α·a·b + β·c` by `gemm` (`matrixmultiply::sgemm` or `Float::gemm`), after checking
/// that every matrix lies in its buffer, so that the tests call the raw kernels safely.
fn gemm_on(
    gemm: Sgemm,
    alpha: f32,
    (a, [m, k], sa): Strided<&[f32]>,
    (b, [kb, n], sb): Strided<&[f32]>,
    beta: f32,
    (c, [mc, nc], sc): Strided<&mut [f32]>,
) {
    assert!(
        kb == k && mc == m && nc == n,
        "operands of {m}×{k}·{kb}×{n} into {mc}×{nc}"
    );
    let fits = |len: usize, [r, c]: [usize; 2], [rs, cs]: [isize; 2]| {
        r == 0 || c == 0 || (r - 1) * rs as usize + (c - 1) * (cs as usize) < len
    };
    assert!(sa.iter().chain(&sb).chain(&sc).all(|&s| s >= 0));
    assert!(fits(a.len(), [m, k], sa) && fits(b.len(), [k, n], sb) && fits(c.len(), [m, n], sc));
    // SAFETY: each matrix lies in its buffer (checked above), and `c` is its own buffer.
    unsafe {
        gemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            sa[0],
            sa[1],
            b.as_ptr(),
            sb[0],
            sb[1],
            beta,
            c.as_mut_ptr(),
            sc[0],
            sc[1],
        )
    }
}

/// One `m×k` matrix of random values stored at `rs`/`cs` (in a buffer `data` large enough
/// for the strides), for the layouts a product receives: row-major, column-major, and
/// every other element of a wider row-major matrix.
fn strided(m: usize, k: usize, layout: usize, rng: &mut StdRng) -> (Vec<f32>, isize, isize) {
    let (rs, cs, len) = match layout {
        0 => (k, 1, m * k),
        1 => (1, m, m * k),
        _ => (2 * k + 3, 2, m * (2 * k + 3)),
    };
    let data = (0..len.max(1))
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    (data, rs as isize, cs as isize)
}

/// `Float::gemm` for `f32` (descent's own kernel on AVX2 CPUs, matrixmultiply elsewhere)
/// gives the bits of `matrixmultiply::sgemm` called directly: random sizes around the
/// depth blocks (256) and the tiles' edges, `k = 0`, both operands row-major, transposed
/// and strided, `α = 1` and another, `β = 0` (C full of NaN, which must not be read),
/// `β = 1` and another, C with a row stride wider than its rows and column-major.
#[test]
fn the_f32_gemm_keeps_the_bits_of_matrixmultiply() {
    use descent_tensor::Float;
    let mut rng = StdRng::seed_from_u64(21);
    let mut shapes = vec![
        (1, 1, 1),
        (6, 256, 16),
        (7, 257, 17),
        (13, 512, 33),
        (5, 513, 31),
        (12, 0, 9),
        (128, 784, 64),
        (150, 300, 40),
        (2, 700, 3),
        (40, 33, 700),
    ];
    for _ in 0..30 {
        shapes.push((
            rng.random_range(1..90),
            rng.random_range(0..600),
            rng.random_range(1..90),
        ));
    }
    for (i, &(m, k, n)) in shapes.iter().enumerate() {
        let (la, lb) = (i % 3, (i / 3) % 3);
        let (a, rsa, csa) = strided(m, k, la, &mut rng);
        let (b, rsb, csb) = strided(k, n, lb, &mut rng);
        for (alpha, beta) in [
            (1.0f32, 0.0f32),
            (1.0, 1.0),
            (1.0, -0.75),
            (0.5, 0.0),
            (1.5, 2.0),
        ] {
            // Row-major C with two spare columns per row, or column-major.
            let (rsc, csc) = match i % 4 {
                3 => (1, m as isize),
                _ => (n as isize + 2, 1),
            };
            let len = m * (n + 2);
            let c0: Vec<f32> = match beta == 0.0 {
                true => vec![f32::NAN; len],
                false => (0..len).map(|_| rng.random_range(-1.0..1.0)).collect(),
            };
            let (mut want, mut got) = (c0.clone(), c0);
            for (gemm, c) in [
                (matrixmultiply::sgemm as Sgemm, &mut want),
                (<f32 as Float>::gemm, &mut got),
            ] {
                let (a, b) = ((&a[..], [m, k], [rsa, csa]), (&b[..], [k, n], [rsb, csb]));
                gemm_on(gemm, alpha, a, b, beta, (c, [m, n], [rsc, csc]));
            }
            assert!(
                same_bits(&want, &got),
                "{m}×{k}·{k}×{n}, layouts {la} {lb}, α {alpha}, β {beta}, C strides {rsc} {csc}"
            );
        }
    }
}

/// The signed zeros: with products that underflow a sum can end at −0, and matrixmultiply's
/// AVX2 kernel writes its partial 8×8 tiles (the last `m % 8` rows and `n % 8` columns) as
/// `β·C + (sum + 0)` but its full tiles as `sum + β·C`, which differ when `β·C` is −0 too
/// (its AVX-512 kernel, which `Float::gemm` calls on such CPUs, keeps −0 even with `β = 0`);
/// `Float::gemm` keeps those bits, whatever its own tiles, with one depth block and several.
#[test]
fn the_f32_gemm_keeps_matrixmultiplys_signed_zeros() {
    use descent_tensor::Float;
    let mut rng = StdRng::seed_from_u64(23);
    let mut negative_zeros = 0;
    for (m, k, n) in [
        (13, 3, 21),
        (130, 40, 37),
        (8, 10, 16),
        (7, 300, 45),
        (64, 257, 20),
    ] {
        let tiny = |len: usize, rng: &mut StdRng| -> Vec<f32> {
            (0..len)
                .map(|_| if rng.random_bool(0.5) { 1e-30 } else { -1e-30 })
                .collect()
        };
        let (a, b) = (tiny(m * k, &mut rng), tiny(k * n, &mut rng));
        for beta in [0.0f32, 1.0, 0.5, -2.0] {
            let c0: Vec<f32> = (0..m * n)
                .map(|_| if rng.random_bool(0.5) { 0.0 } else { -0.0 })
                .collect();
            let (mut want, mut got) = (c0.clone(), c0);
            for (gemm, c) in [
                (matrixmultiply::sgemm as Sgemm, &mut want),
                (<f32 as Float>::gemm, &mut got),
            ] {
                let (a, b) = (row_major(&a[..], [m, k]), row_major(&b[..], [k, n]));
                gemm_on(gemm, 1.0, a, b, beta, row_major(c, [m, n]));
            }
            negative_zeros += want
                .iter()
                .filter(|x| x.to_bits() == (-0f32).to_bits())
                .count();
            assert!(same_bits(&want, &got), "{m}×{k}·{k}×{n}, β {beta}");
        }
    }
    assert!(
        negative_zeros > 0,
        "no −0 written: the case is not exercised"
    );
}

/// `matmul` and `linear` in `f32`, with one thread and split across two, give the bits of
/// matrixmultiply's product of the same operands (plus the bias, as `add` rounds it), on
/// the MLP's layouts (`x·Wᵀ`, `dᵀ·x`) and ragged sizes.
#[test]
fn f32_products_keep_the_bits_of_matrixmultiply() {
    let (one, two) = (pool(1), pool(2));
    let mut rng = StdRng::seed_from_u64(22);
    for (m, k, n) in [
        (128, 784, 512),
        (97, 300, 131),
        (250, 129, 77),
        (33, 513, 200),
    ] {
        let x = random_matrix(m, k, &mut rng);
        let w = random_matrix(n, k, &mut rng);
        let bias = random_matrix(1, n, &mut rng)
            .reshape(&[n as isize])
            .unwrap();
        let xt = random_matrix(k, m, &mut rng);
        // matrixmultiply's x·Wᵀ and xtᵀ·W-shaped products, row-major outputs.
        let reference =
            |a: &Tensor<f32>, rsa: usize, csa: usize, b: &Tensor<f32>, rsb: usize, csb: usize| {
                let mut c = vec![0f32; m * n];
                let (a, b) = (a.to_vec(), b.to_vec());
                let (sa, sb) = ([rsa as isize, csa as isize], [rsb as isize, csb as isize]);
                let (a, b) = ((&a[..], [m, k], sa), (&b[..], [k, n], sb));
                gemm_on(
                    matrixmultiply::sgemm,
                    1.0,
                    a,
                    b,
                    0.0,
                    row_major(&mut c, [m, n]),
                );
                c
            };
        let want_xw = reference(&x, k, 1, &w, 1, k);
        let want_txw = reference(&xt, 1, m, &w, 1, k);
        let want_bias: Vec<f32> = (want_xw.iter().enumerate())
            .map(|(i, &v)| v + bias.to_vec()[i % n])
            .collect();
        for p in [&one, &two] {
            let got = p.install(|| x.matmul(&w.t().unwrap()).unwrap().to_vec());
            assert!(same_bits(&want_xw, &got), "x·Wᵀ {m}×{k}·{k}×{n}");
            let got = p.install(|| x.linear(&w, Some(&bias)).unwrap().to_vec());
            assert!(same_bits(&want_bias, &got), "linear {m}×{k}·{k}×{n}");
            let got = p.install(|| xt.t().unwrap().matmul(&w.t().unwrap()).unwrap().to_vec());
            assert!(same_bits(&want_txw, &got), "xtᵀ·Wᵀ {m}×{k}·{k}×{n}");
        }
    }
}

/// Products whose columns are split (`n ≥ m`) on pools of two and three threads, which in
/// `f32` on AVX2 share one packed A and take the columns in runs as they are free, give
/// the bits of one thread and of `matrixmultiply::sgemm`: ragged `m`, `n` and `k`, depths
/// around the blocks of 256 (and `k = 0`), more rows than a block of A, a last run one
/// tile wide, A and B row-major, transposed and strided, with and without a bias.
#[test]
fn products_split_with_a_shared_a_give_the_bits_of_one_thread() {
    let (one, two, three) = (pool(1), pool(2), pool(3));
    let mut rng = StdRng::seed_from_u64(23);
    for (m, k, n) in [
        (128, 784, 512),
        (512, 128, 784),
        (97, 256, 131),
        (7, 257, 300),
        (1, 1024, 400),
        (6, 3000, 17),
        (7, 1300, 40),
        (13, 700, 45),
        (145, 300, 149),
        (290, 257, 333),
        (300, 5, 301),
        (64, 0, 100),
    ] {
        // Each operand in turn row-major, transposed (stored the other way) and strided.
        let lay = |rows: usize, cols: usize, layout: usize, rng: &mut StdRng| match layout {
            0 => random_matrix(rows, cols, rng),
            1 => random_matrix(cols, rows, rng).t().unwrap(),
            _ => random_matrix(rows, 2 * cols, rng)
                .slice(1, 0, 2 * cols, 2)
                .unwrap(),
        };
        for layout in 0..3 {
            let a = lay(m, k, layout, &mut rng);
            let b = lay(k, n, (layout + 1) % 3, &mut rng);
            let mut want = vec![0f32; m * n];
            let (ac, bc) = (a.to_vec(), b.to_vec());
            let (ar, br) = (row_major(&ac[..], [m, k]), row_major(&bc[..], [k, n]));
            gemm_on(
                matrixmultiply::sgemm,
                1.0,
                ar,
                br,
                0.0,
                row_major(&mut want, [m, n]),
            );
            let serial = one.install(|| a.matmul(&b).unwrap().to_vec());
            assert!(
                same_bits(&want, &serial),
                "{m}×{k}·{k}×{n}, layout {layout}"
            );
            let bias = random_matrix(1, n, &mut rng)
                .reshape(&[n as isize])
                .unwrap();
            let w = b.t().unwrap();
            let with_bias: Vec<f32> = (want.iter().enumerate())
                .map(|(i, &v)| v + bias.to_vec()[i % n])
                .collect();
            for (threads, p) in [(2, &two), (3, &three)] {
                let split = p.install(|| a.matmul(&b).unwrap().to_vec());
                assert!(
                    same_bits(&serial, &split),
                    "{m}×{k}·{k}×{n}, layout {layout}, {threads} threads"
                );
                let linear = p.install(|| a.linear(&w, Some(&bias)).unwrap().to_vec());
                assert!(
                    same_bits(&with_bias, &linear),
                    "linear {m}×{k}·{k}×{n}, layout {layout}, {threads} threads"
                );
            }
        }
    }
}
