//! What an experiment hands back: a table, the numbers its claims rest on, the claims and
//! the figures it wrote; printed as text or as one JSON object. Also the lab's random
//! numbers, so every experiment draws them the same way.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::PathBuf;

/// Any failure while running an experiment.
pub type Error = Box<dyn std::error::Error>;

/// A flag value refused after parsing (exit code 2, like clap's own refusals).
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A refused flag value, as an [`Error`].
pub fn usage(message: String) -> Error {
    Box::new(Usage(message))
}

/// One experiment's results.
pub struct Report {
    /// The subcommand's name.
    pub name: &'static str,
    /// Column headers of the table.
    pub columns: Vec<&'static str>,
    /// Table rows (strings or numbers).
    pub rows: Vec<Vec<Value>>,
    /// The measured numbers the claims rest on, by name.
    pub metrics: Map<String, Value>,
    /// Each lecture claim and whether this run bears it out.
    pub claims: Vec<(String, bool)>,
    /// The figures written.
    pub figures: Vec<PathBuf>,
    /// Lines printed above the table (what the numbers are of).
    pub notes: Vec<String>,
}

impl Report {
    /// An empty report with these table columns.
    pub fn new(name: &'static str, columns: &[&'static str]) -> Report {
        Report {
            name,
            columns: columns.to_vec(),
            rows: Vec::new(),
            metrics: Map::new(),
            claims: Vec::new(),
            figures: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a table row.
    pub fn row(&mut self, cells: Vec<Value>) {
        self.rows.push(cells);
    }

    /// Records a measured number.
    pub fn metric(&mut self, name: &str, value: impl Into<Value>) {
        self.metrics.insert(name.to_string(), value.into());
    }

    /// Adds a line printed above the table.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Records a claim and whether it held.
    pub fn claim(&mut self, text: impl Into<String>, holds: bool) {
        self.claims.push((text.into(), holds));
    }

    /// The notes, the table, then the claims, then the figures.
    pub fn write_table(&self, out: &mut impl Write) -> std::io::Result<()> {
        for note in &self.notes {
            writeln!(out, "{note}")?;
        }
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(cell).collect())
            .collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|c| {
                cells
                    .iter()
                    .filter_map(|r| r.get(c).map(|s| s.chars().count()))
                    .chain([self.columns[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |out: &mut dyn Write, row: &[String]| -> std::io::Result<()> {
            let padded: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(s, &w)| format!("{s:>w$}"))
                .collect();
            writeln!(out, "{}", padded.join("  ").trim_end())
        };
        let header: Vec<String> = self.columns.iter().map(|s| s.to_string()).collect();
        line(out, &header)?;
        for row in &cells {
            line(out, row)?;
        }
        writeln!(out)?;
        for (text, holds) in &self.claims {
            writeln!(out, "[{}] {text}", if *holds { "holds" } else { "FAILS" })?;
        }
        for f in &self.figures {
            writeln!(out, "figure: {}", f.display())?;
        }
        Ok(())
    }

    /// One JSON object: `experiment`, `notes`, `columns`, `rows`, `metrics`, `claims`,
    /// `figures`.
    pub fn write_json(&self, out: &mut impl Write) -> std::io::Result<()> {
        let claims: Vec<Value> = self
            .claims
            .iter()
            .map(|(c, h)| json!({"claim": c, "holds": h}))
            .collect();
        let figures: Vec<String> = self
            .figures
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        let value = json!({
            "experiment": self.name,
            "notes": self.notes,
            "columns": self.columns,
            "rows": self.rows,
            "metrics": self.metrics,
            "claims": claims,
            "figures": figures,
        });
        writeln!(out, "{value}")
    }
}

/// A table cell: numbers in 4 significant digits (scientific when far from 1).
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if x != 0.0 && !(1e-3..1e5).contains(&x.abs()) {
                format!("{x:.3e}")
            } else {
                format!("{x:.4}")
            }
        }
        other => other.to_string(),
    }
}

/// A JSON number for `x`, or `null` when it is not finite (JSON has no NaN).
pub fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// The lab's random numbers: one seeded generator per experiment part.
pub struct Rand(StdRng);

impl Rand {
    /// A generator for `seed` and a `stream` naming the part of the experiment, so adding a
    /// draw in one part does not move the others.
    pub fn new(seed: u64, stream: u64) -> Rand {
        Rand(StdRng::seed_from_u64(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream,
        ))
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// Uniform in `0..n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.0.random_range(0..n)
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform(); // (0, 1]: the log is finite
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// The generator itself, for library calls that take an `Rng`.
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.0
    }
}
