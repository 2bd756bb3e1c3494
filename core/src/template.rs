//! The visible tag added to a personal chat's prefilled message, e.g. "Request number: CT8F2A9KQZ".
//!
//! The site's own text always stays: the tag is appended after a blank line (or, in a custom
//! template, placed where `{text}` says). Localised by the page's `<html lang>`.

use crate::chat_id::ChatId;
use crate::url::encode_component_into;

/// Longest custom template, in characters.
pub const MAX_TEMPLATE_LEN: usize = 500;

// A template is kept "compiled": its literal text with each placeholder replaced by one control
// character below. One string instead of a list of parts keeps this small in the snippet; custom
// templates have these characters (invisible C0 controls) removed before compiling.
/// The site's existing text.
const TEXT: u8 = 1;
/// A blank line, only when the site's text is not empty (no leading blank lines otherwise).
const SEP: u8 = 2;
const ID: u8 = 3;
const URL: u8 = 4;
const TITLE: u8 = 5;

#[inline(always)]
fn find_marker(s: &str) -> Option<usize> {
    crate::url::position(s.as_bytes(), &|b| (TEXT..=TITLE).contains(&b))
}

/// A parsed message template.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Template {
    compiled: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TemplateError {
    MissingId,
    TooLong,
    UnknownPlaceholder,
}

impl core::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TemplateError::MissingId => "template must contain {id}",
            TemplateError::TooLong => "template is longer than 500 characters",
            TemplateError::UnknownPlaceholder => {
                "template has a placeholder other than {id} {text} {url} {title}"
            }
        })
    }
}

impl std::error::Error for TemplateError {}

/// "Request number" in each supported language (primary subtag of `<html lang>`).
fn label(lang: &str) -> &'static str {
    // The part before the first `-` or `_`.
    let primary = crate::url::before_byte(crate::url::before_byte(lang.trim_ascii(), b'-'), b'_');
    // One table string (`<code><label>` per line) scanned by one loop, instead of a comparison
    // per language.
    const LABELS: &str = "ruНомер обращения\nukНомер звернення\nkkӨтініш нөмірі\n\
        ptNúmero da solicitação\nesNúmero de solicitud\ntrTalep numarası\ndeAnfragenummer";
    if primary.len() == 2 {
        for line in crate::url::split_byte(LABELS, b'\n') {
            if let Some(label) = crate::url::strip_prefix_ci(line, primary) {
                return label;
            }
        }
    }
    "Request number"
}

impl Template {
    /// The default template for a page language: `<text>\n\n<label>: <id>`.
    pub fn for_lang(html_lang: &str) -> Template {
        let mut compiled = String::from("\u{1}\u{2}");
        compiled.push_str(label(html_lang));
        compiled.push_str(": \u{3}");
        Template { compiled }
    }

    /// A site's own template with `{id}` (required), `{text}`, `{url}`, `{title}`. Without
    /// `{text}`, the site's existing text comes first, followed by a blank line, as in the
    /// default. Braces that do not form `{name}` are kept literally.
    pub fn custom(s: &str) -> Result<Template, TemplateError> {
        if char_count(s) > MAX_TEMPLATE_LEN {
            return Err(TemplateError::TooLong);
        }
        let mut compiled = String::with_capacity(s.len() + 2);
        // Bit `1 << marker` for each placeholder found (literals never hold markers).
        let mut seen = 0u32;
        let mut rest = s;
        while let Some((literal, after)) = crate::url::split_once_byte(rest, b'{') {
            push_literal(&mut compiled, literal);
            // `{name}`: one or more of `a-z` up to the closing brace.
            let (name, tail) = crate::url::cut(after, b'}');
            let tail = match tail {
                Some(tail)
                    if !name.is_empty()
                        && crate::url::all_bytes(name.as_bytes(), u8::is_ascii_lowercase) =>
                {
                    tail
                }
                _ => {
                    compiled.push('{');
                    rest = after;
                    continue;
                }
            };
            // The names in marker order (`-` holds SEP's place; it is never a name).
            let marker = crate::url::index_in("text - id url title", name, str::eq)
                .ok_or(TemplateError::UnknownPlaceholder)?
                + 1;
            seen |= 1 << marker;
            compiled.push(marker as u8 as char);
            rest = tail;
        }
        push_literal(&mut compiled, rest);
        if seen & 1 << ID == 0 {
            return Err(TemplateError::MissingId);
        }
        if seen & 1 << TEXT == 0 {
            // The site's text first, then a blank line, as in the default template.
            compiled.insert_str(0, "\u{1}\u{2}");
        }
        Ok(Template { compiled })
    }

    /// The whole prefilled message: the site's existing text kept, the tag added (never replaced).
    pub fn render(&self, text: &str, id: &ChatId, url: &str, title: &str) -> String {
        let mut out = String::with_capacity(text.len() + 64);
        let ctx = Context {
            id,
            url,
            title,
            has_text: !text.is_empty(),
        };
        write::<false>(&mut out, &self.compiled, text, &ctx);
        out
    }

    /// Like [`Template::render`] but percent-encoded for a query value, with the site's text
    /// copied as `raw_text` exactly as it was encoded in the link.
    pub(crate) fn render_encoded(
        &self,
        raw_text: &str,
        has_text: bool,
        id: &ChatId,
        url: &str,
        title: &str,
    ) -> String {
        let mut out = String::with_capacity(raw_text.len() + 96);
        write::<true>(
            &mut out,
            &self.compiled,
            raw_text,
            &Context {
                id,
                url,
                title,
                has_text,
            },
        );
        out
    }

    /// If `raw` (a link's encoded text) is exactly this template rendered by
    /// [`Template::render_encoded`] around some site text with the ID `old`, that site text.
    /// Only for templates with a single `{text}`; for others the caller replaces the ID in place.
    pub(crate) fn strip_rendered<'s>(
        &self,
        raw: &'s str,
        old: &ChatId,
        url: &str,
        title: &str,
    ) -> Option<&'s str> {
        let c = &self.compiled;
        let (lead, trail) = crate::url::cut(c, TEXT);
        let trail = trail?;
        if crate::url::find_byte(trail, TEXT).is_some() {
            return None;
        }
        // With the site's text, then without (the blank line differs). A counted loop: an
        // array of the two cases costs an iterator in the wasm.
        for pass in 0..2 {
            let has_text = pass == 0;
            let ctx = Context {
                id: old,
                url,
                title,
                has_text,
            };
            let mut l = String::new();
            write::<true>(&mut l, lead, "", &ctx);
            let mut t = String::new();
            write::<true>(&mut t, trail, "", &ctx);
            if let Some(middle) = raw
                .strip_prefix(l.as_str())
                .and_then(|m| m.strip_suffix(t.as_str()))
            {
                if middle.is_empty() != has_text {
                    return Some(middle);
                }
            }
        }
        None
    }
}

/// `s.chars().count()` without std's unrolled counter, which is large in wasm: every byte that
/// does not continue a UTF-8 sequence starts a character.
fn char_count(s: &str) -> usize {
    let mut n = 0;
    for b in s.as_bytes() {
        n += (b & 0xC0 != 0x80) as usize;
    }
    n
}

/// Appends template text, minus any characters that would read as placeholders.
fn push_literal(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(at) = find_marker(rest) {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// What the placeholders stand for in one rendering.
struct Context<'a> {
    id: &'a ChatId,
    url: &'a str,
    title: &'a str,
    /// Whether the site's text is non-empty (decides the blank line).
    has_text: bool,
}

/// Renders `compiled` into `out`. `ENCODE` percent-encodes everything but the site's text
/// (which is passed already encoded); a constant, so the snippet, which only renders encoded,
/// carries one instance without the plain branch.
fn write<const ENCODE: bool>(out: &mut String, compiled: &str, text: &str, ctx: &Context<'_>) {
    let put = |out: &mut String, s: &str| {
        if ENCODE {
            encode_component_into(out, s)
        } else {
            out.push_str(s)
        }
    };
    let mut rest = compiled;
    while !rest.is_empty() {
        let at = find_marker(rest).unwrap_or(rest.len());
        put(out, &rest[..at]);
        let Some(&marker) = rest.as_bytes().get(at) else {
            break;
        };
        match marker {
            TEXT => out.push_str(text),
            SEP if ctx.has_text => put(out, "\n\n"),
            ID => put(out, ctx.id.as_str()),
            URL => put(out, ctx.url),
            TITLE => put(out, ctx.title),
            _ => {}
        }
        rest = &rest[at + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> ChatId {
        ChatId::generate(&crate::Prefix::DEFAULT, [1, 2, 3, 4, 5])
    }

    #[test]
    fn localised_labels() {
        let id = id();
        let tag = |lang: &str| Template::for_lang(lang).render("", &id, "", "");
        assert_eq!(tag("en"), ["Request number: ", id.as_str()].concat());
        assert_eq!(tag("ru-RU"), ["Номер обращения: ", id.as_str()].concat());
        assert_eq!(tag("RU"), ["Номер обращения: ", id.as_str()].concat());
        assert_eq!(
            tag("pt-BR"),
            ["Número da solicitação: ", id.as_str()].concat()
        );
        assert_eq!(
            tag("es_419"),
            ["Número de solicitud: ", id.as_str()].concat()
        );
        assert_eq!(tag("uk"), ["Номер звернення: ", id.as_str()].concat());
        assert_eq!(tag("kk"), ["Өтініш нөмірі: ", id.as_str()].concat());
        assert_eq!(tag("tr"), ["Talep numarası: ", id.as_str()].concat());
        assert_eq!(tag("de-AT"), ["Anfragenummer: ", id.as_str()].concat());
        assert_eq!(tag("fr"), ["Request number: ", id.as_str()].concat());
        assert_eq!(tag(""), ["Request number: ", id.as_str()].concat());
        assert_eq!(tag("rus"), ["Request number: ", id.as_str()].concat());
    }

    #[test]
    fn keeps_existing_text() {
        let id = id();
        let t = Template::for_lang("en");
        assert_eq!(
            t.render("Hi, I want the red one", &id, "", ""),
            ["Hi, I want the red one\n\nRequest number: ", id.as_str()].concat()
        );
    }

    #[test]
    fn custom_placeholders() {
        let id = id();
        let t = Template::custom("{text} [ref:{id}] from {title} {url}").unwrap();
        assert_eq!(
            t.render("Hello", &id, "https://s.example/p", "Shop"),
            [
                "Hello [ref:",
                id.as_str(),
                "] from Shop https://s.example/p"
            ]
            .concat()
        );
        let t = Template::custom("Order {id}").unwrap();
        assert_eq!(
            t.render("Hello", &id, "", ""),
            ["Hello\n\nOrder ", id.as_str()].concat()
        );
        assert_eq!(t.render("", &id, "", ""), ["Order ", id.as_str()].concat());
        let t = Template::custom("{id} {x y} {").unwrap();
        assert_eq!(
            t.render("", &id, "", ""),
            [id.as_str(), " {x y} {"].concat()
        );
        // Control characters that the compiled form uses internally cannot inject placeholders.
        let t = Template::custom("\u{1}\u{3}{id}\u{2}\u{4}\u{5}!").unwrap();
        assert_eq!(
            t.render("Hi", &id, "U", "T"),
            ["Hi\n\n", id.as_str(), "!"].concat()
        );
        assert_eq!(Template::custom("\u{3}"), Err(TemplateError::MissingId));
    }

    #[test]
    fn custom_errors() {
        assert_eq!(
            Template::custom("no id here {text}"),
            Err(TemplateError::MissingId)
        );
        assert_eq!(Template::custom(""), Err(TemplateError::MissingId));
        assert_eq!(
            Template::custom("{id} {name}"),
            Err(TemplateError::UnknownPlaceholder)
        );
        assert_eq!(Template::custom("{ID}"), Err(TemplateError::MissingId));
        let long = ["{id}", &"я".repeat(497)].concat();
        assert_eq!(Template::custom(&long), Err(TemplateError::TooLong));
        let ok = ["{id}", &"я".repeat(496)].concat();
        assert!(Template::custom(&ok).is_ok());
    }

    #[test]
    fn char_count_matches_std() {
        for s in [
            "",
            "a",
            "я",
            "{id} Өтініш 🙂 x",
            "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}",
        ] {
            assert_eq!(char_count(s), s.chars().count(), "{s:?}");
        }
    }

    #[test]
    fn strips_own_rendering() {
        let id = id();
        let t = Template::for_lang("en");
        let r = t.render_encoded("Hi", true, &id, "", "");
        assert_eq!(t.strip_rendered(&r, &id, "", ""), Some("Hi"));
        let r = t.render_encoded("", false, &id, "", "");
        assert_eq!(t.strip_rendered(&r, &id, "", ""), Some(""));
        assert_eq!(t.strip_rendered("Hi", &id, "", ""), None);
        let e = t.render_encoded("Hi%20there", true, &id, "", "");
        assert_eq!(t.strip_rendered(&e, &id, "", ""), Some("Hi%20there"));
        let other = ChatId::generate(&crate::Prefix::DEFAULT, [9, 9, 9, 9, 9]);
        assert_eq!(t.strip_rendered(&e, &other, "", ""), None);
    }
}
