//! `cargo xtask bench`: every benchmark of issue 12's suite in one run, each against its
//! reference, then one table of the ratios and the goals they are held to.
//!
//! The parts are the commands BENCHMARKS.md documents one by one, run as subprocesses so each
//! prints its own full report first:
//! - `cargo bench --bench dispatch_cost`: instructions per call (callgrind) of a safe call into
//!   the peer against the raw call and against C's rundown protection, and calls per second
//!   with one and two threads;
//! - `cargo bench --bench binding_cost`: the host NMR's cost per binding against direct calls;
//! - `cargo xtask driver --target all --release`: the driver image against the same driver in C;
//! - `cargo xtask macro-cost`: `cargo check` of a 50-NPI crate against its hand-expanded twin.
//!
//! Nothing here asserts a figure (timings are not tests): a goal that does not hold is marked,
//! and the command fails only if a part fails to run or its report cannot be read.
//! `--quick` runs every part in its smoke mode (small counts, x64 only, one round): the table is
//! then only a check that the suite runs end to end.

use std::process::Command;

use anyhow::{Context, bail};

use crate::cli::BenchOptions;
use crate::{log, workspace_root};

/// One line of the summary: what is measured, the figure, the reference, the ratio and the goal.
struct Row {
    what: String,
    ratio: f64,
    /// The goal, as `(comparison, bound)`: `("<=", 1.0)` or `(">=", 1.8)`.
    goal: Option<(&'static str, f64)>,
    detail: String,
}

impl Row {
    fn holds(&self) -> Option<bool> {
        self.goal
            .map(|(op, bound)| if op == "<=" { self.ratio <= bound } else { self.ratio >= bound })
    }
}

pub(crate) fn run(options: &BenchOptions) -> anyhow::Result<()> {
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let quick: &[&str] = if options.quick { &["--", "--quick"] } else { &[] };
    let mut rows = Vec::new();

    log(format_args!("dispatch: cargo bench --bench dispatch_cost"));
    let out = capture(
        Command::new(&cargo)
            .current_dir(&root)
            .args(["bench", "--bench", "dispatch_cost"])
            .args(quick),
    )?;
    rows.extend(dispatch_rows(&out)?);

    log(format_args!("binding: cargo bench --bench binding_cost"));
    let out = capture(
        Command::new(&cargo)
            .current_dir(&root)
            .args(["bench", "--bench", "binding_cost"])
            .args(quick),
    )?;
    rows.extend(binding_rows(&out)?);

    let xtask = std::env::current_exe().context("the xtask binary's path")?;
    let targets = if options.quick { "x64" } else { "all" };
    log(format_args!("image: cargo xtask driver --target {targets} --release"));
    let out = capture(Command::new(&xtask).current_dir(&root).args([
        "driver",
        "--target",
        targets,
        "--release",
    ]))?;
    rows.extend(image_rows(&out)?);

    if options.no_macros {
        log(format_args!("macros: skipped (--no-macros)"));
    } else {
        log(format_args!("macros: cargo xtask macro-cost"));
        let mut command = Command::new(&xtask);
        command.current_dir(&root).arg("macro-cost");
        // Instruction counts are what separates the two crates on a shared machine.
        command.arg(if options.quick { "--quick" } else { "--instructions" });
        let out = capture(&mut command)?;
        rows.extend(macro_rows(&out)?);
    }

    print!("{}", summary(&rows, options.quick));
    Ok(())
}

/// Runs `command`, echoing its stdout (the part's own report), and returns that stdout.
fn capture(command: &mut Command) -> anyhow::Result<String> {
    let shown = format!("{command:?}");
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("could not run {shown}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    print!("{stdout}");
    if !output.status.success() {
        bail!("{shown} failed ({})", output.status);
    }
    Ok(stdout)
}

/// The cells of a markdown table row (`| a | b |` → `["a", "b"]`).
fn cells(line: &str) -> Vec<&str> {
    line.trim().trim_matches('|').split('|').map(str::trim).collect()
}

/// The cells of the first (or, `last`, the last) table row whose first cell is `first`.
fn table_row<'a>(text: &'a str, first: &str, last: bool) -> Option<Vec<&'a str>> {
    let named = |line: &&str| cells(line).first() == Some(&first);
    let line = if last { text.lines().rfind(named) } else { text.lines().find(named) };
    line.map(cells)
}

fn number(cell: &str) -> anyhow::Result<f64> {
    cell.replace(',', "").parse::<f64>().with_context(|| format!("not a number: {cell:?}"))
}

/// From `dispatch_cost`'s two tables.
fn dispatch_rows(out: &str) -> anyhow::Result<Vec<Row>> {
    let instr = |kind: &str| -> anyhow::Result<f64> {
        let row = table_row(out, kind, false)
            .with_context(|| format!("no {kind} row in dispatch_cost's report"))?;
        number(row.get(1).context("short row")?)
    };
    let (per_call, held, raw, rundown) =
        (instr("safe-per-call")?, instr("safe-held")?, instr("raw")?, instr("c-rundown")?);
    let scaling = |kind: &str| -> anyhow::Result<f64> {
        // The second table: kind | 1 thread | 2 threads | 2 / 1; the first table's row of the
        // same kind has 4 cells too, so take the last row that names it.
        let row = table_row(out, kind, true).with_context(|| format!("no {kind} scaling row"))?;
        number(row.last().context("short row")?)
    };
    Ok(vec![
        Row {
            what: "dispatch: safe call, guard per call / raw call in C rundown protection".into(),
            ratio: per_call / rundown,
            goal: Some(("<=", 1.0)),
            detail: format!("{per_call} vs {rundown} instructions"),
        },
        Row {
            what: "dispatch: safe call, guard held / raw call".into(),
            ratio: held / raw,
            goal: Some(("<=", 1.0)),
            detail: format!("{held} vs {raw} instructions"),
        },
        Row {
            what: "dispatch: 2 threads / 1 thread, safe per-call guard".into(),
            ratio: scaling("safe-per-call")?,
            goal: Some((">=", 1.8)),
            detail: format!("C rundown: {:.2}", scaling("c-rundown")?),
        },
    ])
}

/// From `binding_cost`'s table: the largest size's NMR / direct ratio.
fn binding_rows(out: &str) -> anyhow::Result<Vec<Row>> {
    let last = out
        .lines()
        .rfind(|l| l.trim_start().starts_with("| 1"))
        .context("no rows in binding_cost's report")?;
    let [bindings, nmr, direct, _] = cells(last)[..] else { bail!("unexpected row {last:?}") };
    Ok(vec![Row {
        what: format!("host NMR: cost per binding at {bindings} bindings / direct calls"),
        ratio: number(nmr)? / number(direct)?,
        goal: Some(("<=", 5.0)),
        detail: format!("{nmr} vs {direct} ns (timing: see BENCHMARKS.md for instructions)"),
    }])
}

/// From `cargo xtask driver`'s Rust / C table: `.text` and `.data` per target.
fn image_rows(out: &str) -> anyhow::Result<Vec<Row>> {
    let table =
        out.split("== Rust / C").nth(1).context("no Rust / C table in the driver report")?;
    let mut rows = Vec::new();
    let mut target = "";
    for line in table.lines().skip(2) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let cells = match cells.len() {
            5 => {
                target = cells[0];
                &cells[1..]
            }
            4 => &cells[..],
            _ => break,
        };
        let (section, rust, c) = (cells[0], number(cells[1])?, number(cells[2])?);
        let goal = match section {
            ".text" => Some(("<=", 1.5)),
            ".data" => Some(("<=", 1.0)),
            _ => continue,
        };
        rows.push(Row {
            what: format!("image: {target} release {section} / the same driver in C"),
            ratio: rust / c,
            goal,
            detail: format!("{rust} vs {c} bytes"),
        });
    }
    if rows.is_empty() {
        bail!("no sizes in the driver report's Rust / C table");
    }
    Ok(rows)
}

/// From `cargo xtask macro-cost`'s tables: per cold and incremental check, the wall-time ratio
/// of medians (with the CPU ratio) and, with `--instructions`, rustc's instruction ratio (the
/// bold cells).
fn macro_rows(out: &str) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for line in out.lines() {
        let cells = cells(line);
        let Some(kind) = ["cold", "incremental"].into_iter().find(|k| cells[0].starts_with(k))
        else {
            continue;
        };
        let Some(bold) = cells.iter().find(|c| c.starts_with("**")) else { continue };
        let instructions = cells.get(1).is_some_and(|c| c.ends_with(" G"));
        let (measure, detail) = if instructions {
            ("rustc instructions", format!("{} vs {}", cells[1], cells[2]))
        } else {
            ("wall", format!("CPU ratio {}", cells.last().map_or("", |c| c.trim())))
        };
        rows.push(Row {
            what: format!("macros: `cargo check` ({kind}) / hand-expanded, {measure}"),
            ratio: number(bold.trim_matches('*'))?,
            goal: (kind == "incremental").then_some(("<=", 1.10)),
            detail,
        });
    }
    if rows.is_empty() {
        bail!("no cold/incremental rows in macro-cost's report");
    }
    Ok(rows)
}

fn summary(rows: &[Row], quick: bool) -> String {
    let mut s = String::from("\n== benchmark suite: each figure against its reference\n");
    if quick {
        s.push_str("(--quick: smoke-mode counts; the ratios below are not the recorded ones)\n");
    }
    s.push_str("| what | ratio | goal | holds | figures |\n|---|---:|---|---|---|\n");
    for row in rows {
        let goal = row.goal.map_or(String::new(), |(op, b)| format!("{op} {b:.2}"));
        let holds = match row.holds() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        s.push_str(&format!(
            "| {} | {:.2} | {goal} | {holds} | {} |\n",
            row.what, row.ratio, row.detail
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISPATCH: &str = "\
| kind | instructions per call | / C rundown | / raw |
|---|---:|---:|---:|
| safe-per-call | 25.0 | 0.96 | 1.92 |
| safe-held | 12.0 | 0.46 | 0.92 |
| raw | 13.0 | 0.50 | 1.00 |
| c-rundown | 26.0 | 1.00 | 2.00 |

| kind | calls/s, 1 thread | calls/s, 2 threads | 2 / 1 |
|---|---:|---:|---:|
| safe-per-call | 3.806e7 | 6.809e7 | 1.79 |
| c-rundown | 3.880e7 | 3.042e7 | 0.78 |
| raw | 5.502e8 | 6.134e8 | 1.11 |
";

    #[test]
    fn reads_the_dispatch_report() {
        let rows = dispatch_rows(DISPATCH).unwrap();
        assert!((rows[0].ratio - 25.0 / 26.0).abs() < 1e-9);
        assert_eq!(rows[0].holds(), Some(true));
        assert!((rows[1].ratio - 12.0 / 13.0).abs() < 1e-9);
        assert!((rows[2].ratio - 1.79).abs() < 1e-9);
        assert_eq!(rows[2].holds(), Some(false), "1.79 is below the 1.8 goal");
        assert!(rows[2].detail.contains("0.78"));
        assert!(dispatch_rows("no table").is_err());
    }

    #[test]
    fn reads_the_driver_size_table() {
        let out = "...\n== Rust / C (release profile, bytes)\ntarget              Rust        C   Rust/C\n\
                   x64     .text       1660     1015     1.64\n        .rdata      1692     1628     1.04\n\
                   \x20       .data         16       16     1.00\n        file        6144     5120     1.20\n\
                   x86     .text       1524      933     1.63\n        .data          8        8     1.00\n";
        let rows = image_rows(out).unwrap();
        assert_eq!(rows.len(), 4);
        assert!(rows[0].what.contains("x64") && rows[0].what.contains(".text"));
        assert_eq!(rows[0].holds(), Some(false));
        assert_eq!(rows[1].holds(), Some(true), "{}", rows[1].what);
        assert!(rows[3].what.contains("x86") && rows[3].what.contains(".data"));
        assert!(image_rows("no table").is_err());
    }

    #[test]
    fn reads_the_binding_report() {
        let out = "| bindings | host NMR ns/binding | direct ns/binding | NMR / direct |\n|---:|---:|---:|---:|\n\
                   | 1000 | 449 | 65 | 6.89 |\n| 100000 | 434 | 83 | 5.22 |\n";
        let rows = binding_rows(out).unwrap();
        assert!((rows[0].ratio - 434.0 / 83.0).abs() < 1e-9);
        assert!(rows[0].what.contains("100000"));
    }

    #[test]
    fn reads_the_macro_ratios() {
        let out = "| `cargo check` | with macros | hand-expanded | ratio | per-round | CPU |\n\
                   |---|---:|---:|---:|---:|---:|\n\
                   | cold (after `cargo clean -p`) | 2.00 s | 1.90 s | **1.053** | 1.05 (1.01–1.09) | 1.040 |\n\
                   | incremental (after touch) | 1.20 s | 1.00 s | **1.200** | 1.20 (1.1–1.3) | 1.150 |\n\n\
                   | `cargo check`, rustc instructions (callgrind) | with macros | hand-expanded | ratio |\n\
                   |---|---:|---:|---:|\n\
                   | incremental | 1.935 G | 1.434 G | **1.349** |\n";
        let rows = macro_rows(out).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows[2].what.contains("instructions") && rows[2].detail.contains("1.935 G"));
        assert!((rows[2].ratio - 1.349).abs() < 1e-9);
        assert_eq!(rows[0].goal, None);
        assert!((rows[0].ratio - 1.053).abs() < 1e-9);
        assert_eq!(rows[1].holds(), Some(false));
        assert!(rows[1].detail.contains("1.150"));
        assert!(macro_rows("nothing").is_err());
    }
}
