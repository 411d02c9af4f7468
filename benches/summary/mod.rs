//! A table of medians printed after a criterion run, for `benches/*.rs`
//! that compare csp with its peers: each group's rows with median time per
//! iteration, throughput, and the ratio of csp's time to the row's.
//!
//! Medians are read from criterion's own files
//! (`target/criterion/<group>/<bench>/new/{benchmark,estimates}.json`),
//! keeping only the ones this run wrote, so a filtered run prints only what
//! it measured.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One measured benchmark.
#[derive(Debug, Clone)]
pub struct Row {
    pub group: String,
    pub name: String,
    /// Median time of one iteration, in nanoseconds.
    pub median_ns: f64,
    /// Elements or bytes per iteration, if the group set a throughput.
    pub per_iter: Option<(Unit, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Elements,
    Bytes,
}

impl Row {
    /// Elements (or bytes) per second at the median.
    pub fn rate(&self) -> Option<f64> {
        self.per_iter.map(|(_, n)| n * 1e9 / self.median_ns)
    }
}

/// Where criterion keeps its results (same rule as criterion 0.5).
fn criterion_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(p).join("criterion");
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("criterion")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") {
                out.push(p);
            } else {
                walk(&p, out);
            }
        }
    }
}

/// The rows criterion wrote since `since`, keyed by `group/name`.
pub fn collect(since: SystemTime) -> HashMap<String, Row> {
    let mut dirs = Vec::new();
    walk(&criterion_dir(), &mut dirs);
    let mut rows = HashMap::new();
    for d in dirs {
        let (b, e) = (d.join("benchmark.json"), d.join("estimates.json"));
        let fresh = std::fs::metadata(&e)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since);
        if !fresh {
            continue;
        }
        let (Ok(b), Ok(e)) = (std::fs::read(&b), std::fs::read(&e)) else {
            continue;
        };
        let (Ok(b), Ok(e)) = (
            serde_json::from_slice::<serde_json::Value>(&b),
            serde_json::from_slice::<serde_json::Value>(&e),
        ) else {
            continue;
        };
        let Some(median_ns) = e["median"]["point_estimate"].as_f64() else {
            continue;
        };
        let group = b["group_id"].as_str().unwrap_or_default().to_string();
        let mut name = b["function_id"].as_str().unwrap_or_default().to_string();
        if let Some(v) = b["value_str"].as_str() {
            name = format!("{name}/{v}");
        }
        let t = &b["throughput"];
        let per_iter = if let Some(n) = t["Elements"].as_f64() {
            Some((Unit::Elements, n))
        } else {
            t["Bytes"].as_f64().map(|n| (Unit::Bytes, n))
        };
        let key = format!("{group}/{name}");
        rows.insert(
            key,
            Row {
                group,
                name,
                median_ns,
                per_iter,
            },
        );
    }
    rows
}

/// `1.23 µs`, `45.6 ms`...
pub fn time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// `5.1 M msgs/s`, `4.20 GB/s`.
pub fn rate(row: &Row) -> String {
    match (row.per_iter, row.rate()) {
        (Some((Unit::Elements, _)), Some(r)) => format!("{:.2} M msgs/s", r / 1e6),
        (Some((Unit::Bytes, _)), Some(r)) => format!("{:.2} GB/s", r / 1e9),
        _ => String::new(),
    }
}

/// The machine line: cores, CPU model, kernel, load average now.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    // Online CPUs, not `available_parallelism` (which shrinks when pinned).
    // SAFETY: `sysconf` has no preconditions.
    let cores = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cores} cores, {cpu}, Linux {}, load average {}",
        kernel.trim(),
        load.join(" ")
    )
}

/// Prints one markdown table per group in `groups` (rows in the given
/// order; the first row of a group is csp's, the reference for the ratio
/// column). Rows that did not run are skipped.
pub fn print(rows: &HashMap<String, Row>, groups: &[(&str, &[&str])]) {
    if rows.is_empty() {
        return; // `cargo test --benches`, or a filter that matched nothing
    }
    println!("\n## Medians ({})\n", machine());
    for (group, names) in groups {
        let found: Vec<&Row> = names
            .iter()
            .filter_map(|n| rows.get(&format!("{group}/{n}")))
            .collect();
        if found.is_empty() {
            continue;
        }
        println!("### {group}\n");
        println!("| bench | median | throughput | csp time ÷ this |");
        println!("|---|---:|---:|---:|");
        let reference = found[0].median_ns;
        for r in &found {
            println!(
                "| {} | {} | {} | {:.3} |",
                r.name,
                time(r.median_ns),
                rate(r),
                reference / r.median_ns
            );
        }
        println!();
    }
}

/// Prints `goal: ... met/NOT met (measured)`.
pub fn goal(what: &str, met: Option<bool>, measured: String) {
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "not measured",
    };
    println!("- goal {what}: {verdict} ({measured})");
}
