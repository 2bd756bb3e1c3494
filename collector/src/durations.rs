//! Durations as commands take them: `500ms`, `5s`, `2m`, `1h`, `1d`.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("{0:?}: expected a number and a unit, e.g. 5s, 2m, 1h")]
    Shape(String),
    #[error("{0:?}: unit must be ms, s, m, h or d")]
    Unit(String),
    #[error("{0:?}: the interval must be at least 1m")]
    TooShort(String),
}

/// `<n>ms|s|m|h|d`.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| DurationError::Shape(s.to_owned()))?;
    let secs_per = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(DurationError::Unit(s.to_owned())),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs_per)))
}

/// `--every 1h`: at least a minute (Metrica needs up to 2 hours to process a file; polling more
/// often only spends quota).
pub fn parse_every(s: &str) -> Result<Duration, DurationError> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(60) {
        return Err(DurationError::TooShort(s.trim().to_owned()));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration(" 1d ").unwrap(), Duration::from_secs(86_400));
        assert!(matches!(parse_duration("2x"), Err(DurationError::Unit(_))));
        assert!(matches!(parse_duration("h"), Err(DurationError::Shape(_))));
        assert!(matches!(parse_duration(""), Err(DurationError::Shape(_))));
    }

    #[test]
    fn every() {
        assert_eq!(parse_every("1h").unwrap().as_secs(), 3600);
        assert_eq!(parse_every("90m").unwrap().as_secs(), 5400);
        assert!(matches!(
            parse_every("30s"),
            Err(DurationError::TooShort(_))
        ));
        assert!(parse_every("1w").is_err());
        assert!(parse_every("h").is_err());
    }
}
