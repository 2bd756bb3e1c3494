//! Tokens and other secrets: never printed, compared in constant time.

use std::path::Path;

#[derive(Clone)]
pub struct Secret(String);

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the token file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the token in {0} is empty")]
    Empty(String),
    #[error("the token is shorter than 16 characters; use a long random token")]
    TooShort,
}

impl Secret {
    pub fn new(value: &str) -> Result<Secret, SecretError> {
        let value = value.trim();
        if value.chars().count() < 16 {
            return Err(SecretError::TooShort);
        }
        Ok(Secret(value.to_owned()))
    }

    /// First line of the file, trimmed.
    pub fn from_file(path: &Path) -> Result<Secret, SecretError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecretError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let line = text.lines().next().unwrap_or("").trim();
        if line.is_empty() {
            return Err(SecretError::Empty(path.display().to_string()));
        }
        Secret::new(line)
    }

    /// Constant-time in the content of the guess (length differences still return early,
    /// which reveals only the token's length).
    pub fn matches(&self, guess: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), guess.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}
