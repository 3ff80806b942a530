//! A process killed (SIGKILL) in the middle of saving leaves the previous checkpoint whole
//! and loadable: this test runs a child that saves checkpoints in a loop, kills it at
//! random moments, and loads what is on disk each time.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use descent_nn::{Linear, Module};
use descent_train::checkpoint::{Checkpointer, Parts, PartsMut, Progress, Settings};
use rand::{Rng, SeedableRng};

const CHILD: &str = "DESCENT_TRAIN_SAVE_LOOP";

/// A model of 1M weights (8 MB per save), every weight `k` after save `k`.
fn model(k: f64) -> Linear<f64> {
    let mut m = Linear::<f64>::new(1000, 1000, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
    for p in m.params_mut() {
        p.value = p.value.map(|_| k);
    }
    m
}

fn settings() -> Settings {
    Settings::new().with("purpose", "kill test")
}

/// The child: saves checkpoint after checkpoint until killed (or a minute has passed).
#[test]
#[ignore = "the child process of kill_during_save_leaves_the_previous_checkpoint; runs only when it spawns it"]
fn save_loop_child() {
    let Some(path) = std::env::var_os(CHILD) else {
        return;
    };
    let ckpt = Checkpointer::new(path);
    let opt = descent_optim::build::<f64>("sgd:lr=0.1").unwrap();
    let start = Instant::now();
    let mut k = 0usize;
    while start.elapsed() < Duration::from_secs(60) {
        k += 1;
        let m = model(k as f64);
        let progress = Progress {
            epochs_done: k,
            ..Progress::default()
        };
        ckpt.save(&Parts {
            model: &m,
            optimizer: opt.as_ref(),
            averager: None,
            settings: &settings(),
            progress: &progress,
        })
        .unwrap();
    }
}

fn spawn(path: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "kill_during_save::save_loop_child",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD, path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Loads the checkpoint and checks it is one whole save: every weight equals its count.
fn check(path: &Path) -> usize {
    let mut m = model(-1.0);
    let mut opt = descent_optim::build::<f64>("sgd:lr=0.1").unwrap();
    let progress = Checkpointer::new(path)
        .load(PartsMut {
            model: &mut m,
            optimizer: opt.as_mut(),
            averager: None,
            settings: &settings(),
        })
        .unwrap_or_else(|e| panic!("the checkpoint does not load after a kill: {e}"));
    let k = progress.epochs_done as f64;
    for p in m.params() {
        assert!(
            p.value.to_vec().iter().all(|&v| v == k),
            "a torn checkpoint: not all {k}"
        );
    }
    progress.epochs_done
}

#[test]
fn kill_during_save_leaves_the_previous_checkpoint() {
    let dir = crate::common::temp_dir("kill");
    let path = dir.join("run.ckpt");
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let (mut last, mut kills) = (0, 0);
    for _ in 0..20 {
        let mut child = spawn(&path);
        // Wait for a first save before killing, then kill at a random moment.
        let start = Instant::now();
        while !path.exists() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(1..60)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        kills += 1;
        let k = check(&path);
        assert!(k >= 1);
        last = k;
    }
    assert_eq!(kills, 20);
    assert!(last >= 1);
    std::fs::remove_dir_all(&dir).ok();
}
