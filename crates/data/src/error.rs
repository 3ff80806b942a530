//! The data crate's error type: every message names the file (or URL) and what is wrong,
//! with the byte offset where the bytes stopped making sense.

use std::path::PathBuf;

/// Everything that can go wrong while finding, downloading, reading or batching data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused to open, read or write a file.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file that starts like gzip (`1f 8b`) but does not decompress.
    #[error("{path}: gzip data is corrupt or truncated: {source}")]
    Gzip {
        /// The file involved.
        path: PathBuf,
        /// flate2's error.
        source: std::io::Error,
    },
    /// An IDX file whose bytes do not follow the format. `offset` counts bytes of the
    /// (decompressed) IDX stream.
    #[error("{path}: not a valid IDX file at byte offset {offset}: {what}")]
    Idx {
        /// The file involved.
        path: PathBuf,
        /// Where in the (decompressed) IDX stream the problem is.
        offset: u64,
        /// What is wrong, with the numbers found and expected.
        what: String,
    },
    /// A label outside `0..classes`.
    #[error("{path}: label {label} of item {index} (byte offset {offset}) is not below {classes}")]
    Label {
        /// The label file.
        path: PathBuf,
        /// The item's index.
        index: usize,
        /// The (decompressed) byte offset of the label.
        offset: u64,
        /// The label found.
        label: u8,
        /// The number of classes.
        classes: usize,
    },
    /// An image file and a label file that disagree on the number of items.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Its item count.
        n_images: usize,
        /// The label file.
        labels: PathBuf,
        /// Its item count.
        n_labels: usize,
    },
    /// None of the accepted names of a dataset file exist in the directory.
    #[error("{dir}: no {name} (looked for {tried}); {hint}")]
    Missing {
        /// The directory searched.
        dir: PathBuf,
        /// The file wanted.
        name: &'static str,
        /// The names tried, comma-separated.
        tried: String,
        /// Where the directory came from and how to fix it.
        hint: String,
    },
    /// A downloaded file whose SHA-256 is not the published one. The file was deleted.
    #[error("{url}: SHA-256 is {got}, expected {expected}; the download was deleted")]
    Checksum {
        /// Where the bytes came from.
        url: String,
        /// The published checksum.
        expected: String,
        /// The checksum of the bytes received.
        got: String,
    },
    /// An HTTP request that failed.
    #[error("{url}: {message}")]
    Http {
        /// The URL requested.
        url: String,
        /// ureq's error or the HTTP status.
        message: String,
    },
    /// Every mirror failed for one file.
    #[error("could not download {file}: {}", join(.attempts))]
    Download {
        /// The file wanted.
        file: &'static str,
        /// Each mirror's failure, in the order tried.
        attempts: Vec<Error>,
    },
    /// A file missing from the cache, with the downloader compiled out (the `download`
    /// feature is off).
    #[error("{file} is not in {dir}, and descent-data was built without its `download` feature; pass the data directory (--data DIR or MNIST_DIR), or enable the feature")]
    NoDownloader {
        /// The file wanted.
        file: &'static str,
        /// The cache directory searched.
        dir: PathBuf,
    },
    /// No cache directory could be determined (neither `XDG_CACHE_HOME` nor `HOME` is set).
    #[error("no cache directory: set XDG_CACHE_HOME or HOME, or pass the data directory")]
    NoCacheDir,
    /// An argument outside its domain (a batch size of 0, a split larger than the data, ...).
    #[error("{op}: invalid {arg} = {value}: {why}")]
    InvalidArgument {
        /// The function called.
        op: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// The value given, formatted.
        value: String,
        /// What is allowed.
        why: String,
    },
    /// A tensor op failed (a shape error).
    #[error(transparent)]
    Tensor(#[from] descent_tensor::Error),
}

fn join(errors: &[Error]) -> String {
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

/// `Result` with [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The old name of [`enum@Error`]: every crate of the workspace now exports its error as
/// `Error` (and the facade's `descent::Error` takes them all).
#[deprecated(note = "renamed to descent_data::Error")]
pub type DataError = Error;

/// Attaches the path to an I/O error.
pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// [`Error::InvalidArgument`] naming `op` and the first of `indices` not below `len`;
/// `holder` says what was indexed (`"the dataset holds 3 items"`).
pub(crate) fn check_indices(
    op: &'static str,
    indices: &[usize],
    len: usize,
    holder: impl FnOnce() -> String,
) -> Result<()> {
    match indices.iter().find(|&&i| i >= len) {
        Some(&bad) => Err(Error::InvalidArgument {
            op,
            arg: "index",
            value: bad.to_string(),
            why: holder(),
        }),
        None => Ok(()),
    }
}
