//! The metrics files parse back to what the run measured: CSV by its header, JSON lines
//! with serde_json.

use crate::common::{temp_dir, trainer};

#[test]
fn csv_and_json_lines_parse_back() {
    let dir = temp_dir("metrics");
    let mut records = Vec::new();
    for name in ["m.csv", "m.jsonl"] {
        let path = dir.join(name);
        let mut t = trainer(3, "sgd:lr=0.05,momentum=0.9").metrics(&path, 4);
        t.fit().unwrap();
        let history = t.state().history.clone();
        let steps = t.state().step_losses.clone();
        let text = std::fs::read_to_string(&path).unwrap();
        let rows: Vec<serde_json::Value> = if name.ends_with(".csv") {
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap().split(',').collect();
            lines
                .map(|l| {
                    let cells = l.split(',');
                    let obj = header.iter().zip(cells).map(|(h, c)| {
                        let v = match c.parse::<f64>() {
                            Ok(x) => serde_json::json!(x),
                            Err(_) if c.is_empty() => serde_json::Value::Null,
                            Err(_) => serde_json::json!(c),
                        };
                        (h.to_string(), v)
                    });
                    serde_json::Value::Object(obj.collect())
                })
                .collect()
        } else {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let kind = |k: &'static str| rows.iter().filter(move |r| r["kind"] == k);
        // 3 epochs of 6 steps, a step row every 4 steps: steps 4, 8, 12, 16.
        let logged: Vec<(f64, f64)> = kind("step")
            .map(|r| {
                (
                    r["step"].as_f64().unwrap(),
                    r["train_loss"].as_f64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(f64, f64)> = [4usize, 8, 12, 16]
            .iter()
            .map(|&s| (s as f64, steps[s - 1]))
            .collect();
        assert_eq!(logged, want, "{name}");
        // The running loss: after t steps, Σⱼ (1 − β)·β^(t−j)·xⱼ / (1 − βᵗ) with β = 0.98,
        // summed here directly.
        for r in kind("step") {
            let t = r["step"].as_f64().unwrap() as usize;
            let beta = 0.98f64;
            let sum: f64 = (1..=t)
                .map(|j| (1.0 - beta) * beta.powi((t - j) as i32) * steps[j - 1])
                .sum();
            let want = sum / (1.0 - beta.powi(t as i32));
            let got = r["running_loss"].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-12 * want.abs(),
                "{name}: {got} vs {want}"
            );
        }
        let epochs: Vec<_> = kind("epoch").collect();
        assert_eq!(epochs.len(), 3, "{name}");
        for (row, r) in epochs.iter().zip(&history) {
            assert_eq!(row["epoch"].as_f64(), Some(r.epoch as f64), "{name}");
            assert_eq!(row["train_loss"].as_f64(), Some(r.train_loss), "{name}");
            assert_eq!(row["eval_loss"].as_f64(), r.eval_loss, "{name}");
            assert_eq!(row["lr"].as_f64(), Some(r.lr), "{name}");
            assert_eq!(
                row["train_acc"],
                serde_json::Value::Null,
                "{name}: a regression"
            );
            assert_eq!(
                row["eval_weights"], "average",
                "{name}: evaluated on the EMA"
            );
        }
        records.push(history);
    }
    std::fs::remove_dir_all(&dir).ok();
}
