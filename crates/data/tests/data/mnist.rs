//! MNIST: the real files (from `MNIST_DIR` only; those tests are ignored by default, and
//! CI sets `MNIST_DIR` and runs them), tiny datasets in its layout, corrupted copies in a
//! temporary directory, and the download path against an HTTP server on 127.0.0.1, so
//! `cargo test` passes with no network and no data directory.
// Without the `download` feature the download tests and their helpers are compiled out.
#![cfg_attr(not(feature = "download"), allow(unused_imports, dead_code))]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use descent_data::idx::{IdxArray, IdxType};
use descent_data::mnist::{
    locate_with, sha256_file, Fetch, Mnist, MnistFile, Source, Split, FILES,
};
use descent_data::Error;

/// Why the tests on the real files are ignored unless asked for.
const NEEDS_MNIST: &str = "needs the MNIST files: set MNIST_DIR";

/// The directory `MNIST_DIR` names, holding the real files.
fn real_dir() -> PathBuf {
    let dir = std::env::var_os("MNIST_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{NEEDS_MNIST}"));
    assert!(
        dir.join("train-images-idx3-ubyte.gz").is_file()
            || dir.join("train-images-idx3-ubyte").is_file(),
        "MNIST not found in {} (set MNIST_DIR)",
        dir.display()
    );
    dir
}

/// A fresh, empty temporary directory for one test.
fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("descent-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
#[ignore = "needs the MNIST files: set MNIST_DIR"]
fn real_mnist_has_the_published_counts_and_labels() {
    let m = Mnist::load(real_dir()).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (60_000, 10_000));
    assert_eq!(m.train.item_shape, vec![28, 28]);
    assert_eq!(m.train.images.len(), 60_000 * 784);
    // First labels, as `python3 -c "import gzip; print(list(gzip.open(f).read()[8:18]))"` prints.
    assert_eq!(m.train.labels[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(m.test.labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    // The published per-class counts of MNIST's training and test sets.
    let counts = |labels: &[usize]| {
        let mut c = [0usize; 10];
        labels.iter().for_each(|&l| c[l] += 1);
        c
    };
    assert_eq!(
        counts(&m.train.labels),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        counts(&m.test.labels),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    let d = m.test.to_dataset::<f32>().unwrap();
    assert_eq!(d.images().shape(), &[10_000, 784]);
    let px = d.images().as_slice().unwrap();
    assert!(px.iter().all(|&p| (0.0..=1.0).contains(&p)));
    assert_eq!(px.iter().cloned().fold(0.0, f32::max), 1.0);
}

/// Writes a tiny dataset in MNIST's layout (raw IDX files) with `n_train` items.
fn write_tiny(dir: &Path, n_train: u32, train_labels: &[u8]) {
    let images = |n: u32| {
        IdxArray::new(IdxType::U8, vec![n as usize, 2, 2], vec![7; 4 * n as usize]).unwrap()
    };
    let labels = |l: &[u8]| IdxArray::new(IdxType::U8, vec![l.len()], l.to_vec()).unwrap();
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        images(n_train).to_bytes(),
    )
    .unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        labels(train_labels).to_bytes(),
    )
    .unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), images(2).to_bytes()).unwrap();
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        labels(&[1, 2]).to_bytes(),
    )
    .unwrap();
}

#[test]
fn a_small_dataset_in_the_layout_loads() {
    let dir = tmpdir("tiny");
    write_tiny(&dir, 3, &[0, 9, 4]);
    let m = Mnist::load(&dir).unwrap();
    assert_eq!(m.train.labels, vec![0, 9, 4]);
    assert_eq!(m.train.features(), 4);
    assert_eq!(m.test.images::<f64>().unwrap().to_vec(), vec![7.0; 8]);
    // Named directories are used as given, without checksums (Fashion-MNIST et al.).
    let (found, source) = locate_with(Some(&dir), None, &offline()).unwrap();
    assert_eq!((found, source), (dir.clone(), Source::Explicit));
    let (_, source) = locate_with(None, Some(&dir), &offline()).unwrap();
    assert_eq!(source, Source::Env);
}

#[test]
fn label_ten_names_the_file_item_and_offset() {
    let dir = tmpdir("label10");
    write_tiny(&dir, 3, &[0, 10, 4]);
    let e = Mnist::load(&dir).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Label {
                index: 1,
                offset: 9,
                label: 10,
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("train-labels-idx1-ubyte: label 10 of item 1 (byte offset 9) is not below 10"),
        "{msg}"
    );
}

#[test]
fn count_mismatch_names_both_files() {
    let dir = tmpdir("count");
    write_tiny(&dir, 4, &[0, 1, 2]);
    let msg = Mnist::load(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("train-images-idx3-ubyte holds 4 images but"),
        "{msg}"
    );
    assert!(
        msg.contains("train-labels-idx1-ubyte holds 3 labels"),
        "{msg}"
    );
}

#[test]
#[ignore = "needs the MNIST files: set MNIST_DIR"]
fn truncated_and_wrong_magic_real_files() {
    let dir = tmpdir("corrupt");
    let src = real_dir();
    for f in FILES {
        let from = f.find_in(&src, "").unwrap();
        let raw = IdxArray::read(&from).unwrap().to_bytes();
        std::fs::write(dir.join(f.stem), raw).unwrap();
    }
    // Truncate the test images in the middle of image 5000.
    let path = dir.join("t10k-images-idx3-ubyte");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..16 + 5000 * 784 + 100]).unwrap();
    let msg = Mnist::load(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("t10k-images-idx3-ubyte: not a valid IDX file at byte offset 3920116"),
        "{msg}"
    );
    assert!(
        msg.contains("truncated: dims [10000, 28, 28] of U8 need 7840000 data bytes"),
        "{msg}"
    );
    // Images and labels swapped: a labels file where images are expected.
    std::fs::write(
        &path,
        std::fs::read(dir.join("t10k-labels-idx1-ubyte")).unwrap(),
    )
    .unwrap();
    let msg = Mnist::load(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("images must have at least 2 (count, rows, cols) dims, found 1"),
        "{msg}"
    );
    // Wrong magic.
    let mut b = bytes.clone();
    b[..4].copy_from_slice(&2051u32.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    let msg = Mnist::load(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("byte offset 0: magic number is 03 08 00 00"),
        "{msg}"
    );
}

#[test]
fn a_missing_file_in_a_named_directory_is_an_error_not_a_download() {
    let dir = tmpdir("missing");
    write_tiny(&dir, 1, &[3]);
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let msg = locate_with(Some(&dir), None, &offline())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no t10k-labels-idx1-ubyte (looked for t10k-labels-idx1-ubyte.gz, t10k-labels-idx1-ubyte,"), "{msg}");
    assert!(msg.contains("given with --data"), "{msg}");
    let msg = locate_with(None, Some(&dir), &offline())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("MNIST_DIR"), "{msg}");
}

/// Download settings that can reach nothing.
fn offline() -> Fetch {
    Fetch {
        mirrors: vec![],
        cache_dir: None,
        progress: false,
        files: FILES,
        max_bytes: 1 << 30,
    }
}

#[cfg(feature = "download")]
/// What the test server answers for one file.
#[derive(Clone)]
enum Reply {
    /// 200 with the whole body.
    Body(Vec<u8>),
    /// 200 announcing the whole body's length, then half of it, then the connection closes.
    CutShort(Vec<u8>),
    /// 200 without a length: the body ends when the connection closes.
    Unannounced(Vec<u8>),
}

#[cfg(feature = "download")]
/// Serves `files` over HTTP/1.1 on 127.0.0.1 (anything else is a 404) for at most
/// `requests` connections, each with read and write timeouts.
fn serve(files: Vec<(String, Reply)>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut s) = stream else { continue };
            let timeout = Some(Duration::from_secs(10));
            if s.set_read_timeout(timeout).is_err() || s.set_write_timeout(timeout).is_err() {
                continue;
            }
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 64 * 1024 {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let path = line
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_string();
            let reply = files
                .iter()
                .find(|(n, _)| *n == path)
                .map(|(_, r)| r.clone());
            let (status, length, body) = match reply {
                Some(Reply::Body(b)) => ("200 OK", Some(b.len()), b),
                Some(Reply::CutShort(b)) => ("200 OK", Some(b.len()), b[..b.len() / 2].to_vec()),
                Some(Reply::Unannounced(b)) => ("200 OK", None, b),
                None => ("404 Not Found", Some(8), b"not here".to_vec()),
            };
            let length = length.map_or(String::new(), |n| format!("Content-Length: {n}\r\n"));
            let head = format!("HTTP/1.1 {status}\r\n{length}Connection: close\r\n\r\n");
            let _ = s
                .write_all(head.as_bytes())
                .and_then(|_| s.write_all(&body));
        }
    });
    base
}

#[cfg(feature = "download")]
fn real_gz_files() -> Vec<(String, Vec<u8>)> {
    FILES
        .iter()
        .map(|f| {
            (
                f.gz_name(),
                std::fs::read(real_dir().join(f.gz_name())).unwrap(),
            )
        })
        .collect()
}

#[cfg(feature = "download")]
#[test]
#[ignore = "needs the MNIST files: set MNIST_DIR"]
fn real_downloads_with_the_wrong_checksum_are_deleted_and_reported() {
    let cache = tmpdir("badsum");
    // Right names, wrong bytes (one flipped bit in the first file).
    let mut files = real_gz_files();
    files[0].1[1000] ^= 1;
    let files = files
        .into_iter()
        .map(|(n, b)| (n, Reply::Body(b)))
        .collect();
    let base = serve(files, 16);
    let fetch = Fetch {
        mirrors: vec![base.clone()],
        cache_dir: Some(cache.clone()),
        progress: false,
        files: FILES,
        max_bytes: 1 << 30,
    };
    let e = locate_with(None, None, &fetch).unwrap_err();
    let Error::Download { file, attempts } = &e else {
        panic!("{e}")
    };
    assert_eq!(*file, "train-images-idx3-ubyte");
    assert!(matches!(&attempts[..], [Error::Checksum { .. }]), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("{base}train-images-idx3-ubyte.gz: SHA-256 is ")),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "expected {}; the download was deleted",
            FILES[0].sha256
        )),
        "{msg}"
    );
    let left: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert!(left.is_empty(), "bad bytes were kept: {left:?}");
}

#[cfg(feature = "download")]
#[test]
#[ignore = "needs the MNIST files: set MNIST_DIR"]
fn real_download_falls_back_to_the_next_mirror_then_uses_the_cache() {
    let cache = tmpdir("download");
    let empty = serve(vec![], 16); // every file 404s here
    let real = real_gz_files().into_iter();
    let good = serve(real.map(|(n, b)| (n, Reply::Body(b))).collect(), 16);
    let fetch = Fetch {
        mirrors: vec![empty, good],
        cache_dir: Some(cache.clone()),
        progress: false,
        files: FILES,
        max_bytes: 1 << 30,
    };
    let (dir, source) = locate_with(None, None, &fetch).unwrap();
    assert_eq!(
        (dir.as_path(), source),
        (cache.as_path(), Source::Downloaded)
    );
    // Downloaded bytes are the canonical files, verified.
    for f in FILES {
        assert_eq!(
            descent_data::mnist::sha256_file(&cache.join(f.gz_name())).unwrap(),
            f.sha256
        );
    }
    // Second time: found in the cache, no network (no mirrors at all).
    let fetch = Fetch {
        mirrors: vec![],
        ..fetch
    };
    assert_eq!(locate_with(None, None, &fetch).unwrap().1, Source::Cache);
    let m = Mnist::load(&dir).unwrap();
    assert_eq!(m.test.len(), 10_000);
    // A corrupted cache file is not used: it is fetched again (and here, with no mirror, fails).
    let path = cache.join(FILES[3].gz_name());
    std::fs::write(&path, b"garbage").unwrap();
    let e = locate_with(None, None, &fetch).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Download {
                file: "t10k-labels-idx1-ubyte",
                ..
            }
        ),
        "{e}"
    );
    assert!(!path.exists(), "the corrupted cache file was kept");
}

#[test]
fn split_read_checks_both_files_exist() {
    let e = Split::read(Path::new("/nope/a"), Path::new("/nope/b")).unwrap_err();
    assert!(e.to_string().starts_with("/nope/a: "), "{e}");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[cfg(feature = "download")]
/// A tiny dataset in MNIST's layout, gzipped as the mirrors serve it: (name, bytes) of the
/// four files, and the files with their checksums, as a [`Fetch`] takes them.
fn tiny_gz(name: &str) -> (Vec<(String, Vec<u8>)>, [MnistFile; 4]) {
    let images = |n: usize| IdxArray::new(IdxType::U8, vec![n, 2, 2], vec![9; 4 * n]).unwrap();
    let labels = |l: &[u8]| IdxArray::new(IdxType::U8, vec![l.len()], l.to_vec()).unwrap();
    let idx = [images(3), labels(&[1, 2, 3]), images(2), labels(&[4, 5])];
    let bytes: Vec<Vec<u8>> = idx.iter().map(|a| gzip(&a.to_bytes())).collect();
    let dir = tmpdir(&format!("{name}-sums"));
    let mut files = FILES;
    for (f, b) in files.iter_mut().zip(&bytes) {
        let path = dir.join(f.gz_name());
        std::fs::write(&path, b).unwrap();
        // The checksums of these bytes stand in for the published ones.
        f.sha256 = Box::leak(sha256_file(&path).unwrap().into_boxed_str());
    }
    let named = files.iter().map(|f| f.gz_name()).zip(bytes).collect();
    (named, files)
}

#[cfg(feature = "download")]
/// The names of what is left in `dir`.
fn left_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(feature = "download")]
#[test]
fn a_good_download_is_verified_cached_and_loaded() {
    let (named, files) = tiny_gz("good-download");
    let cache = tmpdir("good-download");
    let base = serve(
        named
            .into_iter()
            .map(|(n, b)| (n, Reply::Body(b)))
            .collect(),
        8,
    );
    let fetch = Fetch {
        mirrors: vec![base],
        cache_dir: Some(cache.clone()),
        progress: false,
        files,
        max_bytes: 1 << 30,
    };
    let (dir, source) = locate_with(None, None, &fetch).unwrap();
    assert_eq!(
        (dir.as_path(), source),
        (cache.as_path(), Source::Downloaded)
    );
    let mut want: Vec<String> = files.iter().map(|f| f.gz_name()).collect();
    want.sort();
    assert_eq!(left_in(&cache), want);
    let m = Mnist::load(&dir).unwrap();
    assert_eq!(
        (m.train.labels.clone(), m.test.labels.clone()),
        (vec![1, 2, 3], vec![4, 5])
    );
    // The second time nothing is fetched: no mirror at all.
    let fetch = Fetch {
        mirrors: vec![],
        ..fetch
    };
    assert_eq!(locate_with(None, None, &fetch).unwrap().1, Source::Cache);
}

#[cfg(feature = "download")]
/// Serves the tiny dataset with `bad`'s reply in place of the training labels, and returns
/// the one-line error and what is left in the cache.
fn failed_download(name: &str, bad: Option<Reply>) -> (Error, Vec<String>, String) {
    let (named, files) = tiny_gz(name);
    let cache = tmpdir(name);
    let target = files[1].gz_name();
    let replies = named
        .into_iter()
        .filter_map(|(n, b)| match (n == target, &bad) {
            (false, _) => Some((n, Reply::Body(b))),
            (true, Some(r)) => Some((n, r.clone())),
            (true, None) => None, // a 404
        })
        .collect();
    let base = serve(replies, 8);
    let fetch = Fetch {
        mirrors: vec![base.clone()],
        cache_dir: Some(cache.clone()),
        progress: false,
        files,
        max_bytes: 1 << 30,
    };
    let e = locate_with(None, None, &fetch).unwrap_err();
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "not one line: {msg}");
    assert!(
        msg.starts_with(&format!(
            "could not download train-labels-idx1-ubyte: {base}train-labels-idx1-ubyte.gz: "
        )),
        "{msg}"
    );
    // Only the training images, verified, are in the cache: no partial labels.
    assert_eq!(
        left_in(&cache),
        vec!["train-images-idx3-ubyte.gz".to_string()]
    );
    (e, left_in(&cache), files[1].sha256.to_string())
}

#[cfg(feature = "download")]
#[test]
fn a_download_with_the_wrong_checksum_is_refused_and_deleted() {
    let (named, _) = tiny_gz("wrong-sum-source");
    let mut other = named[1].1.clone();
    let n = other.len();
    other[n - 5] ^= 1; // the gzip trailer's length: still bytes, not the published ones
    let (e, _, sum) = failed_download("wrong-sum", Some(Reply::Body(other)));
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("expected {sum}; the download was deleted")),
        "{msg}"
    );
    let Error::Download { attempts, .. } = e else {
        panic!("{msg}")
    };
    assert!(matches!(attempts[..], [Error::Checksum { .. }]), "{msg}");
}

#[cfg(feature = "download")]
#[test]
fn a_truncated_download_is_refused_and_deleted() {
    let (named, _) = tiny_gz("cut-short-source");
    let (e, _, _) = failed_download("cut-short", Some(Reply::CutShort(named[1].1.clone())));
    let Error::Download { attempts, .. } = &e else {
        panic!("{e}")
    };
    assert!(matches!(attempts[..], [Error::Http { .. }]), "{e}");
    assert!(e.to_string().contains("reading the body"), "{e}");
}

#[cfg(feature = "download")]
#[test]
fn a_missing_download_is_refused() {
    let (e, _, _) = failed_download("not-found", None);
    assert!(e.to_string().contains("404"), "{e}");
}

#[cfg(feature = "download")]
#[test]
fn a_download_above_the_size_limit_is_refused_announced_or_not() {
    for (name, announced) in [("too-large", true), ("too-large-unannounced", false)] {
        let (named, files) = tiny_gz(name);
        let cache = tmpdir(name);
        let limit = named[0].1.len() as u64 - 1; // the training images are one byte too many
        let replies = named
            .into_iter()
            .map(|(n, b)| match announced {
                true => (n, Reply::Body(b)),
                false => (n, Reply::Unannounced(b)),
            })
            .collect();
        let base = serve(replies, 8);
        let fetch = Fetch {
            mirrors: vec![base.clone()],
            cache_dir: Some(cache.clone()),
            progress: false,
            files,
            max_bytes: limit,
        };
        let msg = locate_with(None, None, &fetch).unwrap_err().to_string();
        assert_eq!(
            msg,
            format!(
                "could not download train-images-idx3-ubyte: {base}train-images-idx3-ubyte.gz: \
                 the body has {} bytes or more, above the limit of {limit}",
                limit + 1
            )
        );
        assert!(left_in(&cache).is_empty(), "{:?}", left_in(&cache));
    }
}

/// Without the downloader, a file missing from the cache is an error saying how to provide
/// it, and nothing is fetched.
#[cfg(not(feature = "download"))]
#[test]
fn without_the_download_feature_a_missing_file_says_how_to_provide_it() {
    let cache = tmpdir("no-downloader");
    let fetch = Fetch {
        cache_dir: Some(cache.clone()),
        ..offline()
    };
    let msg = locate_with(None, None, &fetch).unwrap_err().to_string();
    assert!(
        msg.starts_with("train-images-idx3-ubyte is not in"),
        "{msg}"
    );
    assert!(msg.contains("without its `download` feature"), "{msg}");
}
