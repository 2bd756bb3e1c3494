//! CSV as the collector writes and reads it (the `csv` crate): RFC 4180 quoting, CRLF line ends.
//! One definition for the Metrica import file, the report downloads and the chat import.

/// Builds a CSV text row by row.
pub struct CsvText {
    writer: csv::Writer<Vec<u8>>,
}

impl Default for CsvText {
    fn default() -> Self {
        CsvText::new()
    }
}

impl CsvText {
    pub fn new() -> CsvText {
        CsvText {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .quote_style(csv::QuoteStyle::Necessary)
                .flexible(true)
                .from_writer(Vec::new()),
        }
    }

    /// Appends one record.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        // Writing into a Vec cannot fail.
        let _ = self.writer.write_record(cells);
    }

    pub fn finish(self) -> String {
        let bytes = self.writer.into_inner().unwrap_or_default();
        // Every cell was a &str, so the text is UTF-8.
        String::from_utf8(bytes).unwrap_or_default()
    }
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
    let text = text.trim_start_matches('\u{feff}');
    // The reader ends an open quote at the end of the text without complaint; a CSV that ends
    // inside quotes was cut off or is not CSV.
    if ends_inside_quotes(text) {
        let line = 1 + text.bytes().filter(|&b| b == b'\n').count() as u64;
        return Err(CsvError::Unterminated { line });
    }
    let mut reader = csv::ReaderBuilder::new()
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
}
