//! CSV as the collector writes and reads it: RFC 4180 quoting, CRLF line ends. One definition
//! for the Metrica import file, the report downloads and the chat import.
//!
//! Written to be opened in a spreadsheet safely, whatever it splits on (`,`, or `;` as
//! Russian-locale Excel does, or tab): a cell holding any of them is quoted, so no splitter
//! cuts it into pieces, and a cell that starts with a formula character (`=` `+` `-` `@` tab
//! CR, OWASP's list) gets a leading `'`, so no cell starts a formula. Numbers such as `-5` are
//! left as they are. Reading uses the `csv` crate; writing is done here because the crate
//! quotes only on its own delimiter.

/// Builds a CSV text row by row.
#[derive(Default)]
pub struct CsvText {
    out: String,
}

impl CsvText {
    pub fn new() -> CsvText {
        CsvText::default()
    }

    /// Appends one record, every cell guarded against formulas.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.row_guarding(cells, |_| true);
    }

    /// Appends one record; the cells at positions where `guard` is false are written exactly
    /// (still quoted as needed), for a consumer that must get the value as it is.
    pub fn row_guarding<I, S>(&mut self, cells: I, guard: impl Fn(usize) -> bool)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_cell(&mut self.out, cell.as_ref(), guard(i));
        }
        self.out.push_str("\r\n");
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Appends one cell as [`CsvText`] writes it (quoted as needed; with `guard`, a leading `'`
/// before a formula), for writers that stream rows instead of building one text.
pub fn write_cell(out: &mut String, cell: &str, guard: bool) {
    let prefix = if guard && starts_formula(cell) {
        "'"
    } else {
        ""
    };
    if needs_quotes(cell) {
        out.push('"');
        out.push_str(prefix);
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(prefix);
        out.push_str(cell);
    }
}

/// A cell a spreadsheet would read as a formula (OWASP CSV injection: `=` `+` `-` `@`, tab, CR),
/// unless it is a plain number.
pub fn starts_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(cell)
}

fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit())
}

/// Quoted when any usual delimiter, a quote or a line break is in it, and when it has
/// surrounding spaces (some readers trim them).
fn needs_quotes(cell: &str) -> bool {
    cell.contains([',', ';', '\t', '"', '\r', '\n']) || cell.starts_with(' ') || cell.ends_with(' ')
}

#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("line {line}: unterminated quoted field")]
    Unterminated { line: u64 },
    #[error("{0}")]
    Malformed(#[from] csv::Error),
}

/// Every record of `text` (the first is the header, if the file has one); a leading byte-order
/// mark is dropped, blank lines are skipped.
pub fn read_rows(text: &str) -> Result<Vec<Vec<String>>, CsvError> {
    read_rows_split_on(text, b',')
}

/// [`read_rows`] with another delimiter (what a spreadsheet may split on).
pub fn read_rows_split_on(text: &str, delimiter: u8) -> Result<Vec<Vec<String>>, CsvError> {
    let text = text.trim_start_matches('\u{feff}');
    // The reader ends an open quote at the end of the text without complaint; a CSV that ends
    // inside quotes was cut off or is not CSV.
    if ends_inside_quotes(text) {
        let line = 1 + text.bytes().filter(|&b| b == b'\n').count() as u64;
        return Err(CsvError::Unterminated { line });
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        if !reader.read_record(&mut record)? {
            break;
        }
        if !(record.len() == 1 && record[0].trim().is_empty()) {
            rows.push(record.iter().map(str::to_owned).collect());
        }
    }
    Ok(rows)
}

/// Whether the text ends inside a quoted field (quotes open only at a field's start).
fn ends_inside_quotes(text: &str) -> bool {
    let mut quoted = false;
    let mut at_field_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, _) => {}
            (false, '"') if at_field_start => quoted = true,
            (false, ',' | '\n' | '\r') => {
                at_field_start = true;
                continue;
            }
            (false, _) => {}
        }
        at_field_start = false;
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_rfc_4180_with_crlf() {
        let mut t = CsvText::new();
        t.row(["a", "b,c", "say \"hi\"", ""]);
        t.row(["line\nbreak", "x"]);
        assert_eq!(
            t.finish(),
            "a,\"b,c\",\"say \"\"hi\"\"\",\r\n\"line\nbreak\",x\r\n"
        );
    }

    #[test]
    fn reads_quotes_crlf_bom_and_skips_blank_lines() {
        let rows =
            read_rows("\u{feff}a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\n\n  \nq,\"multi\nline\"\n")
                .unwrap();
        assert_eq!(
            rows,
            vec![
                vec!["a", "b"],
                vec!["x,1", "say \"hi\""],
                vec!["q", "multi\nline"],
            ]
        );
        assert!(read_rows("a,\"b\n").is_err());
        assert_eq!(read_rows("a,b\"c\n").unwrap(), vec![vec!["a", "b\"c"]]);
        assert_eq!(read_rows("").unwrap(), Vec::<Vec<String>>::new());
    }

    /// Cells an attacker controls (a Telegram first name, a referrer, a CRM tag).
    const HOSTILE: &[&str] = &[
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "Ivan;=1+1",
        "Ivan,=1+1",
        "Ivan\t=1+1",
        "+7 (999) cmd",
        "-2+3",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        "a \"quoted\" ;word",
        "line\nbreak;=x",
    ];

    /// Read back split on each delimiter a spreadsheet may use, no cell starts a formula and
    /// (for the delimiter the file is written with) every value comes back intact.
    #[test]
    fn no_cell_starts_a_formula_whatever_the_delimiter() {
        let mut t = CsvText::new();
        t.row(["name", "n"]);
        for h in HOSTILE {
            t.row([*h, "-5"]);
        }
        let text = t.finish();
        for delimiter in [b',', b';', b'\t'] {
            let rows = read_rows_split_on(&text, delimiter).unwrap();
            assert_eq!(rows.len(), HOSTILE.len() + 1, "{}", delimiter as char);
            for row in &rows {
                for cell in row {
                    assert!(
                        !starts_formula(cell),
                        "split on {:?}: live formula {cell:?} in {text}",
                        delimiter as char
                    );
                }
            }
        }
        let rows = read_rows(&text).unwrap();
        for (row, h) in rows[1..].iter().zip(HOSTILE) {
            let shown = row[0].strip_prefix('\'').unwrap_or(&row[0]);
            assert_eq!(shown, *h);
            assert_eq!(row[1], "-5", "numbers stay numbers");
        }
    }

    #[test]
    fn exact_cells_are_only_quoted() {
        let mut t = CsvText::new();
        t.row_guarding(["+79161234567", "=tag;x"], |i| i == 1);
        assert_eq!(t.finish(), "+79161234567,\"'=tag;x\"\r\n");
    }
}
