//! The MNIST example's training runs, as a user runs them: on a small data set the test
//! writes itself, and with `--ignored` on the real MNIST files. Each test's trainings run
//! one after another, each in its own process.

use std::process::Output;

use crate::common::{command, temp_dir, text};

/// The example's model containers and its CNN, as the example builds them.
#[path = "../../examples/cli/layers.rs"]
mod layers;

/// Runs the example with `flags`, with `MNIST_DIR` naming no directory, so a run without
/// `--data` can neither read the real files nor download them.
fn train(flags: &[&str]) -> Output {
    command("mnist", flags)
        .env(
            "MNIST_DIR",
            std::env::temp_dir().join("descent-test-no-mnist-here"),
        )
        .output()
        .unwrap_or_else(|e| panic!("mnist {flags:?} does not start: {e}"))
}

/// Runs the example with `flags` and asserts it trains to the end: exit code 0.
fn trains(flags: &[&str]) {
    let out = train(flags);
    assert_eq!(
        out.status.code(),
        Some(0),
        "mnist {flags:?}: {}",
        text(&out.stderr)
    );
}

/// Runs the example with `flags` and asserts it refuses them as a usage error: exit code 2,
/// nothing on stdout, and on stderr one line `mnist: ...`, after at most the line that
/// reports the data when the check needs the data; returns that line.
fn refused(flags: &[&str]) -> String {
    let out = train(flags);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "mnist {flags:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let (message, before) = lines.split_last().expect("a message");
    assert!(message.starts_with("mnist: "), "mnist {flags:?}: {stderr}");
    assert!(
        before.len() <= 1 && before.iter().all(|l| l.starts_with("data: ")),
        "mnist {flags:?}: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "mnist {flags:?} printed {:?}",
        text(&out.stdout)
    );
    message.to_string()
}

/// A checkpoint after epoch 2 resumed to epoch 3 gives the same weights, byte for byte, as
/// an uninterrupted 3-epoch run — with BatchNorm, dropout, momentum and a schedule, so
/// every piece of state (model, buffers, optimizer, schedule, RNG streams, and the weight
/// averages when averaging) must be restored. Also with a per-step schedule, clipping,
/// input normalization, cyclic order, the other activations, and iRprop+ (which needs
/// each step's loss).
fn resume_is_bit_exact(data: &str, name: &str) {
    let dir = temp_dir(name);
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let base = [
        "--data",
        data,
        "--limit-train",
        "640",
        "--batch-size",
        "64",
        "--hidden",
        "32",
        "--batchnorm",
        "--dropout",
        "0.2",
        "--seed",
        "5",
    ];
    let sgd = ["--optimizer", "sgd:lr=0.05,momentum=0.9"];
    let step = ["--schedule", "step:step_size=1,gamma=0.5"];
    let variants: [Vec<&str>; 4] = [
        [&sgd[..], &step].concat(),
        [&sgd[..], &step, &["--average", "ema:0.9"]].concat(),
        vec![
            "--optimizer",
            "sgd:lr=0.05,momentum=0.9",
            "--schedule-per",
            "step",
            "--schedule",
            "cosine:T_max=21",
            "--clip-norm",
            "1",
            "--whiten",
            "standardize",
            "--activation",
            "tanh",
            "--no-shuffle",
        ],
        [
            &["--optimizer", "rprop:variant=irprop+"][..],
            &[
                "--schedule",
                "cosine:T_max=3",
                "--whiten",
                "zca",
                "--activation",
                "sigmoid",
                "--init",
                "xavier_uniform",
                "--average",
                "poly:1",
            ],
        ]
        .concat(),
    ];
    for variant in &variants {
        let run = |extra: &[&str]| trains(&[&base[..], variant, extra].concat());
        run(&["--epochs", "3", "--save", &path("straight.safetensors")]);
        run(&["--epochs", "2", "--checkpoint", &path("after2.ckpt")]);
        run(&[
            "--epochs",
            "3",
            "--resume",
            &path("after2.ckpt"),
            "--save",
            &path("resumed.safetensors"),
        ]);
        let straight = std::fs::read(path("straight.safetensors")).expect("saved");
        let resumed = std::fs::read(path("resumed.safetensors")).expect("saved");
        assert!(
            straight == resumed,
            "resumed weights differ from the uninterrupted run ({variant:?})"
        );
        for file in ["straight.safetensors", "after2.ckpt", "resumed.safetensors"] {
            std::fs::remove_file(path(file)).expect("written");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
#[ignore = "needs the MNIST files: set MNIST_DIR"]
fn resume_reproduces_the_uninterrupted_run_bit_for_bit() {
    let data = std::env::var("MNIST_DIR")
        .expect("MNIST_DIR names the directory holding the four MNIST IDX files");
    resume_is_bit_exact(&data, "mnist-resume-real");
}

#[test]
fn resume_reproduces_the_uninterrupted_run_bit_for_bit_on_synthetic_data() {
    let data_dir = temp_dir("mnist-resume-data");
    let data = synthetic::write(&data_dir);
    resume_is_bit_exact(&data, "mnist-resume-synthetic");
    std::fs::remove_dir_all(&data_dir).ok();
}

/// `--model cnn` trains PyTorch's classic MNIST CNN for a few steps, and a checkpoint after
/// epoch 1 resumed to epoch 2 gives the uninterrupted run's weights byte for byte (its two
/// dropout layers reseeded per epoch, Adam's state and the schedule restored); the MLP's
/// shaping flags are refused with it.
#[test]
fn cnn_trains_and_resumes_bit_for_bit_on_synthetic_data() {
    let dir = temp_dir("mnist-cnn");
    let data = synthetic::write(&dir);
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let base = [
        "--data",
        &data,
        "--model",
        "cnn",
        "--limit-train",
        "96",
        "--batch-size",
        "32",
        "--seed",
        "3",
        "--schedule",
        "step:step_size=1,gamma=0.5",
    ];
    let run = |extra: &[&str]| trains(&[&base[..], extra].concat());
    run(&["--epochs", "2", "--save", &path("straight.safetensors")]);
    run(&["--epochs", "1", "--checkpoint", &path("after1.ckpt")]);
    run(&[
        "--epochs",
        "2",
        "--resume",
        &path("after1.ckpt"),
        "--save",
        &path("resumed.safetensors"),
    ]);
    let straight = std::fs::read(path("straight.safetensors")).expect("saved");
    let resumed = std::fs::read(path("resumed.safetensors")).expect("saved");
    assert!(
        straight == resumed,
        "resumed CNN weights differ from the uninterrupted run"
    );
    let header = String::from_utf8_lossy(&straight[..straight.len().min(1024)]).into_owned();
    for name in ["conv1.weight", "conv2.bias", "fc1.weight", "fc2.bias"] {
        assert!(header.contains(name), "{name} missing from {header}");
    }
    let message = refused(&[&base[..], &["--hidden", "16"]].concat());
    assert!(message.contains("--hidden"), "{message}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The default cosine schedule spans `--epochs`, so a resume to more epochs is refused
/// with the one flag that continues the same run; passing it works.
#[test]
fn resume_to_more_epochs_with_the_default_schedule_names_the_flag_to_pass() {
    let dir = temp_dir("mnist-more-epochs");
    let data = synthetic::write(&dir);
    let ckpt = dir.join("c.ckpt").to_string_lossy().into_owned();
    let base = ["--data", &data, "--hidden", "16", "--batch-size", "50"];
    trains(&[&base[..], &["--epochs", "2", "--checkpoint", &ckpt]].concat());
    let more = [&base[..], &["--epochs", "4", "--resume", &ckpt]].concat();
    let message = refused(&more);
    assert!(message.contains("--schedule cosine:T_max=2"), "{message}");
    trains(&[&more[..], &["--schedule", "cosine:T_max=2"]].concat());
    std::fs::remove_dir_all(&dir).ok();
}

/// A resume from an older checkpoint drops the rows the metrics file holds past it, so
/// after resuming twice from the same checkpoint the file has the rows of the
/// uninterrupted run exactly once (all but the seconds column, which is a timing).
#[test]
fn metrics_have_no_duplicate_rows_after_resume() {
    let dir = temp_dir("mnist-metrics");
    let data = synthetic::write(&dir);
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let base = [
        "--data",
        &data,
        "--hidden",
        "16",
        "--batch-size",
        "50",
        "--metrics-every",
        "3",
        "--schedule",
        "none",
    ];
    let run = |extra: &[&str]| trains(&[&base[..], extra].concat());
    run(&["--epochs", "3", "--metrics", &path("straight.csv")]);
    run(&[
        "--epochs",
        "2",
        "--checkpoint",
        &path("c.ckpt"),
        "--metrics",
        &path("m.csv"),
    ]);
    std::fs::copy(path("c.ckpt"), path("c2.ckpt")).expect("copy");
    for _ in 0..2 {
        run(&[
            "--epochs",
            "3",
            "--resume",
            &path("c2.ckpt"),
            "--metrics",
            &path("m.csv"),
        ]);
    }
    let rows = |name: &str| -> Vec<String> {
        let text = std::fs::read_to_string(path(name)).expect("metrics written");
        let rows = text.lines().map(|l| l.rsplit_once(',').expect("columns").0);
        rows.map(str::to_string).collect()
    };
    let (straight, resumed) = (rows("straight.csv"), rows("m.csv"));
    assert_eq!(
        straight.len(),
        1 + 3 + 8,
        "header, 3 epochs, 8 step rows (24 steps / 3)"
    );
    assert_eq!(resumed, straight);
    std::fs::remove_dir_all(&dir).ok();
}

/// `--resume` takes the checkpoint's settings for every flag not given again: a resume
/// with only `--data`, `--epochs` and `--resume` continues the run bit for bit; a flag
/// given with another value is refused, naming the setting in plain words.
#[test]
fn resume_takes_the_checkpoints_settings() {
    let dir = temp_dir("mnist-resume-settings");
    let data = synthetic::write(&dir);
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let flags = [
        "--data",
        &data,
        "--limit-train",
        "200",
        "--hidden",
        "16",
        "--batch-size",
        "50",
        "--batchnorm",
        "--dropout",
        "0.1",
        "--optimizer",
        "sgd:lr=0.05,momentum=0.9",
        "--schedule",
        "step:step_size=1,gamma=0.5",
        "--average",
        "ema:0.9",
        "--no-shuffle",
        "--seed",
        "4",
    ];
    let run = |extra: &[&str]| trains(&[&flags[..], extra].concat());
    run(&["--epochs", "3", "--save", &path("straight.safetensors")]);
    run(&["--epochs", "2", "--checkpoint", &path("c.ckpt")]);
    trains(&[
        "--data",
        &data,
        "--epochs",
        "3",
        "--resume",
        &path("c.ckpt"),
        "--save",
        &path("resumed.safetensors"),
    ]);
    let straight = std::fs::read(path("straight.safetensors")).expect("saved");
    let resumed = std::fs::read(path("resumed.safetensors")).expect("saved");
    assert!(
        straight == resumed,
        "resumed weights differ from the uninterrupted run"
    );
    let message = refused(&[
        "--data",
        &data,
        "--epochs",
        "3",
        "--resume",
        &path("c.ckpt"),
        "--hidden",
        "8",
    ]);
    assert!(
        message.contains("hidden widths 16") && message.contains("this run has 8"),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Flags that cannot work are refused before any data is read, as usage errors.
#[test]
fn contradictory_flags_are_refused_before_any_work() {
    let dir = temp_dir("mnist-refused");
    let p = dir.join("out").to_string_lossy().into_owned();
    let missing = dir
        .join("no/such/dir/w.safetensors")
        .to_string_lossy()
        .into_owned();
    let cases: [&[&str]; 5] = [
        &["--checkpoint", &p, "--save", &p],
        &["--save", &missing],
        &["--limit-train", "100", "--val", "100"],
        &["--schedule", "plateau", "--schedule-per", "step"],
        &["--plot", &missing],
    ];
    for flags in cases {
        // No --data, and `MNIST_DIR` names no directory: looking for the data before the
        // checks would exit 1, not 2.
        refused(flags);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Early stopping with a validation split of no images is refused: it would pick the
/// best epoch on the test set.
#[test]
fn early_stopping_without_validation_images_is_refused() {
    let dir = temp_dir("mnist-early-stopping");
    let data = synthetic::write(&dir);
    let flags = [
        "--data",
        &data,
        "--limit-train",
        "9",
        "--early-stopping",
        "2",
    ];
    let message = refused(&flags);
    assert!(message.contains("--val"), "{message}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The flags of a few quick steps of a small MLP on the synthetic data in `data`.
fn tiny(data: &str) -> [&str; 8] {
    let flags = [
        "--limit-train",
        "200",
        "--hidden",
        "16",
        "--batch-size",
        "50",
    ];
    let [a, b, c, d, e, f] = flags;
    ["--data", data, a, b, c, d, e, f]
}

/// `--diagnose layers,noise,curvature` writes each diagnostic's CSV beside `--metrics`
/// (`m.layers.csv`, ...) and its figure beside `--plot` (`c.layers.svg`, ...): the layers
/// under the MLP's own names, at every `--diagnose-every` steps; the gradient noise after
/// each epoch at a quarter of the batch, the batch and four times it; the curvature against
/// `2/lr`. The step rows of the metrics carry the running loss. Without `--metrics` the
/// flag is refused.
#[test]
fn diagnose_writes_each_report_beside_the_metrics_and_the_plot() {
    let dir = temp_dir("mnist-diagnose");
    let data = synthetic::write(&dir);
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (metrics, plot) = (path("m.csv"), path("c.svg"));
    trains(
        &[
            &tiny(&data)[..],
            &[
                "--epochs",
                "2",
                "--dropout",
                "0.1",
                "--diagnose",
                "layers,noise,curvature",
                "--diagnose-every",
                "2",
                "--metrics-every",
                "3",
                "--metrics",
                &metrics,
                "--plot",
                &plot,
            ],
        ]
        .concat(),
    );
    let read =
        |name: &str| std::fs::read_to_string(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    // 2 epochs of 4 steps: observed at steps 2, 4, 6, 8; layers Linear 0, ReLU 1,
    // Dropout 2, Linear 3.
    let layers = read("m.layers.csv");
    assert!(
        layers.starts_with("epoch,step,layer,quantity,count,mean,std,"),
        "{layers}"
    );
    let steps: Vec<&str> = layers
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert!(
        steps.iter().all(|s| ["2", "4", "6", "8"].contains(s)),
        "{layers}"
    );
    for want in [
        ",1,activation,",
        ",3,activation_grad,",
        ",2,activation,",
        ",0.weight,param_grad,",
    ] {
        assert!(layers.contains(want), "{want} missing from {layers}");
    }
    let noise = read("m.noise.csv");
    let rows: Vec<(&str, &str)> = noise
        .lines()
        .skip(1)
        .map(|l| {
            let mut cells = l.split(',');
            (cells.next().unwrap(), cells.next().unwrap())
        })
        .collect();
    let want: Vec<(&str, &str)> = ["1", "2"]
        .iter()
        .flat_map(|e| ["12", "50", "199"].map(|b| (*e, b)))
        .collect();
    assert_eq!(rows, want, "{noise}");
    let curvature = read("m.curvature.csv");
    assert!(curvature.starts_with("step,lr,loss,grad_norm,curvature,limit,unstable\n"));
    assert_eq!(curvature.lines().count(), 1 + 4, "{curvature}");
    for (figure, title) in [
        ("c.layers.svg", "per-layer standard deviation"),
        ("c.noise.svg", "gradient noise"),
        ("c.curvature.svg", "stability limit 2/η"),
        ("c.svg", "MNIST"),
    ] {
        assert!(read(figure).contains(title), "{figure} has no {title:?}");
    }
    let metrics = read("m.csv");
    let header: Vec<&str> = metrics.lines().next().unwrap().split(',').collect();
    let running = header
        .iter()
        .position(|h| *h == "running_loss")
        .expect("a running_loss column");
    let step_rows = metrics.lines().filter(|l| l.starts_with("step,"));
    assert!(step_rows.clone().count() > 0);
    for row in step_rows {
        let cell = row.split(',').nth(running).unwrap();
        assert!(cell.parse::<f64>().is_ok_and(f64::is_finite), "{row}");
    }
    let message = refused(&["--diagnose", "layers"]);
    assert!(message.contains("--metrics"), "{message}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The CNN `--model cnn` trains runs its ReLU and max pool as one fused op in `forward`
/// (one tape node fewer), and every layer apart in `forward_observed`, which diagnostics
/// use: the same loss and gradients, bit for bit, the same dropout masks drawn.
#[test]
fn the_cnn_fuses_relu_into_the_max_pool_with_the_same_bits() {
    use descent::autodiff::Tape;
    use descent::nn::{loss, Mode, Module, Reduction};
    use descent::tensor::Tensor;
    use rand::{rngs::StdRng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(3);
    let mut model = layers::mnist_cnn("default".parse().unwrap(), &mut rng).unwrap();
    let x = Tensor::<f32>::rand(&[5, 784], 0.0, 1.0, &mut rng).unwrap();
    let labels = [3, 1, 4, 1, 5];
    let mut run = |fused: bool| {
        model.reseed_dropout(7);
        let tape = Tape::new();
        let input = tape.constant(x.clone());
        let logits = match fused {
            true => model.forward(&tape, input, Mode::Train),
            false => model.forward_observed(&tape, input, Mode::Train, &mut |_, _| {}),
        };
        let loss = loss::cross_entropy(logits.unwrap(), &labels, Reduction::Mean).unwrap();
        let grads = loss.backward().unwrap();
        let mut bits = vec![loss.item().unwrap().to_bits()];
        for p in model.params() {
            bits.extend(grads.get(p).unwrap().to_vec().iter().map(|v| v.to_bits()));
        }
        (bits, tape.len())
    };
    let (fused, nodes) = run(true);
    let (apart, all_nodes) = run(false);
    assert_eq!(nodes + 1, all_nodes, "one op for relu2 and pool");
    assert!(fused == apart, "fused and apart differ");
}

/// `--lr-range-test` trains nothing: it prints each rate of the sweep with its label and a
/// suggested rate, and writes the CSV beside `--metrics` and the figure beside `--plot`.
#[test]
fn lr_range_test_prints_labels_and_writes_its_report() {
    let dir = temp_dir("mnist-lr-range");
    let data = synthetic::write(&dir);
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (metrics, plot) = (path("m.csv"), path("c.svg"));
    let out = train(
        &[
            &tiny(&data)[..],
            &["--lr-range-test", "--metrics", &metrics, "--plot", &plot],
        ]
        .concat(),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rates: Vec<&str> = stdout.lines().filter(|l| l.starts_with("lr ")).collect();
    assert_eq!(rates.len(), 29, "{stdout}");
    assert!(
        rates[0].starts_with("lr 1.000e-6") && rates[0].ends_with("slow"),
        "{stdout}"
    );
    assert!(stdout.contains("suggested learning rate") && !stdout.contains("test loss"));
    let csv = std::fs::read_to_string(path("m.lr-range.csv")).expect("the range test's CSV");
    assert_eq!(csv.lines().count(), 1 + 29);
    let svg = std::fs::read_to_string(path("c.lr-range.svg")).expect("the range test's figure");
    assert!(svg.contains("learning-rate range test") && svg.contains("suggested rate"));
    std::fs::remove_dir_all(&dir).ok();
}

mod synthetic {
    //! A small data set in MNIST's layout: 28×28 images whose label is where a bright
    //! square sits, plus noise, written as gzipped IDX files under MNIST's names.
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::path::Path;

    /// Writes 400 training and 100 test images into `dir`; returns `dir` as a string.
    pub(super) fn write(dir: &Path) -> String {
        let mut rng = StdRng::seed_from_u64(42);
        for (split, n) in [("train", 400usize), ("t10k", 100)] {
            let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
            let mut pixels = Vec::with_capacity(n * 784);
            for &label in &labels {
                let (r0, c0) = (
                    3 + 12 * usize::from(label / 5),
                    2 + 5 * usize::from(label % 5),
                );
                for r in 0..28 {
                    for c in 0..28 {
                        let on = (r0..r0 + 8).contains(&r) && (c0..c0 + 4).contains(&c);
                        let noise: u8 = rng.random_range(0..60);
                        pixels.push(if on { 255 - noise } else { noise });
                    }
                }
            }
            let images = idx(&[n as u32, 28, 28], 3, &pixels);
            let labels = idx(&[n as u32], 1, &labels);
            std::fs::write(
                dir.join(format!("{split}-images-idx3-ubyte.gz")),
                gzip(&images),
            )
            .expect("write images");
            std::fs::write(
                dir.join(format!("{split}-labels-idx1-ubyte.gz")),
                gzip(&labels),
            )
            .expect("write labels");
        }
        dir.to_string_lossy().into_owned()
    }

    /// An IDX file of `u8` (type 0x08) with big-endian dimensions.
    fn idx(dims: &[u32], ndims: u8, data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 0x08, ndims];
        dims.iter().for_each(|d| out.extend(d.to_be_bytes()));
        out.extend(data);
        out
    }

    /// A gzip member holding `data` in stored (uncompressed) deflate blocks (RFC 1951
    /// §3.2.4, RFC 1952), so no compressor is needed.
    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        let chunks: Vec<&[u8]> = data.chunks(65_535).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            out.push(u8::from(i + 1 == chunks.len())); // BFINAL, BTYPE = 00
            let len = chunk.len() as u16;
            out.extend(len.to_le_bytes());
            out.extend((!len).to_le_bytes());
            out.extend(*chunk);
        }
        out.extend(crc32(data).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out
    }

    /// CRC-32 (IEEE, reflected, polynomial 0xEDB88320), bit by bit.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn crc32_of_the_check_string_is_the_published_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
