//! Launching: outside mpirun a program gets a world of one; asking for a distributed run
//! that this build or launch cannot give says how to launch.

use descent_distributed::{Comm, Error};

#[test]
fn outside_mpirun_init_is_a_world_of_one() {
    if descent_distributed::launched_by_mpi() {
        return; // the test binary itself was started by mpirun
    }
    let comm = Comm::init().unwrap();
    assert_eq!((comm.rank(), comm.size(), comm.is_root()), (0, 1, true));
    let mut x = [1.5f64, -2.0];
    comm.allreduce_sum(&mut x, Default::default()).unwrap();
    comm.broadcast(&mut x).unwrap();
    assert_eq!(x, [1.5, -2.0]);
    assert_eq!(comm.allgather_u64(&[7, 8]).unwrap(), vec![7, 8]);
}

#[test]
fn a_distributed_run_without_mpi_says_how_to_launch() {
    if descent_distributed::launched_by_mpi() && cfg!(feature = "mpi") {
        return;
    }
    match Comm::init_distributed() {
        Err(e @ Error::Launch { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("mpirun -n 2"), "{msg}");
            if !cfg!(feature = "mpi") {
                assert!(msg.contains("--features mpi"), "{msg}");
            }
        }
        other => panic!("expected a launch error, got {other:?}"),
    }
}

#[test]
fn on_root_runs_once_and_passes_its_error_on() {
    let comm = Comm::local();
    let dir = std::env::temp_dir().join(format!("descent-dist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ckpt.txt");
    let _ = std::fs::remove_file(&path);
    comm.on_root(&path, || std::fs::write(&path, "rank 0"))
        .unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "rank 0");
    let e = comm
        .on_root(&path, || std::fs::File::create_new(&path).map(|_| ()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ckpt.txt") && e.to_lowercase().contains("exists"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
