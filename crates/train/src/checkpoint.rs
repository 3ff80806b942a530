//! One file holding everything a run needs to continue exactly, written atomically and
//! restored bit for bit: the model's parameters and buffers, the optimizer's state, the
//! weight averages, the schedule's position, the seed the data order and dropout masks
//! derive from, the epochs done with their records and per-step losses, the best weights
//! so far (for early stopping), and the run's [`Settings`].
//!
//! The file is safetensors (the format of weights and optimizer state): tensors
//! `model.<name>`, `best.<name>`, the optimizer's own keys and the averager's
//! `average.<i>`; metadata `checkpoint.*`. It is written through
//! [`descent_tensor::io::write_atomic`] (a temporary file, fsync, rename, directory fsync),
//! so a process killed during a save leaves the previous checkpoint whole. A model holding
//! NaN or infinity is never saved.
//!
//! Loading checks everything before changing anything: the format and its version, the
//! settings, the optimizer's name, every tensor's name and shape. A mismatch is an
//! [`Error::Checkpoint`] naming it in plain words, and leaves the model, the optimizer and
//! the file as they were.

use std::path::{Path, PathBuf};

use descent_nn::serialize::Buffer;
use descent_nn::Module;
use descent_optim::first_order::{Averager, StateDict};
use descent_optim::Optimizer;
use descent_tensor::{Float, Tensor};

use crate::metrics::EpochRecord;
use crate::{Error, Result};

/// What the file's metadata `checkpoint.format` holds.
pub const FORMAT: &str = "descent-train-checkpoint";
/// The format version this build writes, and the newest it reads.
pub const VERSION: u32 = 1;

/// The settings a checkpoint is valid for, as (name, value) pairs in plain words: a
/// resumed run must have the same ones. Things that may change between the two runs (the
/// number of epochs, the output files, the thread count) do not belong here.
///
/// ```
/// use descent_train::checkpoint::Settings;
/// let saved = Settings::new().with("optimizer", "sgd:lr=0.1").with("batch size", 64);
/// let now = Settings::new().with("optimizer", "adam").with("batch size", 64);
/// assert_eq!(
///     now.mismatch(&saved).unwrap(),
///     "the checkpoint's run had optimizer sgd:lr=0.1; this run has adam"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pairs: Vec<(String, String)>,
    /// Names recorded for the reader (how a value was chosen) but not compared.
    notes: Vec<String>,
}

impl Settings {
    /// No settings.
    pub fn new() -> Self {
        Settings::default()
    }

    /// These settings and `name` = `value` (replacing an earlier value of `name`).
    pub fn with(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        self.set(name, value);
        self
    }

    /// Sets `name` to `value`.
    pub fn set(&mut self, name: &str, value: impl std::fmt::Display) {
        let value = value.to_string();
        match self.pairs.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.pairs.push((name.to_string(), value)),
        }
    }

    /// These settings and a note `name` = `value`: kept in the checkpoint for whoever
    /// resumes it (how a setting was chosen, say), but not required to match.
    pub fn with_note(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        self.set(name, value);
        if !self.notes.iter().any(|n| n == name) {
            self.notes.push(name.to_string());
        }
        self
    }

    /// These settings and all of `other`'s (its notes stay notes; its values replace
    /// these where both have a name).
    pub fn merged(mut self, other: &Settings) -> Self {
        for (name, value) in other.iter() {
            self = if other.notes.iter().any(|n| n == name) {
                self.with_note(name, value)
            } else {
                self.with(name, value)
            };
        }
        self
    }

    fn compared(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter()
            .filter(|(n, _)| !self.notes.iter().any(|m| m == n))
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs, in the order they were set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The first difference from `saved` (a checkpoint's), in one sentence; `None` if the
    /// two agree.
    pub fn mismatch(&self, saved: &Settings) -> Option<String> {
        for (name, value) in self.compared() {
            match saved.get(name) {
                Some(old) if old == value => {}
                Some(old) => {
                    return Some(format!(
                        "the checkpoint's run had {name} {old}; this run has {value}"
                    ))
                }
                None => {
                    return Some(format!(
                        "the checkpoint's run had no setting {name}; this run has {value}"
                    ))
                }
            }
        }
        let (name, old) = saved.compared().find(|(n, _)| self.get(n).is_none())?;
        Some(format!(
            "the checkpoint's run had {name} {old}; this run has no such setting"
        ))
    }

    fn to_meta<F: Float>(&self, sd: &mut StateDict<F>) {
        sd.set_meta("checkpoint.settings", self.pairs.len());
        for (i, (n, v)) in self.pairs.iter().enumerate() {
            sd.set_meta(&format!("checkpoint.setting.{i}.name"), n);
            sd.set_meta(&format!("checkpoint.setting.{i}.value"), v);
            if self.notes.contains(n) {
                sd.set_meta(&format!("checkpoint.setting.{i}.note"), true);
            }
        }
    }

    fn from_meta<F: Float>(sd: &StateDict<F>) -> Result<Settings, String> {
        let get = |k: &str| sd.meta_str(k).map_err(|e| e.to_string());
        let n: usize = get("checkpoint.settings")?
            .parse()
            .map_err(|_| "its settings count is not a number".to_string())?;
        let mut settings = Settings::new();
        for i in 0..n {
            let name = get(&format!("checkpoint.setting.{i}.name"))?;
            let value = get(&format!("checkpoint.setting.{i}.value"))?;
            settings = if sd
                .meta
                .contains_key(&format!("checkpoint.setting.{i}.note"))
            {
                settings.with_note(name, value)
            } else {
                settings.with(name, value)
            };
        }
        Ok(settings)
    }
}

/// The model's state at the best evaluation so far.
#[derive(Debug, Clone)]
pub struct Best<F: Float> {
    /// The epoch it was measured after.
    pub epoch: usize,
    /// Parameters then buffers, as [`Module::state_dict`] lists them.
    pub state: Vec<(String, Buffer<F>)>,
}

/// Where a run is: what a checkpoint restores besides the model, optimizer and averages.
#[derive(Debug, Clone, Default)]
pub struct Progress<F: Float> {
    /// Epochs finished.
    pub epochs_done: usize,
    /// Optimizer steps taken.
    pub steps_done: usize,
    /// One record per finished epoch.
    pub history: Vec<EpochRecord>,
    /// Every step's batch loss, in order (the plots draw them behind the epochs).
    pub step_losses: Vec<f64>,
    /// The metrics the schedule was given so far (per epoch), or empty when it steps per
    /// optimizer step without one; with `schedule_steps`, enough to replay it exactly.
    pub schedule_metrics: Vec<f64>,
    /// The schedule's steps so far.
    pub schedule_steps: u64,
    /// The seed the data order and dropout masks derive from.
    pub seed: u64,
    /// The best weights so far, when early stopping keeps them.
    pub best: Option<Best<F>>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

/// The parts of a run a checkpoint holds, borrowed for a save.
pub struct Parts<'a, F: Float> {
    /// The model.
    pub model: &'a dyn Module<F>,
    /// The optimizer.
    pub optimizer: &'a dyn Optimizer<F>,
    /// The weight averages, if averaging (not swapped in).
    pub averager: Option<&'a Averager<F>>,
    /// The settings the checkpoint is valid for.
    pub settings: &'a Settings,
    /// Where the run is.
    pub progress: &'a Progress<F>,
}

/// The parts of a run a checkpoint restores, borrowed mutably for a load.
pub struct PartsMut<'a, F: Float> {
    /// The model.
    pub model: &'a mut dyn Module<F>,
    /// The optimizer, freshly built from the same spec.
    pub optimizer: &'a mut dyn Optimizer<F>,
    /// The averager, freshly built from the same spec, if averaging.
    pub averager: Option<&'a mut Averager<F>>,
    /// This run's settings, which must equal the checkpoint's.
    pub settings: &'a Settings,
}

/// Saves and restores a run at one path.
///
/// ```
/// use descent_nn::{Linear, Module};
/// use descent_train::checkpoint::{Checkpointer, Parts, PartsMut, Progress, Settings};
/// let dir = std::env::temp_dir().join(format!("descent-doc-ckpt-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let ckpt = Checkpointer::new(dir.join("run.ckpt"));
/// let model = Linear::<f32>::new(3, 2, &mut rand::rng())?;
/// let opt = descent_optim::build::<f32>("sgd:lr=0.1")?;
/// let settings = Settings::new().with("optimizer", "sgd:lr=0.1");
/// let progress = Progress { epochs_done: 2, ..Progress::default() };
/// ckpt.save(&Parts { model: &model, optimizer: opt.as_ref(), averager: None, settings: &settings, progress: &progress })?;
///
/// let mut other = Linear::<f32>::new(3, 2, &mut rand::rng())?;
/// let mut opt2 = descent_optim::build::<f32>("sgd:lr=0.1")?;
/// let back = ckpt.load(PartsMut { model: &mut other, optimizer: opt2.as_mut(), averager: None, settings: &settings })?;
/// assert_eq!(back.epochs_done, 2);
/// assert_eq!(other.weight.value.to_vec(), model.weight.value.to_vec());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Checkpointer {
    path: PathBuf,
}

fn ids<F: Float>(model: &dyn Module<F>) -> Vec<descent_autodiff::ParamId> {
    model.params().iter().map(|p| p.id()).collect()
}

fn join(values: impl Iterator<Item = String>) -> String {
    values.collect::<Vec<_>>().join(";")
}

impl Checkpointer {
    /// A checkpointer for `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Checkpointer { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn bad(&self, why: impl Into<String>) -> Error {
        Error::Checkpoint {
            path: self.path.clone(),
            why: why.into(),
        }
    }

    /// Writes the run atomically: the previous file stays whole until the new one is.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] if a model tensor holds NaN or infinity (nothing is written);
    /// the optimizer's or averager's errors; [`Error::File`] if the file cannot be written.
    pub fn save<F: Float>(&self, parts: &Parts<'_, F>) -> Result<()> {
        let model = parts.model;
        let mut sd = parts.optimizer.state_dict(&ids(model))?;
        if let Some(a) = parts.averager {
            let averages = a.state_dict(&model.params())?;
            sd.meta.extend(averages.meta);
            sd.tensors.extend(averages.tensors);
        }
        let p = parts.progress;
        sd.set_meta("checkpoint.format", FORMAT);
        sd.set_meta("checkpoint.version", VERSION);
        parts.settings.to_meta(&mut sd);
        sd.set_meta("checkpoint.epochs_done", p.epochs_done);
        sd.set_meta("checkpoint.steps_done", p.steps_done);
        sd.set_meta("checkpoint.seed", p.seed);
        sd.set_meta("checkpoint.stopped_early", p.stopped_early);
        sd.set_meta(
            "checkpoint.history",
            join(p.history.iter().map(EpochRecord::to_record)),
        );
        sd.set_meta(
            "checkpoint.step_losses",
            join(p.step_losses.iter().map(f64::to_string)),
        );
        sd.set_meta("checkpoint.schedule_steps", p.schedule_steps);
        sd.set_meta(
            "checkpoint.schedule_metrics",
            join(p.schedule_metrics.iter().map(f64::to_string)),
        );
        self.put(&mut sd, "model", &model.state_dict())?;
        if let Some(best) = &p.best {
            sd.set_meta("checkpoint.best_epoch", best.epoch);
            self.put(&mut sd, "best", &best.state)?;
        }
        let bytes = sd.to_bytes()?;
        descent_tensor::io::write_atomic(&self.path, &bytes)?;
        Ok(())
    }

    fn put<F: Float>(
        &self,
        sd: &mut StateDict<F>,
        prefix: &str,
        state: &[(String, Buffer<F>)],
    ) -> Result<()> {
        for (name, buf) in state {
            let key = format!("{prefix}.{name}");
            match buf {
                Buffer::Float(t) => {
                    if t.has_non_finite() {
                        return Err(self.bad(format!(
                            "not saved: {name} (shape {:?}) holds NaN or infinity",
                            t.shape()
                        )));
                    }
                    sd.tensors.insert(key, t.clone());
                }
                Buffer::Count(c) => sd.set_meta(&key, c),
            }
        }
        Ok(())
    }

    /// Reads the file and checks its format and version, without loading it anywhere.
    fn read<F: Float>(&self) -> Result<StateDict<F>> {
        let bytes = std::fs::read(&self.path).map_err(|e| Error::os(&self.path, e))?;
        let origin = self.path.to_string_lossy();
        let sd = StateDict::<F>::from_bytes(&bytes, &origin)
            .map_err(|e| self.bad(format!("not a readable checkpoint ({e})")))?;
        if sd.meta.get("checkpoint.format").map(String::as_str) != Some(FORMAT) {
            return Err(self.bad(format!(
                "not a training checkpoint (its metadata has no `checkpoint.format = {FORMAT}`)"
            )));
        }
        let version: u32 = sd
            .meta_parse("checkpoint.version")
            .map_err(|e| self.bad(e.to_string()))?;
        if version > VERSION {
            return Err(self.bad(format!(
                "written by a newer descent-train (checkpoint format version {version}; this \
                 one reads versions up to {VERSION})"
            )));
        }
        Ok(sd)
    }

    /// The settings the checkpoint was written with, so a resumed run can take them
    /// instead of asking for every one again.
    ///
    /// # Errors
    /// [`Error::File`] if the file cannot be read; [`Error::Checkpoint`] if it is not a
    /// checkpoint this build reads.
    pub fn settings<F: Float>(&self) -> Result<Settings> {
        let sd = self.read::<F>()?;
        Settings::from_meta(&sd).map_err(|why| self.bad(why))
    }

    /// Restores the model, optimizer and averages and returns the progress. Everything is
    /// checked before anything changes.
    ///
    /// # Errors
    /// [`Error::File`] if the file cannot be read; [`Error::Checkpoint`] naming the
    /// mismatch if it is not a checkpoint, is corrupt or truncated, was written by a newer
    /// version, or by a run with other settings, another optimizer or another model.
    pub fn load<F: Float>(&self, parts: PartsMut<'_, F>) -> Result<Progress<F>> {
        let sd = self.read::<F>()?;
        let saved = Settings::from_meta(&sd).map_err(|why| self.bad(why))?;
        if let Some(why) = parts.settings.mismatch(&saved) {
            return Err(self.bad(why));
        }
        let (saved_opt, opt) = (sd.optimizer.as_str(), parts.optimizer.name());
        if saved_opt != opt {
            return Err(self.bad(format!(
                "the checkpoint holds the state of optimizer {saved_opt}; this run's optimizer \
                 is {opt}"
            )));
        }
        let like = parts.model.state_dict();
        let current = self.get(&sd, "model", &like)?;
        let best = match sd.meta.get("checkpoint.best_epoch") {
            Some(e) => Some(Best {
                epoch: e
                    .parse()
                    .map_err(|_| self.bad("its best epoch is not a number"))?,
                state: self.get(&sd, "best", &like)?,
            }),
            None => None,
        };
        let model_keys = sd
            .tensors
            .keys()
            .filter_map(|k| k.strip_prefix("model."))
            .find(|k| !like.iter().any(|(n, _)| n == k));
        if let Some(extra) = model_keys {
            return Err(self.bad(format!(
                "the checkpoint's model has a tensor {extra} that this model lacks: it was \
                 written for another model"
            )));
        }
        let progress = self.progress(&sd, best)?;
        let ids = ids(&*parts.model);
        if let Some(a) = parts.averager {
            a.load_state_dict(&sd, &parts.model.params())
                .map_err(|e| self.bad(format!("its weight averages do not fit: {e}")))?;
        }
        parts
            .optimizer
            .load_state_dict(&sd, &ids)
            .map_err(|e| self.bad(format!("its optimizer state does not fit: {e}")))?;
        descent_nn::load_state_dict(parts.model, &current)?;
        Ok(progress)
    }

    fn progress<F: Float>(&self, sd: &StateDict<F>, best: Option<Best<F>>) -> Result<Progress<F>> {
        let meta = |k: &str| sd.meta_str(k).map_err(|e| self.bad(e.to_string()));
        let num = |k: &str| -> Result<u64> {
            meta(k)?
                .parse()
                .map_err(|_| self.bad(format!("its `{k}` is not a number")))
        };
        let floats = |k: &str| -> Result<Vec<f64>> {
            meta(k)?
                .split(';')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse()
                        .map_err(|_| self.bad(format!("its `{k}` holds {s:?}, not a number")))
                })
                .collect()
        };
        let history = meta("checkpoint.history")?
            .split(';')
            .filter(|r| !r.is_empty())
            .map(|r| {
                EpochRecord::from_record(r)
                    .ok_or_else(|| self.bad(format!("its history holds a bad record {r:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Progress {
            epochs_done: num("checkpoint.epochs_done")? as usize,
            steps_done: num("checkpoint.steps_done")? as usize,
            history,
            step_losses: floats("checkpoint.step_losses")?,
            schedule_metrics: floats("checkpoint.schedule_metrics")?,
            schedule_steps: num("checkpoint.schedule_steps")?,
            seed: num("checkpoint.seed")?,
            best,
            stopped_early: meta("checkpoint.stopped_early")? == "true",
        })
    }

    /// The values under `prefix`, each checked against the model's names and shapes.
    fn get<F: Float>(
        &self,
        sd: &StateDict<F>,
        prefix: &str,
        like: &[(String, Buffer<F>)],
    ) -> Result<Vec<(String, Buffer<F>)>> {
        like.iter()
            .map(|(name, want)| {
                let key = format!("{prefix}.{name}");
                let value = match want {
                    Buffer::Float(want) => {
                        let t: &Tensor<F> = sd.tensors.get(&key).ok_or_else(|| {
                            self.bad(format!(
                                "the checkpoint has no {name}, which this model has: it was \
                                 written for another model"
                            ))
                        })?;
                        if t.shape() != want.shape() {
                            return Err(self.bad(format!(
                                "the checkpoint's {name} has shape {:?}, this model's {:?}: it \
                                 was written for another model",
                                t.shape(),
                                want.shape()
                            )));
                        }
                        Buffer::Float(t.clone())
                    }
                    Buffer::Count(_) => Buffer::Count(
                        sd.meta_parse(&key)
                            .map_err(|_| self.bad(format!("the checkpoint has no count {name}")))?,
                    ),
                };
                Ok((name.clone(), value))
            })
            .collect()
    }
}
