//! The plain-text tables that the binaries print as their final summary, for a person to read
//! (their logs stay structured): a header, one row per item, a rule and a total row.
//!
//! ```
//! use soundlake_core::text_table::{bytes, count, Align, TextTable};
//!
//! let mut table = TextTable::new([("topic", Align::Left), ("landed", Align::Right), ("bytes", Align::Right)]);
//! table.row(["listen_events".into(), count(1_234_567), bytes(52_400_000)]);
//! table.total(["total".into(), count(1_234_567), bytes(52_400_000)]);
//! assert_eq!(
//!     table.render(),
//!     "topic             landed    bytes\n\
//!      listen_events  1,234,567  52.4 MB\n\
//!      ---------------------------------\n\
//!      total          1,234,567  52.4 MB\n"
//! );
//! ```
//!
//! Columns are as wide as their widest cell, two spaces apart; trailing spaces are trimmed.

use std::time::Duration;

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text: names, modes, statuses.
    Left,
    /// Numbers.
    Right,
}

/// A table of `N` columns, rendered by [`TextTable::render`].
#[derive(Debug, Clone)]
pub struct TextTable<const N: usize> {
    header: [(String, Align); N],
    rows: Vec<[String; N]>,
    total: Option<[String; N]>,
}

impl<const N: usize> TextTable<N> {
    /// A table with these column titles and alignments.
    pub fn new(header: [(&str, Align); N]) -> Self {
        TextTable {
            header: header.map(|(title, align)| (title.to_owned(), align)),
            rows: Vec::new(),
            total: None,
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: [String; N]) {
        self.rows.push(cells);
    }

    /// Sets the total row, printed last under a rule.
    pub fn total(&mut self, cells: [String; N]) {
        self.total = Some(cells);
    }

    /// The table as text, one line per row, each ending in a newline.
    pub fn render(&self) -> String {
        let lines = || {
            std::iter::once(self.header.each_ref().map(|(title, _)| title.as_str()))
                .chain(
                    self.rows
                        .iter()
                        .map(|row| row.each_ref().map(String::as_str)),
                )
                .chain(
                    self.total
                        .iter()
                        .map(|row| row.each_ref().map(String::as_str)),
                )
        };
        let mut widths = [0usize; N];
        for line in lines() {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let format = |cells: [&str; N]| {
            let mut line = String::new();
            for (i, cell) in cells.into_iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = widths[i] - cell.chars().count();
                match self.header[i].1 {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
                    }
                }
            }
            let mut line = line.trim_end().to_owned();
            line.push('\n');
            line
        };
        let mut text = format(self.header.each_ref().map(|(title, _)| title.as_str()));
        for row in &self.rows {
            text.push_str(&format(row.each_ref().map(String::as_str)));
        }
        if let Some(total) = &self.total {
            let width = widths.iter().sum::<usize>() + 2 * N.saturating_sub(1);
            text.extend(std::iter::repeat_n('-', width));
            text.push('\n');
            text.push_str(&format(total.each_ref().map(String::as_str)));
        }
        text
    }
}

/// A count with thousands separated by commas: `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// A size in decimal units, one decimal from kB on: `512 B`, `1.5 kB`, `52.4 MB`, `3.0 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    // 999.95 and up would print as 1000.0 of this unit.
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `n` per second over `elapsed`, rounded (`-` when either is zero, as nothing can be said).
pub fn per_second(n: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if n == 0 || seconds <= 0.0 {
        return "-".to_owned();
    }
    count((n as f64 / seconds).round() as u64)
}

/// Seconds with two decimals: `12.34`.
pub fn seconds(elapsed: Duration) -> String {
    format!("{:.2}", elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        for (n, text) in [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1,000"),
            (12_345, "12,345"),
            (123_456, "123,456"),
            (1_234_567, "1,234,567"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ] {
            assert_eq!(count(n), text, "{n}");
        }
    }

    #[test]
    fn sizes_are_in_decimal_units() {
        for (n, text) in [
            (0, "0 B"),
            (999, "999 B"),
            (1_000, "1.0 kB"),
            (1_500, "1.5 kB"),
            (999_949, "999.9 kB"),
            (999_950, "1.0 MB"),
            (52_400_000, "52.4 MB"),
            (3_000_000_000, "3.0 GB"),
            (u64::MAX, "18.4 EB"),
        ] {
            assert_eq!(bytes(n), text, "{n}");
        }
    }

    #[test]
    fn rates_and_seconds() {
        let second = Duration::from_secs(1);
        for (n, elapsed, text) in [
            (0, second, "-"),
            (10, Duration::ZERO, "-"),
            (10, second, "10"),
            (5, Duration::from_secs(2), "3"),
            (2_500_000, Duration::from_millis(500), "5,000,000"),
        ] {
            assert_eq!(per_second(n, elapsed), text, "{n} in {elapsed:?}");
        }
        assert_eq!(seconds(Duration::from_millis(12_345)), "12.35");
        assert_eq!(seconds(Duration::ZERO), "0.00");
    }

    fn table(rows: &[[&str; 3]], total: Option<[&str; 3]>) -> String {
        let mut table = TextTable::new([
            ("name", Align::Left),
            ("n", Align::Right),
            ("status", Align::Left),
        ]);
        for row in rows {
            table.row(row.map(str::to_owned));
        }
        if let Some(total) = total {
            table.total(total.map(str::to_owned));
        }
        table.render()
    }

    #[test]
    fn tables_line_up() {
        for (rows, total, text) in [
            (&[][..], None, "name  n  status\n"),
            (
                &[][..],
                Some(["total", "0", ""]),
                "name   n  status\n\
                 ----------------\n\
                 total  0\n",
            ),
            (
                &[
                    ["a", "1", "ok"],
                    ["longer name", "1,234,567", "FAILED: why"],
                ][..],
                Some(["total", "1,234,568", "1 failed"]),
                "name                 n  status\n\
                 a                    1  ok\n\
                 longer name  1,234,567  FAILED: why\n\
                 -----------------------------------\n\
                 total        1,234,568  1 failed\n",
            ),
            (
                &[["é", "1", ""]][..],
                None,
                "name  n  status\n\
                 é     1\n",
            ),
        ] {
            assert_eq!(table(rows, total), text, "{rows:?} {total:?}");
        }
    }
}
