//! MNIST and every dataset in its layout (Fashion-MNIST, KMNIST, ...): four IDX files,
//! `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`, images `u8 [N, rows, cols]` and
//! labels `u8 [N]` below 10.
//!
//! Finding the files ([`locate`]): an explicit directory (the examples' `--data DIR`), else
//! the `MNIST_DIR` environment variable, else the cache directory
//! (`$XDG_CACHE_HOME/descent/mnist` or `~/.cache/descent/mnist`), else a download from
//! the canonical mirrors into the cache. Downloads are checked against the published
//! SHA-256 of each file and a file that does not match is deleted, never used. Files found
//! in a directory you name are only checked for IDX validity, so any dataset in this layout
//! loads from there. The mirrors, the cache directory and the files with their checksums
//! are arguments ([`Fetch`], given to [`locate_with`]), so another dataset or a local
//! server (the crate's offline tests) takes the same path as the real download.
//!
//! Fashion-MNIST is not downloaded; Debian and Ubuntu ship its four original files in the
//! package `dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`), so
//! `--data /usr/share/datasets/fashion-mnist` trains on it. The packaged `.gz` files carry
//! the originals' compressed streams and IDX bytes, but their gzip headers lack the file name
//! and carry the packaging date, so their MD5s differ from the ones Zalando publishes.

use std::fs::File;
#[cfg(feature = "download")]
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use descent_tensor::{Float, Tensor};
use sha2::{Digest, Sha256};

use crate::bytes::ByteImages;
use crate::error::{io_err, Error, Result};
use crate::idx::{IdxArray, IdxType};
use crate::loader::Dataset;

/// The number of classes labels must stay below.
pub const CLASSES: usize = 10;

/// The mirrors tried in order: PyTorch's (torchvision's first choice), then Google's.
pub const MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// One of the four files: its stem and the SHA-256 of the canonical `.gz` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MnistFile {
    /// The name without `.gz`, e.g. `train-images-idx3-ubyte`.
    pub stem: &'static str,
    /// The hex SHA-256 of the canonical `{stem}.gz`, as the mirrors in [`MIRRORS`] serve it.
    pub sha256: &'static str,
}

impl MnistFile {
    /// The name of the compressed file on the mirrors.
    pub fn gz_name(&self) -> String {
        format!("{}.gz", self.stem)
    }

    /// The names accepted in a directory, preferred first: gzip or raw, with `-idx` or the
    /// `.idx` spelling some distributions use (`train-images.idx3-ubyte`).
    pub fn candidates(&self) -> Vec<String> {
        let dotted = self.stem.replacen("-idx", ".idx", 1);
        vec![
            format!("{}.gz", self.stem),
            self.stem.to_string(),
            format!("{dotted}.gz"),
            dotted,
        ]
    }

    /// The first accepted name present in `dir`.
    ///
    /// # Errors
    /// [`Error::Missing`] listing the names tried; `hint` says where `dir` came from.
    pub fn find_in(&self, dir: &Path, hint: &str) -> Result<PathBuf> {
        let names = self.candidates();
        names
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| Error::Missing {
                dir: dir.to_path_buf(),
                name: self.stem,
                tried: names.join(", "),
                hint: hint.to_string(),
            })
    }
}

/// Training images, training labels, test images, test labels.
pub const FILES: [MnistFile; 4] = [
    MnistFile {
        stem: "train-images-idx3-ubyte",
        sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    },
    MnistFile {
        stem: "train-labels-idx1-ubyte",
        sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    },
    MnistFile {
        stem: "t10k-images-idx3-ubyte",
        sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    },
    MnistFile {
        stem: "t10k-labels-idx1-ubyte",
        sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
];

/// One half of the dataset: images as bytes and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Pixels, item after item, row-major (`len() * item_shape.product()` bytes).
    pub images: Vec<u8>,
    /// The shape of one image (`[28, 28]` for MNIST).
    pub item_shape: Vec<usize>,
    /// One label per image, each below [`CLASSES`].
    pub labels: Vec<usize>,
}

impl Split {
    /// Reads and cross-checks an image file and a label file.
    ///
    /// # Errors
    /// Any [`IdxArray::read`] error; [`Error::Idx`] if the images are not `u8` with at
    /// least 2 dims or the labels not `u8` with 1 dim; [`Error::Label`] for a label ≥ 10;
    /// [`Error::CountMismatch`] naming both files if their counts differ.
    pub fn read(images: &Path, labels: &Path) -> Result<Self> {
        let img = IdxArray::read(images)?;
        let lab = IdxArray::read(labels)?;
        expect_layout(
            &img,
            images,
            "images",
            |n| n >= 2,
            "at least 2 (count, rows, cols)",
        )?;
        expect_layout(&lab, labels, "labels", |n| n == 1, "1 (count)")?;
        if img.len() != lab.len() {
            return Err(Error::CountMismatch {
                images: images.to_path_buf(),
                n_images: img.len(),
                labels: labels.to_path_buf(),
                n_labels: lab.len(),
            });
        }
        let header = 8; // labels: 4-byte magic + one u32 count
        let labels_out = lab
            .data
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                if usize::from(l) < CLASSES {
                    Ok(usize::from(l))
                } else {
                    Err(Error::Label {
                        path: labels.to_path_buf(),
                        index: i,
                        offset: (header + i) as u64,
                        label: l,
                        classes: CLASSES,
                    })
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Split {
            item_shape: img.dims[1..].to_vec(),
            images: img.data,
            labels: labels_out,
        })
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image (784 for MNIST).
    pub fn features(&self) -> usize {
        self.item_shape.iter().product()
    }

    /// The images as a `[len, features]` tensor of raw pixel values (0 to 255); see
    /// [`crate::transforms::scale`] for [0, 1].
    ///
    /// # Errors
    /// Only a tensor shape error, which [`Split::read`]'s checks rule out.
    pub fn images<F: Float>(&self) -> Result<Tensor<F>> {
        let v: Vec<F> = self.images.iter().map(|&b| F::of(f64::from(b))).collect();
        Ok(Tensor::from_vec(v, &[self.len(), self.features()])?)
    }

    /// Images scaled to [0, 1] together with the labels, ready for a
    /// [`DataLoader`](crate::DataLoader).
    ///
    /// # Errors
    /// As [`Split::images`].
    pub fn to_dataset<F: Float>(&self) -> Result<Dataset<F>> {
        let v: Vec<F> = self.images.iter().map(|&b| F::of(unit(b))).collect();
        let x = Tensor::from_vec(v, &[self.len(), self.features()])?;
        Dataset::new(x, self.labels.clone())
    }

    /// The dataset of [`Split::to_dataset`] with its images kept as bytes (a quarter of the
    /// memory in `f32`) and scaled as each batch is read, to the same values.
    ///
    /// # Errors
    /// As [`ByteImages::new`], which [`Split::read`]'s checks rule out.
    pub fn into_byte_dataset<F: Float>(self) -> Result<Dataset<F>> {
        let shape = [self.len(), self.features()];
        Dataset::from_bytes(ByteImages::new(self.images, &shape, unit)?, self.labels)
    }
}

/// A pixel `0..=255` scaled to [0, 1], in `f64` (then rounded once to the float type).
fn unit(b: u8) -> f64 {
    f64::from(b) / 255.0
}

fn expect_layout(
    a: &IdxArray,
    path: &Path,
    what: &str,
    ndims_ok: impl Fn(usize) -> bool,
    ndims_want: &str,
) -> Result<()> {
    let bad = if a.dtype != IdxType::U8 {
        Some((
            2,
            format!("{what} must be u8 (type 0x08), found {:?}", a.dtype),
        ))
    } else if !ndims_ok(a.dims.len()) {
        Some((
            3,
            format!(
                "{what} must have {ndims_want} dims, found {} ({:?})",
                a.dims.len(),
                a.dims
            ),
        ))
    } else {
        None
    };
    match bad {
        Some((offset, what)) => Err(Error::Idx {
            path: path.to_path_buf(),
            offset,
            what,
        }),
        None => Ok(()),
    }
}

/// The training and test splits of MNIST or a dataset in its layout.
///
/// ```no_run
/// use descent_data::mnist::Mnist;
/// // `--data DIR`, else MNIST_DIR, else the cache, else a verified download.
/// let (dir, _how) = descent_data::mnist::locate(None)?;
/// let mnist = Mnist::load(&dir)?;
/// assert_eq!((mnist.train.len(), mnist.test.len()), (60_000, 10_000));
/// let test = mnist.test.to_dataset::<f32>()?; // pixels in [0, 1], shape [10000, 784]
/// let train = mnist.train.into_byte_dataset::<f32>()?; // the same values, kept as bytes
/// # Ok::<(), descent_data::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist {
    /// The training split (60,000 images for MNIST).
    pub train: Split,
    /// The test split (10,000 images for MNIST).
    pub test: Split,
}

impl Mnist {
    /// Loads the four files from `dir` (gzip or raw, see [`MnistFile::candidates`]).
    ///
    /// # Errors
    /// [`Error::Missing`] if a file is absent, otherwise as [`Split::read`].
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let hint = "pass the directory holding the four IDX files";
        let [tri, trl, tei, tel] = FILES.map(|f| f.find_in(dir, hint));
        Ok(Mnist {
            train: Split::read(&tri?, &trl?)?,
            test: Split::read(&tei?, &tel?)?,
        })
    }
}

/// Where [`locate`] found the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The directory passed in (`--data`).
    Explicit,
    /// The `MNIST_DIR` environment variable.
    Env,
    /// The cache directory, already complete and verified.
    Cache,
    /// The cache directory, after downloading the missing files.
    Downloaded,
}

/// How to download when nothing local is found.
#[derive(Debug, Clone)]
pub struct Fetch {
    /// Base URLs tried in order, each ending in `/`.
    pub mirrors: Vec<String>,
    /// Where verified downloads are kept (`None`: no cache directory could be found).
    pub cache_dir: Option<PathBuf>,
    /// Whether to draw a progress bar on stderr (with the `progress` feature).
    pub progress: bool,
    /// The files to fetch and the SHA-256 each must have: [`FILES`] for MNIST; another
    /// dataset in its layout, or a local test server, brings its own.
    pub files: [MnistFile; 4],
    /// The most bytes one download may take (default 1 GiB, far above any dataset in
    /// MNIST's layout); a larger body is refused, announced or not.
    pub max_bytes: u64,
}

impl Default for Fetch {
    /// The canonical [`MIRRORS`], the default [`cache_dir`], a progress bar, MNIST's
    /// [`FILES`].
    fn default() -> Self {
        Fetch {
            mirrors: MIRRORS.iter().map(|m| m.to_string()).collect(),
            cache_dir: cache_dir(),
            progress: true,
            files: FILES,
            max_bytes: 1 << 30,
        }
    }
}

/// `$XDG_CACHE_HOME/descent/mnist`, else `$HOME/.cache/descent/mnist`.
pub fn cache_dir() -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let base = nonempty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| nonempty("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("descent").join("mnist"))
}

/// Finds the MNIST directory: `explicit`, else `MNIST_DIR`, else the cache, else a
/// download into the cache from the canonical mirrors (with a progress bar).
///
/// # Errors
/// As [`locate_with`].
pub fn locate(explicit: Option<&Path>) -> Result<(PathBuf, Source)> {
    let env = std::env::var_os("MNIST_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    locate_with(explicit, env.as_deref(), &Fetch::default())
}

/// [`locate`] with the environment's directory and the download settings given.
///
/// # Errors
/// [`Error::Missing`] if `explicit` or `env_dir` lacks a file (no fallback: a directory
/// you name is the one used); [`Error::NoCacheDir`]; [`Error::Download`] if every
/// mirror failed for a file (a checksum mismatch among them).
pub fn locate_with(
    explicit: Option<&Path>,
    env_dir: Option<&Path>,
    fetch: &Fetch,
) -> Result<(PathBuf, Source)> {
    let named = [
        (explicit, Source::Explicit, "given with --data"),
        (
            env_dir,
            Source::Env,
            "given by the environment variable MNIST_DIR",
        ),
    ];
    if let Some((dir, source, why)) = named.into_iter().find_map(|(d, s, w)| Some((d?, s, w))) {
        for f in &fetch.files {
            f.find_in(dir, why)?;
        }
        return Ok((dir.to_path_buf(), source));
    }
    let cache = fetch.cache_dir.clone().ok_or(Error::NoCacheDir)?;
    let mut downloaded = false;
    for f in &fetch.files {
        let path = cache.join(f.gz_name());
        if path.is_file() {
            if sha256_file(&path)? == f.sha256 {
                continue;
            }
            // A damaged or foreign file in the cache is never used.
            std::fs::remove_file(&path).map_err(io_err(&path))?;
        }
        std::fs::create_dir_all(&cache).map_err(io_err(&cache))?;
        download(f, &cache, fetch)?;
        downloaded = true;
    }
    let source = if downloaded {
        Source::Downloaded
    } else {
        Source::Cache
    };
    Ok((cache, source))
}

/// The hex SHA-256 of a file.
///
/// # Errors
/// [`Error::Io`] if it cannot be read.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io_err(path))?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Without the `download` feature: the file is missing, and how to provide it.
#[cfg(not(feature = "download"))]
fn download(file: &MnistFile, dir: &Path, _: &Fetch) -> Result<()> {
    Err(Error::NoDownloader {
        file: file.stem,
        dir: dir.to_path_buf(),
    })
}

/// Downloads `file` into `dir`, trying each mirror in turn.
#[cfg(feature = "download")]
fn download(file: &MnistFile, dir: &Path, fetch: &Fetch) -> Result<()> {
    use std::time::Duration;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut attempts = Vec::new();
    for base in &fetch.mirrors {
        let url = format!("{base}{}", file.gz_name());
        match download_one(&agent, &url, file, dir, fetch) {
            Ok(()) => return Ok(()),
            Err(e) => attempts.push(e),
        }
    }
    Err(Error::Download {
        file: file.stem,
        attempts,
    })
}

/// Streams `url` into `dir/{name}.part` while hashing it, then renames it into place only
/// if the SHA-256 matches; otherwise deletes it.
#[cfg(feature = "download")]
fn download_one(
    agent: &ureq::Agent,
    url: &str,
    file: &MnistFile,
    dir: &Path,
    fetch: &Fetch,
) -> Result<()> {
    let (progress, max_bytes) = (fetch.progress, fetch.max_bytes);
    let http = |e: ureq::Error| Error::Http {
        url: url.to_string(),
        message: e.to_string(),
    };
    let mut response = agent.get(url).call().map_err(http)?;
    let total = response.body().content_length();
    let bar = Bar::new(progress, total, &file.gz_name());

    let tmp = dir.join(format!("{}.part", file.gz_name()));
    if let Some(n) = total.filter(|&n| n > max_bytes) {
        bar.finish_and_clear();
        return Err(too_large(url, n, max_bytes));
    }
    let mut body = response.body_mut().as_reader().take(max_bytes + 1);
    let result = save_verified(&mut body, url, file, &tmp, &bar, max_bytes).and_then(|()| {
        let dest = dir.join(file.gz_name());
        std::fs::rename(&tmp, &dest).map_err(io_err(&dest))
    });
    bar.finish_and_clear();
    if result.is_err() {
        // Never leave unverified bytes behind; a failure to delete is secondary.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The error for a body of (at least) `n` bytes where at most `max` are taken.
#[cfg(feature = "download")]
fn too_large(url: &str, n: u64, max: u64) -> Error {
    Error::Http {
        url: url.to_string(),
        message: format!("the body has {n} bytes or more, above the limit of {max}"),
    }
}

/// Copies `body` into `tmp` (fsynced), hashing as it goes, and checks the SHA-256; stops
/// past `max_bytes`.
#[cfg(feature = "download")]
fn save_verified(
    body: &mut impl Read,
    url: &str,
    file: &MnistFile,
    tmp: &Path,
    bar: &Bar,
    max_bytes: u64,
) -> Result<()> {
    let mut out = File::create(tmp).map_err(io_err(tmp))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut written = 0u64;
    loop {
        let n = body.read(&mut buf).map_err(|e| Error::Http {
            url: url.to_string(),
            message: format!("reading the body: {e}"),
        })?;
        if n == 0 {
            break;
        }
        written += n as u64;
        if written > max_bytes {
            return Err(too_large(url, written, max_bytes));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io_err(tmp))?;
        bar.inc(n as u64);
    }
    out.sync_all().map_err(io_err(tmp))?;
    let got = hex(&hasher.finalize());
    if got != file.sha256 {
        return Err(Error::Checksum {
            url: url.to_string(),
            expected: file.sha256.to_string(),
            got,
        });
    }
    Ok(())
}

/// A download's progress bar on stderr: indicatif's with the `progress` feature, nothing
/// without it.
#[cfg(feature = "download")]
struct Bar {
    #[cfg(feature = "progress")]
    bar: indicatif::ProgressBar,
}

#[cfg(feature = "download")]
impl Bar {
    /// A bar of `total` bytes labelled `name`, drawn only if `show`.
    #[cfg_attr(not(feature = "progress"), allow(unused_variables))]
    fn new(show: bool, total: Option<u64>, name: &str) -> Bar {
        #[cfg(feature = "progress")]
        {
            let bar = if show {
                indicatif::ProgressBar::new(total.unwrap_or(0))
            } else {
                indicatif::ProgressBar::hidden()
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(name.to_string());
            Bar { bar }
        }
        #[cfg(not(feature = "progress"))]
        Bar {}
    }

    #[cfg_attr(not(feature = "progress"), allow(unused_variables))]
    fn inc(&self, n: u64) {
        #[cfg(feature = "progress")]
        self.bar.inc(n);
    }

    fn finish_and_clear(&self) {
        #[cfg(feature = "progress")]
        self.bar.finish_and_clear();
    }
}
