//! K-means on a mixture of Gaussians, three ways, from the same k-means++ starts: batch
//! (Lloyd's iterations to a fixed point), online SGD with the rate 1/nₖ per centre (nₖ:
//! the points centre k has taken so far, so each centre is the running mean of its
//! points), and mini-batches with the same per-centre rates. Over many restarts: the spread
//! of the final quantization error and of the centres, and how fast the online error
//! approaches batch's (against examples seen, with the 1/t slope).

use crate::plot::{Chart, Series};
use crate::report::{num, usage, Rand};
use crate::{Common, Error, Report};
use serde_json::json;

/// Flags of `kmeans`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of clusters (and of Gaussians in the mixture).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    clusters: u64,
    /// Number of points (default 2000; 500 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    points: Option<u64>,
    /// Random restarts (default 30; 10 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    restarts: Option<u64>,
    /// Passes over the data for the online and mini-batch methods.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    epochs: u64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    batch: u64,
}

impl Args {
    /// The sizes this run uses: `(points, restarts)`.
    fn sizes(&self, quick: bool) -> (usize, usize) {
        let points = self
            .points
            .map_or(if quick { 500 } else { 2000 }, |p| p as usize);
        let restarts = self
            .restarts
            .map_or(if quick { 10 } else { 30 }, |r| r as usize);
        (points, restarts)
    }

    /// More clusters than points is refused (checked with the default point count for
    /// the full run; `--quick` uses fewer points, so it is checked again in `run`).
    pub fn check(&self) -> Result<(), Error> {
        self.check_sizes(self.sizes(false).0)
    }

    fn check_sizes(&self, points: usize) -> Result<(), Error> {
        if self.clusters as usize > points {
            return Err(usage(format!(
                "--clusters {}: more clusters than the {points} points",
                self.clusters
            )));
        }
        Ok(())
    }
}

type Point = [f64; 2];

fn dist2(a: &Point, b: &Point) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// The nearest centre to `x`.
fn nearest(centres: &[Point], x: &Point) -> usize {
    (0..centres.len())
        .min_by(|&i, &j| dist2(&centres[i], x).total_cmp(&dist2(&centres[j], x)))
        .unwrap_or(0)
}

/// The quantization error `(1/n) Σ minₖ ‖x − cₖ‖²`.
fn error(data: &[Point], centres: &[Point]) -> f64 {
    data.iter()
        .map(|x| dist2(&centres[nearest(centres, x)], x))
        .sum::<f64>()
        / data.len() as f64
}

/// `n` points from `k` unit Gaussians whose means sit on a circle of radius 6.
fn mixture(n: usize, k: usize, rng: &mut Rand) -> Vec<Point> {
    (0..n)
        .map(|_| {
            let c = rng.index(k) as f64 * std::f64::consts::TAU / k as f64;
            [6.0 * c.cos() + rng.normal(), 6.0 * c.sin() + rng.normal()]
        })
        .collect()
}

/// k-means++ seeding: each next centre is a data point drawn with probability ∝ its
/// squared distance to the nearest centre so far.
fn seed_centres(data: &[Point], k: usize, rng: &mut Rand) -> Vec<Point> {
    let mut centres = vec![data[rng.index(data.len())]];
    while centres.len() < k {
        let d: Vec<f64> = data
            .iter()
            .map(|x| dist2(&centres[nearest(&centres, x)], x))
            .collect();
        let total: f64 = d.iter().sum();
        let mut r = rng.uniform() * total;
        let mut pick = data.len() - 1;
        for (i, di) in d.iter().enumerate() {
            if r < *di {
                pick = i;
                break;
            }
            r -= di;
        }
        centres.push(data[pick]);
    }
    centres
}

/// Lloyd's iterations until no assignment changes (at most 300); the examples seen.
fn batch(data: &[Point], mut centres: Vec<Point>) -> (Vec<Point>, usize) {
    let k = centres.len();
    let mut assign = vec![usize::MAX; data.len()];
    let mut seen = 0;
    for _ in 0..300 {
        let mut changed = false;
        for (a, x) in assign.iter_mut().zip(data) {
            let j = nearest(&centres, x);
            changed |= *a != j;
            *a = j;
        }
        seen += data.len();
        if !changed {
            break;
        }
        let mut sum = vec![[0.0; 2]; k];
        let mut count = vec![0usize; k];
        for (&a, x) in assign.iter().zip(data) {
            sum[a][0] += x[0];
            sum[a][1] += x[1];
            count[a] += 1;
        }
        for j in 0..k {
            if count[j] > 0 {
                centres[j] = [sum[j][0] / count[j] as f64, sum[j][1] / count[j] as f64];
            }
        }
    }
    (centres, seen)
}

/// Online (batch = 1) or mini-batch K-means with rate 1/nₖ per centre, for `epochs`
/// passes in a random order; the error at the examples-seen checkpoints `at`.
fn stochastic(
    data: &[Point],
    mut centres: Vec<Point>,
    batch: usize,
    epochs: usize,
    at: &[usize],
    rng: &mut Rand,
) -> (Vec<Point>, Vec<f64>) {
    let k = centres.len();
    let mut counts = vec![1.0f64; k]; // the seed point counts as the first
    let mut curve = Vec::with_capacity(at.len());
    let mut seen = 0;
    let mut next = 0;
    let n = data.len();
    for _ in 0..epochs {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.index(i + 1));
        }
        for chunk in order.chunks(batch) {
            // Assign the whole mini-batch with the centres as they were, then move them.
            let assigned: Vec<usize> = chunk.iter().map(|&i| nearest(&centres, &data[i])).collect();
            for (&i, &j) in chunk.iter().zip(&assigned) {
                counts[j] += 1.0;
                let eta = 1.0 / counts[j];
                centres[j][0] += eta * (data[i][0] - centres[j][0]);
                centres[j][1] += eta * (data[i][1] - centres[j][1]);
            }
            seen += chunk.len();
            while next < at.len() && at[next] <= seen {
                curve.push(error(data, &centres));
                next += 1;
            }
        }
    }
    (centres, curve)
}

/// The RMS distance between `centres` and `reference`, each centre matched to its
/// nearest reference centre.
fn centre_distance(centres: &[Point], reference: &[Point]) -> f64 {
    let total: f64 = centres
        .iter()
        .map(|c| dist2(&reference[nearest(reference, c)], c))
        .sum();
    (total / centres.len() as f64).sqrt()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn std(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

/// Runs the experiment.
pub fn run(common: &Common, args: &Args) -> Result<Report, Error> {
    let (n, restarts) = args.sizes(common.quick);
    args.check_sizes(n)?;
    let k = args.clusters as usize;
    let epochs = args.epochs as usize;
    let data = mixture(n, k, &mut Rand::new(common.seed, 1));
    // Checkpoints: about 8 per decade of examples seen, from k to the budget.
    let budget = epochs * n;
    let mut at: Vec<usize> = (0..)
        .map(|i| (k as f64 * 10f64.powf(i as f64 / 8.0)).round() as usize)
        .take_while(|&s| s <= budget)
        .collect();
    at.dedup();
    let batch_size = args.batch as usize;
    let mut finals: [Vec<(f64, Vec<Point>)>; 3] = Default::default();
    let mut curves: [Vec<Vec<f64>>; 2] = Default::default();
    let mut batch_seen = Vec::new();
    for r in 0..restarts {
        let start = seed_centres(&data, k, &mut Rand::new(common.seed, 100 + r as u64));
        let (c, seen) = batch(&data, start.clone());
        batch_seen.push(seen as f64);
        finals[0].push((error(&data, &c), c));
        for (m, b) in [(1, 1), (2, batch_size)] {
            let mut rng = Rand::new(common.seed, 10_000 * m as u64 + r as u64);
            let (c, curve) = stochastic(&data, start.clone(), b, epochs, &at, &mut rng);
            finals[m].push((error(&data, &c), c));
            curves[m - 1].push(curve);
        }
    }
    // The reference solution: the best batch run.
    let best = finals[0]
        .iter()
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(e, c)| (*e, c.clone()))
        .ok_or("no restarts")?;
    let names = ["batch", "online 1/t", "mini-batch"];
    let keys = ["batch", "online", "minibatch"];
    let mut report = Report::new(
        "kmeans",
        &[
            "method",
            "mean error",
            "std of error",
            "median centre distance",
            "max centre distance",
        ],
    );
    for m in 0..3 {
        let errors: Vec<f64> = finals[m].iter().map(|(e, _)| *e).collect();
        let dist: Vec<f64> = finals[m]
            .iter()
            .map(|(_, c)| centre_distance(c, &best.1))
            .collect();
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        let max = dist.iter().fold(0.0f64, |a, &b| a.max(b));
        report.row(vec![
            json!(names[m]),
            num(mean),
            num(std(&errors)),
            num(median(dist.clone())),
            num(max),
        ]);
        report.metric(&format!("{}_error_std", keys[m]), num(std(&errors)));
        report.metric(&format!("{}_error_mean", keys[m]), num(mean));
        report.metric(&format!("{}_centre_median", keys[m]), num(median(dist)));
    }
    report.metric("best_error", num(best.0));
    report.metric(
        "batch_examples_seen_mean",
        num(batch_seen.iter().sum::<f64>() / restarts as f64),
    );

    // The median excess error over the restarts against examples seen, and its slope from
    // n/20 to n/4 examples: early in the first pass, where the examples are fresh and 1/t is
    // the claim (by the end of the pass each centre is its cluster's exact mean).
    let mut chart = Chart::new(
        format!("K-means, k = {k}, n = {n}: excess error over {restarts} restarts"),
        "examples seen",
        "median error − best batch error",
    )
    .log(true, true);
    let mut slopes = [0.0; 2];
    for m in 0..2 {
        let mean: Vec<(f64, f64)> = at
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let e = median(
                    curves[m]
                        .iter()
                        .map(|c| c.get(i).copied().unwrap_or(f64::NAN))
                        .collect(),
                );
                (s as f64, (e - best.0).max(1e-12))
            })
            .collect();
        let tail: Vec<&(f64, f64)> = mean
            .iter()
            .filter(|(s, _)| *s * 20.0 >= n as f64 && *s * 4.0 <= n as f64)
            .collect();
        if let (Some(a), Some(b)) = (tail.first(), tail.last()) {
            slopes[m] = (b.1 / a.1).ln() / (b.0 / a.0).ln();
        }
        report.metric(&format!("{}_slope", keys[m + 1]), num(slopes[m]));
        if m == 0 {
            let (x0, y0) = mean[mean.len() / 2];
            chart = chart.with(Series::reference(
                "slope −1 (1/t)",
                at.iter().map(|&s| (s as f64, y0 * x0 / s as f64)).collect(),
            ));
        }
        chart = chart.with(Series::line(names[m + 1], mean));
    }
    report
        .figures
        .extend(chart.save(common, "kmeans-rate.svg")?);
    // The final centres of every restart.
    let mut scatter = Chart::new("final centres over the restarts", "x₁", "x₂").with(Series::dots(
        "data",
        data.iter()
            .step_by((n / 600).max(1))
            .map(|p| (p[0], p[1]))
            .collect(),
    ));
    for m in 0..3 {
        scatter = scatter.with(Series::dots(
            format!("{} centres", names[m]),
            finals[m]
                .iter()
                .flat_map(|(_, c)| c.iter().map(|p| (p[0], p[1])))
                .collect(),
        ));
    }
    report
        .figures
        .extend(scatter.save(common, "kmeans-centres.svg")?);

    let metrics = report.metrics.clone();

    let m = |k: &str| metrics[k].as_f64().unwrap_or(f64::NAN);
    report.claim(
        "online K-means' centres spread across restarts more than batch K-means' (median distance to the best batch solution)",
        m("online_centre_median") > 10.0 * m("batch_centre_median").max(1e-12),
    );
    report.claim(
        format!("online K-means' median excess error falls like 1/t early in the first pass (slope {:.2} from n/20 to n/4)", slopes[0]),
        (-1.5..=-0.5).contains(&slopes[0]),
    );
    Ok(report)
}
