//! Snippet settings: `data-*` on the script tag, else `window.chattagConfig` (Google Tag Manager
//! cannot set attributes). A bad value is a warning and a safe default, never a failure.
//! The parsing is pure: the loader hands over raw strings (an attribute's value, else
//! `String(chattagConfig[key])`).

use chattag_core::template::Template;
use chattag_core::url::strip_prefix_ci;
use chattag_core::Prefix;

pub const DEFAULT_LIFETIME_DAYS: u32 = 21;
/// Longer than any attribution window: a typo like `2100` must not pin an ID for years.
pub const MAX_LIFETIME_DAYS: u32 = 400;

pub struct Settings {
    /// `None`: tag links but send nothing.
    pub endpoint: Option<String>,
    pub prefix: Prefix,
    /// `None`: the built-in template for `<html lang>`.
    pub template: Option<Template>,
    pub lifetime_days: u32,
    /// Metrica counter number, for `ym(counter, 'getClientID', …)`.
    pub counter: Option<String>,
    /// `consent: required`: nothing is read, stored, tagged or sent before `consent(true)`.
    pub consent_required: bool,
    pub debug: bool,
}

/// One setting: its `data-*` attribute name and its `chattagConfig` key.
pub struct Key {
    pub attr: &'static str,
    pub config: &'static str,
}

pub const ENDPOINT: Key = Key {
    attr: "data-endpoint",
    config: "endpoint",
};
pub const PREFIX: Key = Key {
    attr: "data-prefix",
    config: "prefix",
};
pub const TEMPLATE: Key = Key {
    attr: "data-template",
    config: "template",
};
pub const LIFETIME: Key = Key {
    attr: "data-lifetime",
    config: "lifetimeDays",
};
pub const COUNTER: Key = Key {
    attr: "data-counter",
    config: "counter",
};
pub const CONSENT: Key = Key {
    attr: "data-consent",
    config: "consent",
};
pub const DEBUG: Key = Key {
    attr: "data-debug",
    config: "debug",
};

/// Parses settings from raw values (`get` returns the attribute's, else the config's, string).
/// Returns the settings and one console warning per bad value (always shown: a site owner must
/// see a misconfiguration, and the snippet runs with the safe default meanwhile).
pub fn parse(get: &mut dyn FnMut(&Key) -> Option<String>) -> (Settings, Vec<&'static str>) {
    let mut warnings = Vec::new();
    let mut warn = |w: &'static str| warnings.push(w);

    let endpoint = get(&ENDPOINT).and_then(|v| {
        let v = v.trim_ascii();
        let ok = (strip_prefix_ci(v, "https://").is_some()
            || strip_prefix_ci(v, "http://").is_some())
            && v.len() <= 2048
            && !v.bytes().any(|c| c <= b' ' || c == 0x7f);
        if ok {
            Some(v.to_owned())
        } else {
            warn("endpoint: not an http(s) URL — sending nothing");
            None
        }
    });
    let prefix = get(&PREFIX).map_or(Prefix::DEFAULT, |v| {
        Prefix::new(v.trim_ascii()).unwrap_or_else(|_| {
            warn("prefix: must be 1-4 letters A-Z — using CT");
            Prefix::DEFAULT
        })
    });
    let template = get(&TEMPLATE).and_then(|v| match Template::custom(&v) {
        Ok(t) => Some(t),
        Err(_) => {
            warn("template: needs {id}, at most 500 characters, only {id} {text} {url} {title} — using the built-in one");
            None
        }
    });
    let lifetime_days = get(&LIFETIME).map_or(DEFAULT_LIFETIME_DAYS, |v| {
        match whole_number(v.trim_ascii()) {
            Some(d) if (1..=MAX_LIFETIME_DAYS).contains(&d) => d,
            _ => {
                warn("lifetime: whole days 1-400 — using 21");
                DEFAULT_LIFETIME_DAYS
            }
        }
    });
    let counter = get(&COUNTER).and_then(|v| {
        let v = v.trim_ascii();
        if !v.is_empty() && v.len() <= 12 && v.bytes().all(|c| c.is_ascii_digit()) {
            Some(v.to_owned())
        } else {
            warn("counter: must be the Metrica counter number — not using ym()");
            None
        }
    });
    let consent_required = get(&CONSENT).is_some_and(|v| {
        let v = v.trim_ascii();
        if v.eq_ignore_ascii_case("granted") {
            false
        } else if v.eq_ignore_ascii_case("required") {
            true
        } else {
            // The privacy-safe reading of a consent setting nobody can parse.
            warn("consent: granted or required — treating as required");
            true
        }
    });
    let debug = get(&DEBUG).is_some_and(|v| is_on(&v));

    (
        Settings {
            endpoint,
            prefix,
            template,
            lifetime_days,
            counter,
            consent_required,
            debug,
        },
        warnings,
    )
}

/// Decimal digits only (no sign, no spaces), small enough for a day count.
fn whole_number(v: &str) -> Option<u32> {
    if v.is_empty() || v.len() > 6 {
        return None;
    }
    v.bytes().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + (c - b'0') as u32)
    })
}

/// `data-debug` (present, empty) / `"1"` / `"true"` / `"on"` / `"yes"` → on; `"0"` / `"false"` /
/// `"off"` / `"no"` → off.
pub fn is_on(v: &str) -> bool {
    let v = v.trim_ascii();
    !["0", "false", "off", "no"]
        .iter()
        .any(|off| v.eq_ignore_ascii_case(off))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> (Settings, Vec<&'static str>) {
        parse(&mut |k: &Key| {
            pairs
                .iter()
                .find(|(n, _)| *n == k.config)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let (s, w) = with(&[]);
        assert!(w.is_empty());
        assert_eq!(s.endpoint, None);
        assert_eq!(s.prefix, Prefix::DEFAULT);
        assert!(s.template.is_none());
        assert_eq!(s.lifetime_days, 21);
        assert_eq!(s.counter, None);
        assert!(!s.consent_required && !s.debug);
    }

    #[test]
    fn good_values_are_taken() {
        let (s, w) = with(&[
            ("endpoint", " https://collector.example/v1/events "),
            ("prefix", "FL"),
            ("template", "Order {id}"),
            ("lifetimeDays", "30"),
            ("counter", "98765432"),
            ("consent", "Required"),
            ("debug", ""),
        ]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            s.endpoint.as_deref(),
            Some("https://collector.example/v1/events")
        );
        assert_eq!(s.prefix.as_str(), "FL");
        assert!(s.template.is_some());
        assert_eq!(s.lifetime_days, 30);
        assert_eq!(s.counter.as_deref(), Some("98765432"));
        assert!(s.consent_required && s.debug);
    }

    #[test]
    fn bad_values_warn_and_fall_back_safely() {
        let (s, w) = with(&[
            ("endpoint", "javascript:alert(1)"),
            ("prefix", "ct1"),
            ("template", "no placeholder"),
            ("lifetimeDays", "0"),
            ("counter", "12ab"),
            ("consent", "yes please"),
            ("debug", "off"),
        ]);
        assert_eq!(w.len(), 6, "{w:?}");
        assert_eq!(s.endpoint, None);
        assert_eq!(s.prefix, Prefix::DEFAULT);
        assert!(s.template.is_none());
        assert_eq!(s.lifetime_days, 21);
        assert_eq!(s.counter, None);
        assert!(
            s.consent_required,
            "an unreadable consent setting must not mean 'granted'"
        );
        assert!(!s.debug);
        let (s, _) = with(&[("lifetimeDays", "2100"), ("endpoint", "https://a b/")]);
        assert_eq!(s.lifetime_days, 21);
        for bad in ["+5", "1.5", "-3", "9999999", "true", "[object Object]"] {
            assert_eq!(with(&[("lifetimeDays", bad)]).0.lifetime_days, 21, "{bad}");
        }
        assert_eq!(s.endpoint, None);
    }
}
