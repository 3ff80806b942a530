//! The IDX reader: round trips for every element type, gzip detection, one test per kind of
//! corruption (each error names the file and the byte offset), and a fuzz test.

use std::io::Write;

use descent_data::idx::{IdxArray, IdxType};
use descent_data::Error;
use flate2::write::GzEncoder;
use proptest::prelude::*;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn sample() -> IdxArray {
    IdxArray::new(
        IdxType::U8,
        vec![3, 2, 2],
        (0..12).map(|i| i * 20).collect(),
    )
    .unwrap()
}

fn idx_err(bytes: Vec<u8>) -> (u64, String) {
    match IdxArray::parse(bytes, "bad.idx").unwrap_err() {
        e @ Error::Idx { offset, .. } => {
            let msg = e.to_string();
            assert!(msg.starts_with("bad.idx: "), "{msg}");
            (offset, msg)
        }
        e => panic!("expected an Idx error, got {e}"),
    }
}

#[test]
fn every_type_round_trips_big_endian() {
    let cases: [(IdxType, Vec<u8>, Vec<f64>); 6] = [
        (IdxType::U8, vec![0, 255], vec![0.0, 255.0]),
        (IdxType::I8, vec![0x7f, 0x80], vec![127.0, -128.0]),
        (
            IdxType::I16,
            vec![0x01, 0x02, 0xff, 0xfe],
            vec![258.0, -2.0],
        ),
        (
            IdxType::I32,
            [7i32.to_be_bytes(), (-9i32).to_be_bytes()].concat(),
            vec![7.0, -9.0],
        ),
        (
            IdxType::F32,
            [1.5f32.to_be_bytes(), (-0.25f32).to_be_bytes()].concat(),
            vec![1.5, -0.25],
        ),
        (
            IdxType::F64,
            [2.5f64.to_be_bytes(), 1e300f64.to_be_bytes()].concat(),
            vec![2.5, 1e300],
        ),
    ];
    for (dtype, data, values) in cases {
        let a = IdxArray::new(dtype, vec![2], data).unwrap();
        let bytes = a.to_bytes();
        assert_eq!(&bytes[..8], &[0, 0, dtype.code(), 1, 0, 0, 0, 2]);
        let b = IdxArray::parse(bytes, "x").unwrap();
        assert_eq!(b, a);
        assert_eq!(b.to_f64_vec(), values, "{dtype:?}");
        assert_eq!(b.to_tensor::<f64>().unwrap().to_vec(), values, "{dtype:?}");
    }
}

#[test]
fn gzip_is_detected_by_magic_not_name() {
    let a = sample();
    let dir = std::env::temp_dir().join(format!("descent-idx-gz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("no-gz-suffix");
    std::fs::write(&path, gzip(&a.to_bytes())).unwrap();
    assert_eq!(IdxArray::read(&path).unwrap(), a);
    std::fs::write(&path, a.to_bytes()).unwrap();
    assert_eq!(IdxArray::read(&path).unwrap(), a);
    let t = a.to_tensor::<f32>().unwrap();
    assert_eq!(t.shape(), &[3, 2, 2]);
    assert_eq!(t.get(&[2, 1, 1]).unwrap(), 220.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_magic_names_the_bytes_found() {
    let mut b = sample().to_bytes();
    b[0] = 0x12;
    let (offset, msg) = idx_err(b);
    assert_eq!(offset, 0);
    assert!(msg.contains("magic number is 12 00 08 03"), "{msg}");
}

#[test]
fn unknown_type_and_zero_dims() {
    let mut b = sample().to_bytes();
    b[2] = 0x0A;
    let (offset, msg) = idx_err(b);
    assert_eq!(offset, 2);
    assert!(msg.contains("unknown element type 0x0a"), "{msg}");
    let (offset, msg) = idx_err(vec![0, 0, 8, 0]);
    assert_eq!(offset, 3);
    assert!(msg.contains("zero dimensions"), "{msg}");
}

#[test]
fn truncation_anywhere_is_reported_with_the_offset() {
    let full = sample().to_bytes(); // 16-byte header + 12 data bytes
    let (offset, msg) = idx_err(full[..2].to_vec());
    assert_eq!(offset, 2);
    assert!(msg.contains("inside the 4-byte magic"), "{msg}");
    let (offset, msg) = idx_err(full[..9].to_vec());
    assert_eq!(offset, 9);
    assert!(
        msg.contains("inside the header of 3 sizes (16 bytes)"),
        "{msg}"
    );
    let (offset, msg) = idx_err(full[..20].to_vec());
    assert_eq!(offset, 20);
    assert!(
        msg.contains("truncated: dims [3, 2, 2] of U8 need 12 data bytes"),
        "{msg}"
    );
    assert!(msg.contains("found 4"), "{msg}");
}

#[test]
fn trailing_bytes_and_huge_dims() {
    let mut b = sample().to_bytes();
    b.push(0);
    let (offset, msg) = idx_err(b);
    assert_eq!(offset, 28);
    assert!(msg.contains("trailing bytes"), "{msg}");
    // 4 dims of 2^32-1 f64s overflow usize: an error, not an allocation attempt.
    let mut b = vec![0, 0, 0x0E, 4];
    b.extend([0xff; 16]);
    let (offset, msg) = idx_err(b);
    assert_eq!(offset, 4);
    assert!(msg.contains("more bytes than memory can address"), "{msg}");
}

#[test]
fn corrupt_gzip_is_an_error_naming_the_file() {
    let mut gz = gzip(&sample().to_bytes());
    gz.truncate(gz.len() / 2);
    let e = IdxArray::parse_file_bytes(gz, "half.gz").unwrap_err();
    assert!(matches!(e, Error::Gzip { .. }), "{e}");
    assert!(
        e.to_string().starts_with("half.gz: gzip data is corrupt"),
        "{e}"
    );
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let e = IdxArray::read("/nonexistent/train-images-idx3-ubyte").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/train-images-idx3-ubyte: "),
        "{e}"
    );
}

#[test]
fn new_checks_the_length() {
    let e = IdxArray::new(IdxType::I16, vec![2, 2], vec![0; 7]).unwrap_err();
    assert!(
        e.to_string().contains("dims [2, 2] of I16 need 8 bytes"),
        "{e}"
    );
}

fn check_never_panics(bytes: Vec<u8>) {
    let gz = gzip(&bytes);
    for input in [bytes, gz] {
        if let Ok(a) = IdxArray::parse_file_bytes(input, "fuzz") {
            let need: usize = a.dims.iter().product::<usize>() * a.dtype.size();
            assert_eq!(a.data.len(), need);
            assert_eq!(IdxArray::parse(a.to_bytes(), "again").unwrap(), a);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        check_never_panics(bytes);
    }

    #[test]
    fn random_headers_never_panic(
        code in prop_oneof![Just(8u8), Just(9), Just(0x0b), Just(0x0c), Just(0x0d), Just(0x0e), any::<u8>()],
        dims in proptest::collection::vec(0u32..5, 0..4),
        tail in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut bytes = vec![0, 0, code, dims.len() as u8];
        for d in &dims {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend(tail);
        check_never_panics(bytes);
    }

    #[test]
    fn mutated_valid_files_never_panic(
        edits in proptest::collection::vec((0usize..28, any::<u8>()), 1..4),
        cut in 0usize..40,
    ) {
        let mut bytes = sample().to_bytes();
        for (i, v) in edits {
            bytes[i] = v;
        }
        bytes.truncate(cut);
        check_never_panics(bytes);
    }

    #[test]
    fn mutated_gzip_never_panics(at in 0usize..40, v in any::<u8>(), cut in 0usize..80) {
        let mut gz = gzip(&sample().to_bytes());
        let i = at % gz.len();
        gz[i] = v;
        gz.truncate(cut);
        let _ = IdxArray::parse_file_bytes(gz, "fuzz.gz");
    }
}

fn tmp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("descent-idx-bounded-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn a_gzip_bomb_stops_at_the_declared_size() {
    // 300 labels, then 16 GiB of zeros in 256 gzip members of 64 MiB each (a 16 MB file):
    // inflating it all needed 16 GiB; reading stops one byte past the 308 declared bytes.
    let labels = IdxArray::new(IdxType::U8, vec![300], vec![3; 300]).unwrap();
    let zeros = gzip(&vec![0u8; 64 << 20]);
    let path = tmp_file("bomb-labels-idx1-ubyte.gz");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(&gzip(&labels.to_bytes())).unwrap();
    for _ in 0..256 {
        f.write_all(&zeros).unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();
    let e = IdxArray::read(&path).unwrap_err();
    let Error::Idx { offset, .. } = e else {
        panic!("{e}")
    };
    assert_eq!(offset, 308);
    assert!(
        e.to_string().contains("the file has trailing bytes: dims [300] of U8 need 300 data bytes after the 8-byte header, found more (offset in the decompressed stream)"),
        "{e}"
    );
    assert!(
        e.to_string().starts_with(&path.display().to_string()),
        "{e}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn declared_sizes_are_checked_against_the_file_before_reading() {
    // A raw file: its size must be the header's plus the data's.
    let labels = IdxArray::new(IdxType::U8, vec![300], vec![3; 300]).unwrap();
    let path = tmp_file("huge-labels-idx1-ubyte");
    std::fs::write(&path, labels.to_bytes()).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(1 << 40).unwrap(); // a terabyte, sparse
    let e = IdxArray::read(&path).unwrap_err().to_string();
    assert!(
        e.contains("at byte offset 308: the file has trailing bytes"),
        "{e}"
    );
    // A gzip file far too small to hold what its header declares (256 MiB of images).
    let header = [0u8, 0, 8, 3, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0, 1, 0];
    let path = tmp_file("lying-images-idx3-ubyte.gz");
    std::fs::write(&path, gzip(&header)).unwrap();
    let e = IdxArray::read(&path).unwrap_err().to_string();
    assert!(
        e.contains(
            "at byte offset 4: dims [4096, 256, 256] of U8 need 268435456 data bytes, more than a"
        ),
        "{e}"
    );
}
