//! State files: reads are bounded by the file's size (a device, a huge file or a lying
//! header is an error naming the file and the byte offset, never an unbounded read), and a
//! save killed with SIGKILL at a random moment leaves a loadable checkpoint and at most one
//! temporary file.

use descent_optim::{first_order::StateDict, Error};
use descent_tensor::Tensor;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("descent-optim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn load_err(path: &Path) -> String {
    StateDict::<f32>::load(path).unwrap_err().to_string()
}

/// 8 bytes of header length, then the header.
fn header_only(header: &str) -> Vec<u8> {
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b
}

#[test]
#[cfg(unix)]
fn a_device_is_refused_before_reading() {
    let err = load_err(Path::new("/dev/zero"));
    assert!(
        err.starts_with(
            "/dev/zero: not a valid safetensors file at byte offset 0: not a regular file"
        ),
        "{err}"
    );
}

#[test]
fn sizes_are_checked_against_the_file_before_the_data_is_read() {
    let dir = tmpdir("bounded");
    let path = dir.join("state.safetensors");
    // A header length of u64::MAX (what /dev/zero's neighbours and random bytes give).
    std::fs::write(&path, u64::MAX.to_le_bytes()).unwrap();
    let err = load_err(&path);
    assert!(err.contains("at byte offset 0: the header length field says 18446744073709551615 bytes but the file has only 0 bytes after it"), "{err}");
    // A header that declares 2^40 f32 elements in a file of a few bytes.
    let header =
        r#"{"w":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}"#;
    std::fs::write(&path, header_only(header)).unwrap();
    let err = load_err(&path);
    assert!(
        err.contains("truncated: tensor \"w\" needs bytes 0..4398046511104 of the data section, but the file holds only 0 data bytes"),
        "{err}"
    );
    // A valid small state followed by a terabyte of (sparse) zeros.
    let mut sd = StateDict::<f32>::new("sgd");
    sd.tensors.insert(
        "param.0.momentum_buffer".into(),
        Tensor::from_vec(vec![1.0; 4], &[4]).unwrap(),
    );
    sd.save(&path).unwrap();
    let valid = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 40)
        .unwrap();
    let err = load_err(&path);
    assert!(
        err.contains(&format!(
            "at byte offset {valid}: {} bytes follow the last tensor",
            (1u64 << 40) - valid
        )),
        "{err}"
    );
    // A header that is not JSON, and a file too short for a header length.
    std::fs::write(&path, header_only("{nope")).unwrap();
    assert!(load_err(&path).contains("at byte offset 8: the 5-byte header does not parse"));
    std::fs::write(&path, b"abc").unwrap();
    assert!(load_err(&path).contains("at byte offset 3: the file ends after 3 bytes"));
    assert!(matches!(StateDict::<f32>::load(&path), Err(Error::Io(_))));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_errors_name_the_target_not_the_temporary_file() {
    let dir = tmpdir("target-name");
    let target = dir.join("missing-dir").join("state.safetensors");
    let err = StateDict::<f32>::new("sgd")
        .save(&target)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("{}: ", target.display())), "{err}");
    assert!(!err.contains(".tmp"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stale_temporary_file_is_removed_by_the_next_save() {
    let dir = tmpdir("stale");
    let target = dir.join("state.safetensors");
    let tmp = dir.join("state.safetensors.tmp");
    std::fs::File::create(&tmp)
        .unwrap()
        .write_all(&vec![7u8; 1 << 20])
        .unwrap();
    StateDict::<f32>::new("sgd").save(&target).unwrap();
    assert!(!tmp.exists());
    assert_eq!(StateDict::<f32>::load(&target).unwrap().optimizer, "sgd");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Set in the child that saves in a loop: the target path.
const SAVER: &str = "DESCENT_TEST_SAVE_LOOP";
const LEN: usize = 1 << 21; // 8 MB of f32 per save, so that kills land mid-write

/// The state number `k`: every element and the metadata say `k`.
fn state(k: u32) -> StateDict<f32> {
    let mut sd = StateDict::new("sgd");
    sd.set_meta("k", k);
    let t = Tensor::from_vec(vec![k as f32; LEN], &[LEN]).unwrap();
    sd.tensors.insert("param.0.momentum_buffer".into(), t);
    sd
}

#[test]
fn a_save_killed_at_random_moments_leaves_a_loadable_checkpoint() {
    if let Some(target) = std::env::var_os(SAVER) {
        // The child: save states 1, 2, ... until killed (bounded, should the parent die).
        let start = Instant::now();
        for k in 1.. {
            state(k).save(Path::new(&target)).unwrap();
            if start.elapsed() > Duration::from_secs(60) {
                break;
            }
        }
        return;
    }
    let dir = tmpdir("kill");
    let target = dir.join("state.safetensors");
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(30);
    for round in 0..8 {
        // Start each round without a checkpoint, so the random delay begins once the child
        // has saved (a stale temporary file from the last kill stays for it to clean).
        let _ = std::fs::remove_file(&target);
        let mut child = Command::new(&exe)
            .args([
                "files::a_save_killed_at_random_moments_leaves_a_loadable_checkpoint",
                "--exact",
                "--test-threads=1",
            ])
            .env(SAVER, &target)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let waited = Instant::now();
        while !target.exists() && waited.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..250)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let sd = StateDict::<f32>::load(&target)
            .unwrap_or_else(|e| panic!("round {round}: the checkpoint does not load: {e}"));
        let k: u32 = sd.meta_parse("k").unwrap();
        let v = sd.tensors["param.0.momentum_buffer"].to_vec();
        assert!(
            k >= 1 && v.len() == LEN && v.iter().all(|&x| x == k as f32),
            "round {round}: not one of the written states"
        );
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "state.safetensors")
            .collect();
        left.sort();
        assert!(
            left.is_empty() || left == ["state.safetensors.tmp"],
            "round {round}: left behind {left:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
