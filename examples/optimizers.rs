//! Optimizer trajectories on the lecture's 2-D test functions, printed or drawn over a
//! contour map: the pictures of Beale's function, the long Rosenbrock valley, the saddle and
//! the ill-conditioned bowl.
//!
//! ```sh
//! cargo run --release --example optimizers -- --function rosenbrock \
//!     --optimizer sgd:lr=1e-3,momentum=0.9 --optimizer adam:lr=0.05 \
//!     --steps 500 --start -1.5,2 [--dtype f64] [--csv] [--plot paths.svg]
//! ```
//! Functions: `rosenbrock`, `beale`, `saddle`, `quadratic:a=1,b=10`. Optimizers: any spec
//! `descent_optim::build` takes, or a batch method's (`descent_optim::batch::Method::from_spec`):
//! `lbfgs:history_size=10`, `cg:beta=pr`, `cg:beta=fr`, `bfgs`, `newton`, `lm`, `steepest`.
//! One `--steps` step is one call of the method's `step` (L-BFGS: up to `max_iter` inner
//! iterations, as torch's; the others: one iteration with its line search); a batch path
//! ends early when its method stops (converged, or a line search that cannot progress).
//! `lm` runs on the function's least-squares form: Rosenbrock's residuals
//! `(10(y − x²), 1 − x)`, Beale's three terms, the quadratic's `(√a·x, √b·y)/√2` (the saddle
//! has none). The loss and its gradient (Hessian, Jacobian) are computed on the tape. `--csv` prints `step,x,y,loss` for steps 0..=N (step 0 is the start; with
//! several optimizers an `optimizer` column comes first); without it (with or without `--plot`),
//! one summary line per optimizer. `--plot` writes an SVG or PNG with the filled contours
//! (log-spaced levels, a colour bar) and one path per optimizer.
//! `--noise σ` adds Gaussian noise to the first-order optimizers' gradients, and
//! `--batch b` makes it a finite sum sampled `b` terms at a time (see `--help`).

mod cli;
#[path = "lab/contour.rs"]
mod contour;
// Shared with the lab, which also saves SVG and PNG pairs (`figure::save`).
#[allow(dead_code)]
#[path = "lab/figure.rs"]
mod figure;

use clap::builder::RangedU64ValueParser;
use clap::Parser;
use descent::autodiff::{Param, Tape};
use descent::optim::{
    batch::{BatchMethod, TapeObjective, TapeResiduals, METHODS},
    build,
    functions::TestFunction,
};
use descent::tensor::{Float, Tensor};
use figure::Figure;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The most steps per path: enough for any of these functions, small enough to finish.
const MAX_STEPS: u64 = 1_000_000;

/// Runs optimizers from one start on a 2-D test function (Rosenbrock's valley, Beale's
/// function, the saddle, an ill-conditioned quadratic) and prints where each path ends, every
/// step as CSV, or the paths drawn over the function's contours as SVG.
#[derive(Parser, Debug)]
#[command(version, long_about = None)]
struct Args {
    /// rosenbrock | beale | saddle | quadratic:a=1,b=10
    #[arg(long, default_value = "rosenbrock", value_parser = parse_function)]
    function: TestFunction,
    /// An optimizer spec, e.g. `adam:lr=0.05`, `lbfgs:history_size=10`; repeat to overlay
    /// several paths.
    #[arg(long = "optimizer", required = true, value_parser = parse_method)]
    optimizers: Vec<Method>,
    /// Number of steps (1 to 1000000).
    #[arg(long, default_value_t = 200, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_STEPS))]
    steps: usize,
    /// Starting point `x,y` (default: the function's usual start).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_start)]
    start: Option<(f64, f64)>,
    /// Floating-point type of the computation.
    #[arg(long, default_value = "f32", value_parser = ["f32", "f64"])]
    dtype: String,
    /// Print `step,x,y,loss` for every step.
    #[arg(long)]
    csv: bool,
    /// Write the contour map with the paths to this file (`.svg` or `.png`).
    #[arg(long, value_parser = parse_plot_path)]
    plot: Option<PathBuf>,
    /// Additive Gaussian gradient noise σ for the first-order optimizers (≥ 0): each step
    /// sees `∇f + σξ`.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true, value_parser = parse_noise)]
    noise: f64,
    /// A finite-sum version of the noise: `f = (1/100) Σᵢ (f + ξᵢᵀw)` with 100 fixed,
    /// centred ξᵢ of scale σ, and each step the mean gradient of `b` sampled terms (1 to 100;
    /// 100 is the full, noise-free gradient). Needs `--noise`.
    #[arg(long, requires = "noise", value_parser = RangedU64ValueParser::<usize>::new().range(1..=TERMS as u64))]
    batch: Option<usize>,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// The number of terms of the finite sum `--batch` samples from.
const TERMS: usize = 100;

fn parse_noise(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{s}: a noise level must be a finite number ≥ 0")),
    }
}

/// Gradient noise: fresh draws each step, or a mean over sampled terms of a finite sum.
struct Noise {
    sigma: f64,
    /// The finite sum's centred terms ξᵢ, and the batch size.
    terms: Option<(Vec<[f64; 2]>, usize)>,
    rng: rand::rngs::StdRng,
}

impl Noise {
    fn new(args: &Args) -> Noise {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
        let terms = args.batch.map(|b| {
            let mut xi: Vec<[f64; 2]> = (0..TERMS)
                .map(|_| [args.noise * normal(&mut rng), args.noise * normal(&mut rng)])
                .collect();
            let mean = [0, 1].map(|k| xi.iter().map(|x| x[k]).sum::<f64>() / TERMS as f64);
            for x in &mut xi {
                *x = [x[0] - mean[0], x[1] - mean[1]];
            }
            (xi, b)
        });
        Noise {
            sigma: args.noise,
            terms,
            rng,
        }
    }

    /// This step's noise vector.
    fn draw(&mut self) -> [f64; 2] {
        match &self.terms {
            None => [
                self.sigma * normal(&mut self.rng),
                self.sigma * normal(&mut self.rng),
            ],
            Some((xi, b)) => {
                let picked = rand::seq::index::sample(&mut self.rng, TERMS, *b);
                let mut sum = [0.0; 2];
                for i in picked {
                    sum = [sum[0] + xi[i][0], sum[1] + xi[i][1]];
                }
                [sum[0] / *b as f64, sum[1] / *b as f64]
            }
        }
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut impl rand::Rng) -> f64 {
    let u = 1.0 - rng.random::<f64>();
    let v = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn parse_function(s: &str) -> Result<TestFunction, String> {
    TestFunction::parse(s).map_err(|e| e.to_string())
}

/// A method whose spec is checked now, so a typo fails before any path is run.
fn parse_method(spec: &str) -> Result<Method, String> {
    let method = Method::parse(spec);
    match &method {
        Method::Batch(spec) => descent::optim::batch::Method::from_spec(spec).map(drop),
        Method::FirstOrder(spec) => build::<f64>(spec).map(drop),
    }
    .map_err(|e| e.to_string())?;
    Ok(method)
}

/// An SVG or PNG path in a directory that exists and can be written.
fn parse_plot_path(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if !matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("svg" | "png")
    ) {
        return Err(format!("{s}: give a .svg or .png path"));
    }
    descent::tensor::io::check_writable(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// How a method is driven. First-order methods take one step per gradient; the batch
/// methods (line searches, quasi-Newton, Newton, LM) re-evaluate the function themselves.
#[derive(Clone, Debug)]
enum Method {
    /// A spec for `descent_optim::build`.
    FirstOrder(String),
    /// A spec for `descent_optim::batch::Method::from_spec`.
    Batch(String),
}

impl Method {
    fn parse(spec: &str) -> Method {
        let name = spec.split(':').next().unwrap_or_default();
        if METHODS.contains(&name) {
            Method::Batch(spec.to_string())
        } else {
            Method::FirstOrder(spec.to_string())
        }
    }

    fn label(&self) -> &str {
        match self {
            Method::FirstOrder(spec) | Method::Batch(spec) => spec,
        }
    }
}

/// Builds a batch method, checking that the function has the form it needs.
fn batch_method(f: &TestFunction, spec: &str) -> Result<descent::optim::batch::Method, Error> {
    let method = descent::optim::batch::Method::from_spec(spec)?;
    if method.needs_residuals() && *f == TestFunction::Saddle {
        return Err(format!(
            "{spec}: the saddle x² − y² has no least-squares form (it is unbounded below); \
             use newton, bfgs, lbfgs or cg on it"
        )
        .into());
    }
    Ok(method)
}

/// Runs a batch method: `steps` calls of its `step`, stopping when it stops.
fn run_batch<F: Float>(
    f: &TestFunction,
    spec: &str,
    start: (f64, f64),
    steps: usize,
) -> Result<Vec<Point>, Error> {
    let mut method = batch_method(f, spec)?;
    let f = *f;
    let mut obj: Box<dyn descent::optim::batch::Objective> = if method.needs_residuals() {
        Box::new(TapeResiduals::<F, _>::new(move |_, w| f.residuals(w)))
    } else {
        Box::new(TapeObjective::<F, _>::new(move |_, w| f.eval(w)))
    };
    let mut x = vec![start.0, start.1];
    let mut path = vec![Point {
        x: x[0],
        y: x[1],
        loss: f.value(x[0], x[1]),
    }];
    for step in 0..steps {
        match method.step(&mut x, obj.as_mut()) {
            Ok(report) => {
                path.push(Point {
                    x: x[0],
                    y: x[1],
                    loss: f.value(x[0], x[1]),
                });
                if report.reason.is_terminal() {
                    eprintln!(
                        "{spec}: stopped after {} steps: {:?} (loss {:.4e})",
                        step + 1,
                        report.reason,
                        report.loss
                    );
                    break;
                }
            }
            Err(e) => {
                eprintln!("{spec}: step {step}: {e}; stopping this path");
                break;
            }
        }
    }
    Ok(path)
}

/// One point of a path: position and the loss there.
#[derive(Clone, Copy, Debug)]
struct Point {
    x: f64,
    y: f64,
    loss: f64,
}

type Error = Box<dyn std::error::Error>;

/// The loss at `p` and its gradient, from the tape.
/// With `noise`, the gradient is that of `f(w) + ξᵀw` (the loss reported stays `f(w)`).
fn evaluate<F: Float>(
    f: &TestFunction,
    p: &Param<F>,
    noise: Option<[f64; 2]>,
) -> Result<(f64, descent::autodiff::Gradients<F>), Error> {
    let tape = Tape::new();
    let w = tape.param(p);
    let loss = f.eval(w)?;
    let value = loss.item()?.as_f64();
    let total = match noise {
        Some(xi) => {
            let xi = tape.constant(Tensor::from_vec(vec![F::of(xi[0]), F::of(xi[1])], &[2])?);
            loss.add(w.mul(xi)?.sum(&[], false)?)?
        }
        None => loss,
    };
    Ok((value, total.backward()?))
}

fn point<F: Float>(p: &Param<F>, loss: f64) -> Point {
    let v = p.value.to_vec();
    Point {
        x: v[0].as_f64(),
        y: v[1].as_f64(),
        loss,
    }
}

/// Runs `method` for `steps` steps from `start`; the path has steps + 1 points unless the
/// run stopped early (a non-finite loss, an optimizer error, or a batch method that
/// stopped, reported on stderr).
fn run<F: Float>(
    f: &TestFunction,
    method: &Method,
    start: (f64, f64),
    steps: usize,
    noise: &mut Option<Noise>,
) -> Result<Vec<Point>, Error> {
    match method {
        Method::FirstOrder(spec) => run_first_order::<F>(f, spec, start, steps, noise),
        Method::Batch(spec) => run_batch::<F>(f, spec, start, steps),
    }
}

/// A first-order optimizer: one step per gradient.
fn run_first_order<F: Float>(
    f: &TestFunction,
    spec: &str,
    start: (f64, f64),
    steps: usize,
    noise: &mut Option<Noise>,
) -> Result<Vec<Point>, Error> {
    let mut p = Param::new(Tensor::<F>::from_vec(
        vec![F::of(start.0), F::of(start.1)],
        &[2],
    )?);
    let mut path = Vec::with_capacity(steps + 1);
    let mut opt = build::<F>(spec)?;
    for step in 0..=steps {
        let (loss, grads) = evaluate(f, &p, noise.as_mut().map(Noise::draw))?;
        path.push(point(&p, loss));
        if step == steps {
            break;
        }
        if !loss.is_finite() {
            eprintln!("{spec}: the loss is {loss} at step {step}; stopping this path");
            break;
        }
        if let Err(e) = opt.step_with_loss(&mut [&mut p], &grads, loss) {
            eprintln!("{spec}: step {step}: {e}; stopping this path");
            break;
        }
    }
    Ok(path)
}

fn parse_start(s: &str) -> Result<(f64, f64), String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let number = |v: &str| v.parse::<f64>().ok().filter(|v| v.is_finite());
    match parts[..] {
        [x, y] => number(x)
            .zip(number(y))
            .ok_or_else(|| format!("{s}: expected two finite numbers `x,y`")),
        _ => Err(format!("{s}: expected two numbers `x,y`")),
    }
}

fn default_start(f: &TestFunction) -> (f64, f64) {
    match f {
        TestFunction::Rosenbrock => (-1.5, 2.0),
        TestFunction::Beale => (1.0, 1.5),
        TestFunction::Saddle => (-1.5, 0.01),
        TestFunction::Quadratic { .. } => (-1.8, 1.2),
    }
}

fn main() -> ExitCode {
    cli::finish(
        "optimizers",
        real_main(&Args::parse()).map(|()| ExitCode::SUCCESS),
    )
}

fn real_main(args: &Args) -> Result<(), Error> {
    let f = args.function;
    let start = args.start.unwrap_or_else(|| default_start(&f));
    let methods = &args.optimizers;
    for m in methods {
        if let Method::Batch(spec) = m {
            batch_method(&f, spec)?; // the saddle's missing residuals fail before any path
        }
    }
    if args.noise > 0.0 {
        if let Some(m) = methods.iter().find(|m| matches!(m, Method::Batch(_))) {
            return Err(format!(
                "--noise: {} re-evaluates the function itself; noise applies to the \
                 first-order optimizers only",
                m.label()
            )
            .into());
        }
    }
    let mut paths = Vec::new();
    for m in methods {
        // Every path sees the same noise sequence.
        let mut noise = (args.noise > 0.0).then(|| Noise::new(args));
        let path = match args.dtype.as_str() {
            "f64" => run::<f64>(&f, m, start, args.steps, &mut noise)?,
            _ => run::<f32>(&f, m, start, args.steps, &mut noise)?,
        };
        paths.push(path);
    }
    let mut out = std::io::stdout().lock();
    if args.csv {
        print_csv(&mut out, methods, &paths)?;
    } else {
        for (m, path) in methods.iter().zip(&paths) {
            let last = path[path.len() - 1];
            writeln!(
                out,
                "{:<40} steps {:>5}  x {:>12.6}  y {:>12.6}  loss {:>12.4e}",
                m.label(),
                path.len() - 1,
                last.x,
                last.y,
                last.loss
            )?;
        }
    }
    if let Some(path) = &args.plot {
        plot(path, &f, methods, &paths)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn print_csv(out: &mut impl Write, methods: &[Method], paths: &[Vec<Point>]) -> Result<(), Error> {
    let several = methods.len() > 1;
    writeln!(
        out,
        "{}step,x,y,loss",
        if several { "optimizer," } else { "" }
    )?;
    for (m, path) in methods.iter().zip(paths) {
        let prefix = if several {
            format!("\"{}\",", m.label())
        } else {
            String::new()
        };
        for (step, p) in path.iter().enumerate() {
            writeln!(out, "{prefix}{step},{},{},{}", p.x, p.y, p.loss)?;
        }
    }
    Ok(())
}

/// A readable name for the figure's title.
fn title(f: &TestFunction) -> String {
    match *f {
        TestFunction::Rosenbrock => "Rosenbrock: (1 − x)² + 100(y − x²)²".into(),
        TestFunction::Beale => "Beale's function".into(),
        TestFunction::Saddle => "the saddle x² − y²".into(),
        TestFunction::Quadratic { a, b } => format!("the bowl ½({a}x² + {b}y²)"),
    }
}

/// The contours of `f` (filled bands between log-spaced levels, with a colour bar) with one
/// path per method; each legend entry gives the final loss and the step count, and a path
/// that leaves the view (or diverges) is drawn to the frame, marked there with a cross and
/// said so.
fn plot(
    out: &Path,
    f: &TestFunction,
    methods: &[Method],
    paths: &[Vec<Point>],
) -> Result<(), Error> {
    figure::write(out, &PathsPlot { f, methods, paths })
}

/// What [`plot`] draws.
struct PathsPlot<'a> {
    f: &'a TestFunction,
    methods: &'a [Method],
    paths: &'a [Vec<Point>],
}

/// Where the segment from `p` (inside the view) to `q` leaves it.
fn exit_point(p: (f64, f64), q: (f64, f64), view: ((f64, f64), (f64, f64))) -> (f64, f64) {
    let ((x0, x1), (y0, y1)) = view;
    let mut t: f64 = 1.0;
    for (a, b, lo, hi) in [(p.0, q.0, x0, x1), (p.1, q.1, y0, y1)] {
        let d = b - a;
        if d > 0.0 && b > hi {
            t = t.min((hi - a) / d);
        } else if d < 0.0 && b < lo {
            t = t.min((lo - a) / d);
        }
    }
    if !t.is_finite() {
        return p;
    }
    (p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1))
}

impl Figure for PathsPlot<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 760)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), Error>
    where
        DB::ErrorType: 'static,
    {
        let f = self.f;
        let view = f.view();
        let ((x0, x1), (y0, y1)) = view;
        root.fill(&WHITE)?;
        let (area, bar) = root.split_horizontally(self.size().0 - 90);
        let mut chart = ChartBuilder::on(&area)
            .caption(title(f), ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("x")
            .y_desc("y")
            .axis_desc_style(("sans-serif", 16))
            .draw()?;
        let grid = contour::Grid::sample(&|x, y| f.value(x, y), view, 360);
        let levels = grid.levels(16);
        contour::draw(&mut chart, &grid, &levels)?;
        contour::colour_bar(&bar, &levels, "f(x, y)")?;
        if let Some((mx, my)) = f.minimum() {
            chart.draw_series(std::iter::once(Cross::new(
                (mx, my),
                7,
                BLACK.stroke_width(2),
            )))?;
        }
        // A path is drawn until it leaves the view (plotters would pin it to the border),
        // then to the frame along its next step.
        let inside = |p: &Point| {
            p.x.is_finite()
                && p.y.is_finite()
                && (x0..=x1).contains(&p.x)
                && (y0..=y1).contains(&p.y)
        };
        for (k, (m, path)) in self.methods.iter().zip(self.paths).enumerate() {
            let color = contour::PALETTE[k % contour::PALETTE.len()];
            let mut pts: Vec<(f64, f64)> = path
                .iter()
                .take_while(|p| inside(p))
                .map(|p| (p.x, p.y))
                .collect();
            let last = path[path.len() - 1];
            let left = pts.len() < path.len();
            if let (true, Some(&end)) = (left, pts.last()) {
                let next = path[pts.len()];
                if next.x.is_finite() && next.y.is_finite() {
                    pts.push(exit_point(end, (next.x, next.y), view));
                }
            }
            let label = format!(
                "{}: loss {:.3e}, {} steps{}",
                m.label(),
                last.loss,
                path.len() - 1,
                if left { " (left the view ×)" } else { "" }
            );
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart.draw_series(
                pts.iter()
                    .step_by((pts.len() / 40).max(1))
                    .map(|&p| Circle::new(p, 2, color.filled())),
            )?;
            if let Some(&first) = pts.first() {
                chart.draw_series(std::iter::once(Circle::new(
                    first,
                    5,
                    BLACK.stroke_width(1),
                )))?;
            }
            if let (true, Some(&end)) = (left, pts.last()) {
                chart.draw_series(std::iter::once(Cross::new(end, 8, color.stroke_width(3))))?;
            }
        }
        contour::legend(&mut chart)?;
        Ok(())
    }
}
