//! Messenger links: which ones can carry a chat ID, and how the ID is added.
//!
//! The specification is `docs/reference/messenger-links.md` (WhatsApp, Telegram, Viber, MAX). The rule
//! throughout: the site's link keeps working exactly as before — every parameter, its order and
//! encoding, the fragment and the site's own text stay; only the one parameter that carries the
//! ID is edited. Anything not positively recognised is left alone.

use crate::chat_id::{ChatId, Prefix};
use crate::find::next_canonical_id;
use crate::template::Template;
use crate::url::{
    all_digits, decode_bytes, ends_with_ci, eq_ci, index_in, param, params, raw_index, rcut, split,
    split_byte, strip_prefix_ci, with_param, Parts,
};

/// Links longer than this are neither tagged nor produced: a tag must never push a link past
/// what browsers, messengers and the click event comfortably carry.
pub const MAX_HREF_LEN: usize = 8192;
/// Telegram's limit for `start` (`START_PARAM_TOO_LONG` beyond it).
pub const TELEGRAM_START_MAX: usize = 64;
/// MAX's limit for the bot `start` payload.
pub const MAX_START_MAX: usize = 128;
/// Viber documents no `context` limit short of the URL's; this keeps the whole link modest.
pub const VIBER_URL_MAX: usize = 2048;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Messenger {
    WhatsApp,
    Telegram,
    Viber,
    Max,
}

impl Messenger {
    pub fn as_str(self) -> &'static str {
        match self {
            Messenger::WhatsApp => "whatsapp",
            Messenger::Telegram => "telegram",
            Messenger::Viber => "viber",
            Messenger::Max => "max",
        }
    }

    pub fn from_name(name: &str) -> Option<Messenger> {
        Some(match name {
            "whatsapp" => Messenger::WhatsApp,
            "telegram" => Messenger::Telegram,
            "viber" => Messenger::Viber,
            "max" => Messenger::Max,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LinkKind {
    WhatsApp,
    TelegramBot,
    TelegramPersonal,
    ViberBot,
    ViberPersonal,
    MaxBot,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::WhatsApp => "whatsapp",
            LinkKind::TelegramBot => "telegram_bot",
            LinkKind::TelegramPersonal => "telegram_personal",
            LinkKind::ViberBot => "viber_bot",
            LinkKind::ViberPersonal => "viber_personal",
            LinkKind::MaxBot => "max_bot",
        }
    }

    pub fn from_name(name: &str) -> Option<LinkKind> {
        Some(match name {
            "whatsapp" => LinkKind::WhatsApp,
            "telegram_bot" => LinkKind::TelegramBot,
            "telegram_personal" => LinkKind::TelegramPersonal,
            "viber_bot" => LinkKind::ViberBot,
            "viber_personal" => LinkKind::ViberPersonal,
            "max_bot" => LinkKind::MaxBot,
            _ => return None,
        })
    }

    pub fn messenger(self) -> Messenger {
        match self {
            LinkKind::WhatsApp => Messenger::WhatsApp,
            LinkKind::TelegramBot | LinkKind::TelegramPersonal => Messenger::Telegram,
            LinkKind::ViberBot | LinkKind::ViberPersonal => Messenger::Viber,
            LinkKind::MaxBot => Messenger::Max,
        }
    }

    /// The ID travels hidden (bot start parameter / context) rather than in visible draft text.
    pub fn is_bot(self) -> bool {
        matches!(
            self,
            LinkKind::TelegramBot | LinkKind::ViberBot | LinkKind::MaxBot
        )
    }
}

/// Why a link is left untouched.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Skip {
    NotMessenger,
    Share,
    Catalogue,
    FixedText,
    NotAChat,
    MiniApp,
    NoRecipient,
    Disabled,
    Malformed,
    TooLong,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NotMessenger => "not_messenger",
            Skip::Share => "share",
            Skip::Catalogue => "catalogue",
            Skip::FixedText => "fixed_text",
            Skip::NotAChat => "not_a_chat",
            Skip::MiniApp => "mini_app",
            Skip::NoRecipient => "no_recipient",
            Skip::Disabled => "disabled",
            Skip::Malformed => "malformed",
            Skip::TooLong => "too_long",
        }
    }
}

/// The site's per-link override, from `data-chattag`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Hint {
    #[default]
    Auto,
    Bot,
    Personal,
    Off,
}

impl Hint {
    /// `off` / `bot` / `personal` (any case, surrounding spaces ignored); anything else is `Auto`
    /// (a typo must not silently disable tagging or change where the ID goes).
    pub fn parse(s: &str) -> Hint {
        let s = s.trim_ascii();
        if eq_ci(s, "off") {
            Hint::Off
        } else if eq_ci(s, "bot") {
            Hint::Bot
        } else if eq_ci(s, "personal") {
            Hint::Personal
        } else {
            Hint::Auto
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Classified {
    pub messenger: Messenger,
    pub kind: LinkKind,
}

impl LinkKind {
    /// Where this kind of link carries the ID: the parameter, and its limit in bytes when it is
    /// hidden (`start`, `context`: `<site>_<ID>`). `text` is a visible draft with no limit of
    /// its own: the template is applied to the existing text.
    fn carrier(self) -> (&'static str, Option<usize>) {
        match self {
            LinkKind::TelegramBot => ("start", Some(TELEGRAM_START_MAX)),
            LinkKind::MaxBot => ("start", Some(MAX_START_MAX)),
            LinkKind::ViberBot => ("context", Some(VIBER_URL_MAX)),
            LinkKind::WhatsApp | LinkKind::TelegramPersonal | LinkKind::ViberPersonal => {
                ("text", None)
            }
        }
    }
}

/// Which messenger link form `href` is (see `messenger-links.md`), or why it is left alone.
/// Hosts and schemes are case-insensitive, `www.` and `http:` are accepted; anything not
/// positively recognised — look-alike hosts, links merely mentioning a messenger URL, relative
/// links, `javascript:` — is [`Skip::NotMessenger`].
pub fn classify(href: &str, hint: Hint) -> Result<Classified, Skip> {
    let parts = parts_of(href, hint)?;
    let kind = recognise(href, &parts, hint)?;
    Ok(Classified {
        messenger: kind.messenger(),
        kind,
    })
}

/// The parts of a link the site did not switch off. Split from [`recognise`] so that the parts
/// are not moved through its result (a copy of the whole struct per return in the wasm).
#[inline(always)]
fn parts_of(href: &str, hint: Hint) -> Result<Parts<'_>, Skip> {
    if hint == Hint::Off {
        return Err(Skip::Disabled);
    }
    split(href).ok_or(Skip::NotMessenger)
}

/// Which chat link form the link split into `parts` is.
fn recognise(href: &str, parts: &Parts<'_>, hint: Hint) -> Result<LinkKind, Skip> {
    // Schemes and hosts are looked up by position in one name list each: one scan instead of a
    // comparison per name.
    // Every web form is decided by its first two path segments, every app form by its action,
    // which is read from the same two: one scan of the path for both.
    let path = segments(parts.path);
    let kind = match index_in("https http whatsapp tg viber", scheme(parts)?, eq_ci) {
        Some(0 | 1) => {
            let host = parts.host.ok_or(Skip::NotMessenger)?;
            let host = strip_prefix_ci(host, "www.").unwrap_or(host);
            const HOSTS: &str = "wa.me api.whatsapp.com web.whatsapp.com whatsapp.com \
                t.me telegram.me telegram.dog max.ru";
            match index_in(HOSTS, host, eq_ci) {
                Some(0) => wa_me(path)?,
                Some(1..=3) => whatsapp_send(path.0, parts)?,
                Some(4..=6) => telegram_web(path, parts, hint)?,
                Some(_) => max_ru(path, parts, hint)?,
                // username.t.me: a Telegram profile preview page, not a chat start link.
                None if ends_with_ci(host, ".t.me") => return Err(Skip::NotAChat),
                None => return Err(Skip::NotMessenger),
            }
        }
        Some(i) => {
            let action = app_action(parts.host, path);
            match i {
                2 => whatsapp_send(action, parts)?,
                3 => telegram_app(action, parts, hint)?,
                _ => viber(action, parts)?,
            }
        }
        None => return Err(Skip::NotMessenger),
    };
    if href.len() > MAX_HREF_LEN {
        return Err(Skip::TooLong);
    }
    Ok(kind)
}

/// The scheme a link opens. An Android intent URL
/// (`intent://send?…#Intent;scheme=whatsapp;package=com.whatsapp;end`) opens `<scheme>://` +
/// what comes before `#`: it is read as that link, and tagged in its query like it (the
/// `#Intent;…` part is kept as written). Chrome reads the fragment only when it starts
/// `Intent;`, and its items up to `end`.
#[inline(always)]
fn scheme<'a>(parts: &Parts<'a>) -> Result<&'a str, Skip> {
    if !eq_ci(parts.scheme, "intent") {
        return Ok(parts.scheme);
    }
    if let Some(items) = parts.fragment.and_then(|f| f.strip_prefix("Intent;")) {
        for item in split_byte(items, b';') {
            if item == "end" {
                break;
            }
            if let Some(scheme) = item.strip_prefix("scheme=") {
                return Ok(scheme);
            }
        }
    }
    Err(Skip::NotMessenger)
}

/// The first two non-empty `/`-separated path segments (`/a//b/c` → `a`, `b`): all any link
/// form looks at. A plain loop, not an iterator adapter; inlined, as `recognise` is the
/// snippet's only caller.
#[inline(always)]
fn segments(path: &str) -> (Option<&str>, Option<&str>) {
    let mut found = (None, None);
    for seg in split_byte(path, b'/') {
        if seg.is_empty() {
            continue;
        }
        if found.0.is_none() {
            found.0 = Some(seg);
        } else {
            found.1 = Some(seg);
            break;
        }
    }
    found
}

/// The action of an app-scheme link: `tg://resolve?…` and `tg:resolve?…` both give `resolve`.
/// `None` when there is more path than one name.
/// `path` is the link's [`segments`].
fn app_action<'a>(host: Option<&'a str>, path: Path<'a>) -> Option<&'a str> {
    let (first, second) = path;
    match host {
        Some(h) if first.is_none() => Some(h),
        Some(_) => None,
        None if second.is_some() => None,
        None => first,
    }
}

fn has_param(parts: &Parts<'_>, key: &str) -> bool {
    param(parts.query, key).is_some()
}

/// A parameter's decoded value has something besides spaces.
fn has_value(parts: &Parts<'_>, key: &str) -> bool {
    param(parts.query, key).is_some_and(|v| {
        decode_bytes(v, true)
            .iter()
            .any(|c| !c.is_ascii_whitespace())
    })
}

fn is_phone_path(seg: &str) -> bool {
    // `&str` patterns throughout, not `char`: one std instance for all of them in the wasm.
    let digits = seg.strip_prefix("+").unwrap_or(seg);
    !digits.is_empty() && all_digits(digits)
}

/// A web link's first two non-empty path segments ([`segments`]): what decides its form.
type Path<'a> = (Option<&'a str>, Option<&'a str>);

fn wa_me(path: Path<'_>) -> Result<LinkKind, Skip> {
    let (Some(first), second) = path else {
        return Err(Skip::Share);
    };
    let more = second.is_some();
    if listed("message qr", first, eq_ci) {
        Err(Skip::FixedText)
    } else if eq_ci(first, "c") {
        Err(Skip::Catalogue)
    } else if more {
        Err(Skip::NotAChat)
    } else if is_phone_path(first) {
        Ok(LinkKind::WhatsApp)
    } else {
        Err(Skip::Malformed)
    }
}

/// `…/send?phone=` on api/web.whatsapp.com and `whatsapp://send?phone=`.
#[inline(always)]
fn whatsapp_send(action: Option<&str>, parts: &Parts<'_>) -> Result<LinkKind, Skip> {
    match action {
        Some(a) if eq_ci(a, "send") => {
            if has_value(parts, "phone") {
                Ok(LinkKind::WhatsApp)
            } else {
                Err(Skip::Share)
            }
        }
        Some(a) if listed("message qr", a, eq_ci) => Err(Skip::FixedText),
        Some(a) if listed("catalog c", a, eq_ci) => Err(Skip::Catalogue),
        _ => Err(Skip::NotAChat),
    }
}

/// First path segments of t.me that are Telegram features, not usernames.
const TELEGRAM_RESERVED: &str =
    "joinchat addstickers addemoji addlist addtheme setlanguage proxy socks \
    login invoice boost confirmphone bg c m s iv contact giftcode nft share msg msg_url";

/// Whether `name` is one of the space-separated `list` (`same` decides what equal means).
fn listed(list: &str, name: &str, same: fn(&str, &str) -> bool) -> bool {
    crate::url::index_in(list, name, same).is_some()
}

/// Query parameters that make a t.me / tg://resolve link something other than a chat start.
/// One pass over the query (a mini-app key wins over the others wherever it stands).
fn telegram_non_chat(parts: &Parts<'_>) -> Result<(), Skip> {
    const MINI_APP: &str = "startapp startattach appname";
    const NOT_A_CHAT: &str =
        "startgroup startchannel voicechat videochat livestream post thread comment boost";
    let mut verdict = Ok(());
    for p in params(parts.query.unwrap_or("")) {
        if listed(MINI_APP, p.key, str::eq) {
            return Err(Skip::MiniApp);
        }
        if listed(NOT_A_CHAT, p.key, str::eq) {
            verdict = Err(Skip::NotAChat);
        }
    }
    verdict
}

/// Only `A-Z a-z 0-9 _` (the name characters of Telegram and MAX).
#[inline(always)]
fn is_word(s: &str) -> bool {
    crate::url::all_alnum_or(s, "_")
}

/// Telegram usernames: 4–32 of `A-Z a-z 0-9 _`, starting with a letter.
#[inline(always)]
fn is_username(s: &str) -> bool {
    let b = s.as_bytes();
    (4..=32).contains(&b.len()) && b[0].is_ascii_alphabetic() && is_word(s)
}

/// Bot or person: the site's hint first; else a name ending in `bot`, or a `start` parameter the
/// site already wrote (only bots take one).
#[inline(always)]
fn is_bot(name: &str, parts: &Parts<'_>, hint: Hint) -> bool {
    match hint {
        Hint::Bot => true,
        Hint::Personal => false,
        Hint::Auto | Hint::Off => ends_with_ci(name, "bot") || has_param(parts, "start"),
    }
}

fn telegram_web(path: Path<'_>, parts: &Parts<'_>, hint: Hint) -> Result<LinkKind, Skip> {
    let (first, second) = path;
    let first = first.ok_or(Skip::NotAChat)?;
    if eq_ci(first, "share") {
        return Err(Skip::Share);
    }
    if listed(TELEGRAM_RESERVED, first, eq_ci) {
        return Err(Skip::NotAChat);
    }
    if let Some(rest) = first
        .strip_prefix("+")
        .or_else(|| first.strip_prefix("%2B"))
    {
        // t.me/+<digits> opens a chat with a phone number; t.me/+<hash> is an invite.
        return if second.is_none() && !rest.is_empty() && all_digits(rest) {
            Ok(LinkKind::TelegramPersonal)
        } else {
            Err(Skip::NotAChat)
        };
    }
    if let Some(second) = second {
        // t.me/<channel>/<post id> is a post; t.me/<bot>/<app> a mini app.
        return if all_digits(second) {
            Err(Skip::NotAChat)
        } else {
            Err(Skip::MiniApp)
        };
    }
    if !is_username(first) {
        return Err(Skip::Malformed);
    }
    telegram_non_chat(parts)?;
    Ok(if is_bot(first, parts, hint) {
        LinkKind::TelegramBot
    } else {
        LinkKind::TelegramPersonal
    })
}

fn telegram_app(action: Option<&str>, parts: &Parts<'_>, hint: Hint) -> Result<LinkKind, Skip> {
    let action = action.ok_or(Skip::NotAChat)?;
    let is = |a: &str| eq_ci(action, a);
    if listed("msg_url msg share", action, eq_ci) {
        return Err(Skip::Share);
    }
    if !is("resolve") {
        return Err(Skip::NotAChat);
    }
    telegram_non_chat(parts)?;
    if let Some(domain) = param(parts.query, "domain").filter(|d| !d.is_empty()) {
        if !is_username(domain) {
            return Err(Skip::Malformed);
        }
        return Ok(if is_bot(domain, parts, hint) {
            LinkKind::TelegramBot
        } else {
            LinkKind::TelegramPersonal
        });
    }
    if has_value(parts, "phone") {
        return Ok(LinkKind::TelegramPersonal);
    }
    Err(Skip::NoRecipient)
}

fn viber(action: Option<&str>, parts: &Parts<'_>) -> Result<LinkKind, Skip> {
    let action = action.ok_or(Skip::NotAChat)?;
    // The recipient's parameter and the kind it makes: one recipient test for both forms.
    let (key, kind) = if eq_ci(action, "pa") {
        ("chatURI", LinkKind::ViberBot)
    } else if eq_ci(action, "chat") {
        ("number", LinkKind::ViberPersonal)
    } else if eq_ci(action, "forward") {
        return Err(Skip::Share);
    } else {
        return Err(Skip::NotAChat);
    };
    if has_value(parts, key) {
        Ok(kind)
    } else {
        Err(Skip::NoRecipient)
    }
}

fn max_ru(path: Path<'_>, parts: &Parts<'_>, hint: Hint) -> Result<LinkKind, Skip> {
    let (first, second) = path;
    let first = first.ok_or(Skip::NotAChat)?;
    if listed(":share %3Ashare", first, eq_ci) {
        return Err(Skip::Share);
    }
    if second.is_some() {
        return Err(Skip::NotAChat);
    }
    if first.is_empty() || first.len() > 64 || !is_word(first) {
        return Err(Skip::Malformed);
    }
    if has_param(parts, "startapp") {
        return Err(Skip::MiniApp);
    }
    // MAX has no documented draft-text parameter for people: only bots can carry the ID.
    if is_bot(first, parts, hint) {
        Ok(LinkKind::MaxBot)
    } else {
        Err(Skip::NotAChat)
    }
}

/// The messenger account a link opens, named the way that messenger's webhook names the site's
/// account: WhatsApp → the phone's digits; Telegram, MAX → the lowercase username (digits for a
/// Telegram phone link); Viber → the lowercase `chatURI` (digits for a personal `number`).
/// `None` for a link [`classify`] does not recognise as a chat link. The collector uses it to
/// tell whether a recorded click could have started a chat on the site's configured account.
pub fn account_of_link(href: &str) -> Option<String> {
    let parts = parts_of(href, Hint::Auto).ok()?;
    let kind = recognise(href, &parts, Hint::Auto).ok()?;
    let decoded = |key: &str| {
        param(parts.query, key)
            .map(|v| String::from_utf8_lossy(&decode_bytes(v, true)).into_owned())
    };
    let digits = |s: &str| {
        let d: String = s.chars().filter(char::is_ascii_digit).collect();
        (!d.is_empty()).then_some(d)
    };
    let on_web = listed("https http", scheme(&parts).ok()?, eq_ci);
    let first_segment = segments(parts.path).0.unwrap_or("");
    match kind {
        LinkKind::WhatsApp
            if on_web
                && parts
                    .host
                    .is_some_and(|h| eq_ci(strip_prefix_ci(h, "www.").unwrap_or(h), "wa.me")) =>
        {
            digits(first_segment)
        }
        LinkKind::WhatsApp => decoded("phone").as_deref().and_then(digits),
        LinkKind::TelegramBot | LinkKind::TelegramPersonal | LinkKind::MaxBot if on_web => {
            match strip_prefix_ci(first_segment, "+")
                .or_else(|| strip_prefix_ci(first_segment, "%2B"))
            {
                Some(phone) => digits(phone),
                None => Some(first_segment.to_ascii_lowercase()),
            }
        }
        LinkKind::TelegramBot | LinkKind::TelegramPersonal | LinkKind::MaxBot => {
            match decoded("domain").filter(|d| !d.is_empty()) {
                Some(name) => Some(name.to_ascii_lowercase()),
                None => decoded("phone").as_deref().and_then(digits),
            }
        }
        LinkKind::ViberBot => decoded("chatURI").map(|c| c.to_ascii_lowercase()),
        LinkKind::ViberPersonal => decoded("number").as_deref().and_then(digits),
    }
}

/// What [`tag`] needs besides the link.
pub struct TagInput<'a> {
    /// The visitor's current ID.
    pub chat_id: &'a ChatId,
    /// Prefixes whose earlier IDs are replaced (the current ID's prefix is always included).
    pub prefixes: &'a [Prefix],
    pub template: &'a Template,
    pub page_url: &'a str,
    pub page_title: &'a str,
    pub hint: Hint,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Tagged {
    pub href: String,
    pub messenger: Messenger,
    pub kind: LinkKind,
    /// `false` when the link already carried exactly this tag.
    pub changed: bool,
}

/// Adds the chat ID to a messenger link, or says why the link is left alone.
///
/// Idempotent: a link tagged earlier (with this ID or an older one of any of `prefixes`) comes
/// back with exactly one tag carrying the current ID.
///
/// Hidden parameters (`start`, `context`) take `<site>_<ID>` when the site already had a value,
/// so [`split_start_param`] recovers both. When that does not fit the parameter's limit (64 for
/// Telegram), the site's part is shortened from the end to leave room for the longest possible
/// ID (so ≤ 51 characters on Telegram): the ID must arrive for attribution, and
/// the site's full original value stays in the page's markup (the snippet edits the live link
/// only). A site that needs its whole value back should keep it short.
pub fn tag(href: &str, input: &TagInput<'_>) -> Result<Tagged, Skip> {
    let parts = parts_of(href, input.hint)?;
    let kind = recognise(href, &parts, input.hint)?;
    // Whether an earlier ID's prefix is ours: the current one or one of `prefixes`.
    let ours = |p: &str| {
        if p == input.chat_id.prefix() {
            return true;
        }
        for o in input.prefixes {
            if o.as_str() == p {
                return true;
            }
        }
        false
    };
    let (key, max) = kind.carrier();
    let raw = param(parts.query, key).unwrap_or("");
    let new_raw = match max {
        None => tag_text(raw, input, &ours),
        Some(max) => {
            let max = if kind == LinkKind::ViberBot {
                // Viber: the cap is on the whole link.
                VIBER_URL_MAX.saturating_sub(href.len() - raw.len() + key.len() + 2)
            } else {
                max
            };
            hidden_value(raw, input.chat_id, &ours, max)
        }
    };
    // Unchanged when the value is already `new_raw`: the same `key=value` is written back.
    let out = with_param(href, &parts, key, &new_raw);
    if out.len() > MAX_HREF_LEN {
        return Err(Skip::TooLong);
    }
    let changed = out != href;
    Ok(Tagged {
        href: out,
        messenger: kind.messenger(),
        kind,
        changed,
    })
}

/// The new raw (percent-encoded) `text`: the site's text, encoded as the site encoded it, with
/// the rendered tag. An earlier tag is replaced: stripped when the text ends in it as rendered
/// (compared in our own encoding), else its ID is replaced where it stands (the visitor's or the
/// site's edits around it are kept, in the site's encoding).
fn tag_text(raw: &str, input: &TagInput<'_>, ours: &impl Fn(&str) -> bool) -> String {
    let (t, id, url, title) = (
        input.template,
        input.chat_id,
        input.page_url,
        input.page_title,
    );
    // Bytes, not a string: a site's stray `%FF` must not hide our earlier tag after it.
    let decoded = decode_bytes(raw, false);
    // One scan over our earlier IDs. The first one whose rendering the text ends in is
    // stripped and the template rendered around what is left; until then each is replaced
    // where it stands, in the raw text, so the site's encoding survives (kept when none strips).
    let mut out = String::new();
    let (mut copied, mut at) = (0, 0);
    let site = loop {
        match next_canonical_id(&decoded, &mut at, ours) {
            Some((start, end, old)) => {
                if let Some(site) = t.strip_rendered(raw, &old, url, title) {
                    break site;
                }
                let (rs, re) = (raw_index(raw, start), raw_index(raw, end));
                out.push_str(raw.get(copied..rs).unwrap_or(""));
                out.push_str(id.as_str());
                copied = re;
            }
            // None of our IDs (each one found leaves at least the new ID in `out`): the
            // template around all of the site's text.
            None if out.is_empty() => break raw,
            None => {
                out.push_str(raw.get(copied..).unwrap_or(""));
                return out;
            }
        }
    };
    // A raw text is empty exactly when its decoded text is.
    t.render_encoded(site, !site.is_empty(), id, url, title)
}

/// `<site>_<ID>` for a hidden parameter, within `max` bytes; the site's part is shortened if
/// needed (never the ID). An earlier ID, alone or after `_`, is replaced.
fn hidden_value(raw: &str, id: &ChatId, ours: &impl Fn(&str) -> bool, max: usize) -> String {
    // An ID has no `_`, so one test of what follows the last `_` (all of `raw` without one)
    // covers both the lone ID and `<site>_<ID>`.
    let site = match rcut(raw, b'_') {
        (site, tail) if ChatId::parse(tail).is_ok_and(|old| ours(old.prefix())) => {
            site.unwrap_or("")
        }
        _ => raw,
    };
    // Room is reserved for the longest possible ID, not this one: the site's part is then cut
    // at the same place whatever the prefix, so renewing an ID never shortens it further.
    let room = max.saturating_sub(crate::chat_id::MAX_LEN + 1);
    let site = shorten_raw(site, room);
    let mut out = String::with_capacity(site.len() + 1 + id.as_str().len());
    if !site.is_empty() {
        out.push_str(site);
        out.push('_');
    }
    out.push_str(id.as_str());
    out
}

/// The longest prefix of a raw (percent-encoded) value within `max` bytes that ends neither
/// inside a UTF-8 character nor inside a `%XX` escape.
fn shorten_raw(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let b = s.as_bytes();
    if end >= 1 && b[end - 1] == b'%' {
        end -= 1;
    } else if end >= 2 && b[end - 2] == b'%' {
        end -= 2;
    }
    &s[..end]
}

/// A Telegram `start`, Viber `context` or MAX payload as the bot receives it, split into the
/// site's own part and our ID (see [`tag`] for the `<site>_<ID>` rule).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct StartParam {
    pub site: Option<String>,
    pub chat_id: Option<ChatId>,
}

pub fn split_start_param(param: &str) -> StartParam {
    if param.is_empty() {
        return StartParam::default();
    }
    if let Ok(id) = ChatId::parse(param) {
        return StartParam {
            site: None,
            chat_id: Some(id),
        };
    }
    if let (Some(site), tail) = rcut(param, b'_') {
        if let Ok(id) = ChatId::parse(tail) {
            let site = if site.is_empty() {
                None
            } else {
                Some(site.to_owned())
            };
            return StartParam {
                site,
                chat_id: Some(id),
            };
        }
    }
    StartParam {
        site: Some(param.to_owned()),
        chat_id: None,
    }
}
