//! The decisions of one page view (wasm32 only): which chat ID it has, what the collector must be
//! told and when, what every link becomes. The loader's JS (www/loader/page.js) owns the rest —
//! settings, consent, storage, the outbox, sending and retries, timers — and acts on what comes
//! back from here as *effects*, one per line (`Effects`). Decisions are delegated to the pure
//! modules (`visitor`, `reported`, `wire`) and to `chattag_core`.

use chattag_core::chat_id::RANDOM_BYTES;
use chattag_core::event::{clean_url, event_id, Event, EventType};
use chattag_core::identifiers::{
    clean_client_id, clean_purchase_id, clean_user_id, client_id_from_cookies,
    client_id_from_storage, cookie_value, from_query, ga_client_id_from_cookies, Identifiers,
    Landing,
};
use chattag_core::links::{Skip, Tagged};
use chattag_core::template::Template;
use chattag_core::url::before_byte;
use chattag_core::Prefix;

use crate::browser::dom::Pass;
use crate::browser::ports::{self, PAGE_HREF, PAGE_LANG, PAGE_REFERRER, PAGE_SEARCH, PAGE_TITLE};
use crate::logic::reported::Reported;
use crate::logic::visitor::{self, Clock, Record, Resolution, DAY_MS};
use crate::logic::wire::{self, push_u64};

/// `PageView::link`: a hinted link of a tagging pass, or a link being used (a click); the shell
/// passes 1 for the link under a pointer (`pointerdown` / `contextmenu`).
pub const LINK_PASS: u32 = 0;
pub const LINK_USED: u32 = 2;

/// What the loader must do after a call, one effect per line, a letter and its text (neither a
/// stored record nor an event JSON ever holds a raw newline):
/// - `s<max-age seconds> <record>`: store the visitor record (localStorage and cookie);
/// - `e<event JSON>`: put an event in the outbox and send;
/// - `c<event JSON>`: a click: put it in the outbox and beacon it at once;
/// - `h<href>`: the URL or href the call was about, tagged (only when it changes, for links);
/// - `i<chat ID>`: the page view has an ID now (tagging may start);
/// - `x`: the value handed to `setUserId` / `setPurchaseId` was rejected (the loader says so in
///   debug mode).
pub const SAVE: u8 = b's';
pub const EVENT: u8 = b'e';
pub const CLICK: u8 = b'c';
pub const HREF: u8 = b'h';
pub const ID: u8 = b'i';
pub const REJECTED: u8 = b'x';

/// The visitor record as the loader read it from storage: localStorage's, and this page's memory
/// (written along with every store, read when localStorage and the cookie both fail). The cookie's
/// is read here, between the two, with the core's cookie rule. The loader writes all three under
/// this name (www/loader/page.js).
pub type Stored<'a> = (Option<&'a str>, Option<&'a str>);
pub const RECORD: &str = "_chattag";

/// Settings rejected by `PageView::new`, as letters the loader turns into console warnings.
pub const BAD_PREFIX: char = 'p';
pub const BAD_TEMPLATE: char = 't';

pub struct PageView {
    /// The configured prefix, then `CT`, of which the first `prefix_count` apply: `CT` too when
    /// another is configured (links tagged before a prefix change keep being recognised). An
    /// array and its length, not a `Vec`: a `Vec<Prefix>` brought growth code of its own (size).
    prefixes: [Prefix; 2],
    prefix_count: usize,
    /// `None`: the built-in template for `<html lang>`, chosen at start.
    template: Option<Template>,
    lifetime_ms: u64,
    live: Option<Live>,
    /// What the start's resolution leaves to tell the collector and storage (`settle`).
    pending: Option<Due>,
    user_id: Option<String>,
    purchase_id: Option<String>,
    ym_client_id: Option<String>,
    client_id_known: bool,
    /// The current call's effects.
    out: String,
}

struct Due {
    issued: bool,
    prev: Option<String>,
    changed: bool,
}

/// The active visitor: present only while the snippet may run and has an ID.
struct Live {
    record: Record,
    /// The built-in template for `<html lang>` when the site set none (`PageView::template`),
    /// chosen at start; not a copy of the site's, which is used from there.
    template: Option<Template>,
}

fn now_ms() -> u64 {
    ports::now() as u64
}

/// Fills `b` from the browser's CSPRNG, 32 bits per call; `None` when there is none. One
/// function for every length (a const-generic one was a copy per length).
fn random(b: &mut [u8]) -> Option<()> {
    // Byte by byte, little-endian from each 32 bits (no `chunks_mut` adapter: smaller).
    let mut word = 0u32;
    for (i, byte) in b.iter_mut().enumerate() {
        if i % 4 == 0 {
            let r = ports::rnd();
            if r < 0.0 {
                return None;
            }
            word = r as u32;
        }
        *byte = (word >> (8 * (i % 4))) as u8;
    }
    Some(())
}

impl PageView {
    /// `prefix` / `template`: the site owner's raw settings, if set. Returns the view and the
    /// letters of the rejected ones (`BAD_*`; the safe default is used instead).
    pub fn new(prefix: Option<&str>, template: Option<&str>) -> (PageView, String) {
        let mut bad = String::new();
        let prefix = prefix.map_or(Prefix::DEFAULT, |v| {
            Prefix::new(v.trim_ascii()).unwrap_or_else(|_| {
                bad.push(BAD_PREFIX);
                Prefix::DEFAULT
            })
        });
        let template =
            template.and_then(|v| Template::custom(v).map_err(|_| bad.push(BAD_TEMPLATE)).ok());
        let prefix_count = if prefix != Prefix::DEFAULT { 2 } else { 1 };
        let view = PageView {
            prefixes: [prefix, Prefix::DEFAULT],
            prefix_count,
            template,
            lifetime_ms: 0,
            live: None,
            pending: None,
            user_id: None,
            purchase_id: None,
            ym_client_id: None,
            client_id_known: false,
            out: String::new(),
        };
        (view, bad)
    }

    /// The current call's effects, handed over (and cleared for the next call).
    pub fn effects(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    fn effect(&mut self, kind: u8, text: &str) {
        self.out.push(kind as char);
        self.out.push_str(text);
        self.out.push('\n');
    }

    pub fn id(&self) -> Option<String> {
        self.live
            .as_ref()
            .map(|l| l.record.chat_id.as_str().to_owned())
    }

    // ---- lifecycle ---------------------------------------------------------------------------

    /// Activation: the visitor's ID for this page view from the stored record (`Stored`) and the
    /// landing URL. The events and the storage write it calls for wait for `settle`, so that the
    /// loader can run the first tagging pass before them. Effect: `i<chat ID>`.
    pub fn start(&mut self, stored: Stored, lifetime_days: u32) {
        if self.live.is_some() {
            return;
        }
        self.lifetime_ms = lifetime_days as u64 * DAY_MS;
        let landing = from_query(&ports::page(PAGE_SEARCH));
        let Some(res) = self.resolve(stored, landing) else {
            return;
        };
        let template = match self.template {
            Some(_) => None,
            None => Some(Template::for_lang(&ports::page(PAGE_LANG))),
        };
        let (record, due) = split(res);
        self.effect(ID, record.chat_id.as_str());
        self.live = Some(Live { record, template });
        self.pending = Some(due);
    }

    /// The rest of an activation (see `start`): the `issue` or `update` event and the record to
    /// store. Nothing when none is pending.
    pub fn settle(&mut self) {
        if let Some(due) = self.pending.take() {
            self.apply(due);
        }
    }

    /// Consent withdrawn: forget the visitor (the loader clears storage and the outbox).
    pub fn forget(&mut self) {
        self.live = None;
        self.pending = None;
    }

    /// bfcache restore: while this page was frozen, another page may have renewed the ID (a new
    /// ad click) or the ID may have expired — take the visitor's current record (`stored`). The
    /// landing URL is not looked at again: it was accounted for when this page first ran.
    pub fn show(&mut self, stored: Stored) {
        if self.live.is_none() {
            return;
        }
        self.settle();
        if let Some(res) = self.resolve(stored, Landing::default()) {
            let (record, due) = split(res);
            if let Some(l) = &mut self.live {
                l.record = record;
            }
            self.apply(due);
        }
        self.report_news();
    }

    fn resolve(&mut self, (local, kept): Stored, landing: Landing) -> Option<Resolution> {
        let mut rnd = [0; RANDOM_BYTES];
        // No CSPRNG in this browser: no ID (the loader says so in debug mode).
        random(&mut rnd)?;
        let cookies;
        let text = match local {
            Some(l) => Some(l),
            None => {
                cookies = ports::cookies();
                cookie_value(&cookies, RECORD).or(kept)
            }
        };
        let stored = text.and_then(Record::decode);
        Some(visitor::resolve(
            stored,
            landing,
            &self.clock(),
            &self.prefixes[0],
            rnd,
        ))
    }

    /// Tells the collector what is new about the live record, and stores it if it changed.
    fn apply(&mut self, due: Due) {
        if due.issued {
            let ids = self.identifiers();
            if let Some(l) = &mut self.live {
                // In place: what an `issue` tells is everything in `ids`.
                l.record.reported = Reported::default();
                l.record.reported.merge(&ids);
            }
            self.event(EventType::Issue, ids, due.prev, None);
            self.save_record();
        } else if !self.report_news() && due.changed {
            self.save_record();
        }
    }

    fn save_record(&mut self) {
        let clock = self.clock();
        let Some(l) = &self.live else { return };
        // Written straight into the effects (`effect` would take a copy).
        let out = &mut self.out;
        out.push(SAVE as char);
        push_u64(out, l.record.keep_for_s(&clock));
        out.push(' ');
        l.record.encode_into(out);
        out.push('\n');
    }

    fn clock(&self) -> Clock {
        Clock {
            now: now_ms(),
            lifetime_ms: self.lifetime_ms,
        }
    }

    // ---- identifiers -------------------------------------------------------------------------

    /// Every identifier known now. Each source is already cleaned by the core (`from_query` for
    /// the landing and the stored record, `clean_*` for cookies, Metrica's answer and the API's
    /// IDs): invalid values are dropped, never truncated, so no second pass (`cleaned`) ships.
    fn identifiers(&mut self) -> Identifiers {
        let cookies = ports::cookies();
        let client_id = client_id_from_cookies(&cookies)
            .or_else(|| ports::foreign("_ym_uid").and_then(|raw| client_id_from_storage(&raw)))
            .or_else(|| self.ym_client_id.clone());
        self.client_id_known = client_id.is_some();
        let landing = self
            .live
            .as_ref()
            .map(|l| l.record.landing.clone())
            .unwrap_or_default();
        Identifiers {
            client_id,
            yclid: landing.yclid,
            user_id: self.user_id.clone(),
            purchase_id: self.purchase_id.clone(),
            gclid: landing.gclid,
            fbclid: landing.fbclid,
            ga_client_id: ga_client_id_from_cookies(&cookies),
            utm: landing.utm,
        }
    }

    /// `chattag.identifiers()`: their JSON is this call's answer, written where effects go (the
    /// call has none).
    pub fn identifiers_json(&mut self) {
        if self.live.is_none() {
            return self.out.push_str("{}");
        }
        let ids = self.identifiers();
        wire::push_identifiers(&mut self.out, &ids);
    }

    /// An `update` event when the page knows something the collector was not told (and the
    /// record, which remembers what it was told). Returns whether there was news. The loader
    /// asks after the start on a schedule (Metrica's tag often sets `_ym_uid` after we ran),
    /// and interactions ask as long as no ClientID is known (`link`).
    pub fn report_news(&mut self) -> bool {
        if self.live.is_none() {
            return false;
        }
        let ids = self.identifiers();
        // What the collector is told is recorded first, so that `ids` can move into the event.
        let news = self
            .live
            .as_mut()
            .is_some_and(|l| l.record.reported.merge(&ids));
        if !news {
            return false;
        }
        self.event(EventType::Update, ids, None, None);
        self.save_record();
        true
    }

    /// `setUserId` / `setPurchaseId`: `None` clears; the loader turns numbers into strings and
    /// anything else into "" (invalid). An invalid value changes nothing (effect `x`).
    pub fn set_user_id(&mut self, v: Option<&str>, purchase: bool) {
        let clean = if purchase {
            clean_purchase_id
        } else {
            clean_user_id
        };
        let value = match v {
            None => None,
            Some(s) => match clean(s) {
                Some(c) => Some(c),
                None => return self.effect(REJECTED, ""),
            },
        };
        if purchase {
            self.purchase_id = value;
        } else {
            self.user_id = value;
        }
        self.report_news();
    }

    /// The ClientID from `ym(counter, 'getClientID', cb)`.
    pub fn client_id(&mut self, raw: &str) {
        if let Some(c) = clean_client_id(raw) {
            self.ym_client_id = Some(c);
            self.report_news();
        }
    }

    // ---- tagging -----------------------------------------------------------------------------

    /// What tagging needs now (`None` while not running). One function rather than a generic
    /// helper per call site: each instantiation inlined its own copy (size).
    #[inline(never)]
    fn pass(&self) -> Option<Pass<'_>> {
        let live = self.live.as_ref()?;
        let href = ports::page(PAGE_HREF);
        let page_url = before_byte(&href, b'#').to_owned();
        Some(Pass {
            chat_id: &live.record.chat_id,
            prefixes: &self.prefixes[..self.prefix_count],
            template: live.template.as_ref().or(self.template.as_ref())?,
            page_url,
            page_title: ports::page(PAGE_TITLE),
        })
    }

    /// One link or URL (its raw `href` and `data-chattag` hint), tagged; not running counts as
    /// not a messenger link. One place that builds and drops a `Pass` for the single-link calls.
    #[inline(never)]
    fn tag(&self, href: &str, hint: Option<&str>) -> Result<Tagged, Skip> {
        self.pass().ok_or(Skip::NotMessenger)?.link(href, hint)
    }

    /// A slice of a tagging pass (see `Pass::hrefs`).
    pub fn tag_hrefs(&self, hrefs: &str) -> Option<String> {
        self.pass()?.hrefs(hrefs)
    }

    /// `chattag.rewrite(url)` (`open` false), or the page's `window.open(url)` / script
    /// navigation to `url` (`open`: reported as a click). Effect: `h<tagged URL>`.
    pub fn rewrite(&mut self, url: &str, open: bool) {
        let Ok(t) = self.tag(url, None) else {
            return;
        };
        self.effect(HREF, &t.href);
        if open {
            self.click(t);
        }
    }

    /// One link the shell holds — a pass's hinted link (`LINK_PASS`), or the link under a
    /// pointer (1) or being used (`LINK_USED`): re-tagged, since a framework may have set its
    /// href late, and a used one reported as a click. Effect `h<href>` when the href changes.
    /// With no link (`href` = `None`) an interaction still looks for a late ClientID.
    pub fn link(&mut self, href: Option<&str>, hint: Option<&str>, what: u32) {
        if self.live.is_none() {
            return;
        }
        if what != LINK_PASS && !self.client_id_known {
            self.report_news();
        }
        let Some(Ok(t)) = href.map(|h| self.tag(h, hint)) else {
            return;
        };
        if t.changed {
            self.effect(HREF, &t.href);
        }
        if what == LINK_USED {
            self.click(t);
        }
    }

    fn click(&mut self, t: Tagged) {
        let ids = self.identifiers();
        self.event(EventType::Click, ids, None, Some(t));
    }

    /// Queues an event (effect `e`, or `c` for a click): `prev` the ID an `issue` replaced,
    /// `used` the link a `click` opened. Nothing without an ID or a CSPRNG.
    fn event(
        &mut self,
        kind: EventType,
        ids: Identifiers,
        prev: Option<String>,
        used: Option<Tagged>,
    ) {
        // Built whatever happens and dropped in one place: an early return per failure dropped
        // every argument in each (size).
        let mut rnd = [0; 11]; // the event ID's random part (`event_id`)
        let ok = self.live.is_some() && random(&mut rnd).is_some();
        let chat_id = self.id().unwrap_or_default();
        let ts = now_ms();
        let mut letter = EVENT;
        let (mut messenger, mut link_kind, mut target) = (None, None, None);
        if let Some(t) = used {
            messenger = Some(t.messenger.as_str().into());
            link_kind = Some(t.kind.as_str().into());
            target = Some(t.href);
            letter = CLICK;
        }
        let ev = Event {
            event_id: event_id(ts, rnd),
            kind,
            chat_id,
            ts,
            page: clean_url(&ports::page(PAGE_HREF)),
            referrer: clean_url(&ports::page(PAGE_REFERRER)),
            ids,
            prev_chat_id: prev,
            messenger,
            link_kind,
            target,
        };
        if ok {
            // Written straight into the effects (`effect` would take a copy).
            self.out.push(letter as char);
            wire::push_event(&mut self.out, &ev);
            self.out.push('\n');
        }
    }

    // ---- debug overlay and QR dialog ------------------------------------------------------

    /// What the core makes of a link now (its raw `href` and `data-chattag` hint), for the
    /// loader's debug overlay and QR dialog (space-separated, so the loader needs no JSON
    /// parse): `t <messenger> <kind>` tagged with the current ID, `u <messenger> <kind>` a
    /// messenger link not tagged (yet), `s <skip>` left alone (the overlay has the English for
    /// each), "" not a messenger link or not running. Changes nothing: the answer is written
    /// where effects go (the call has none).
    pub fn inspect_link(&mut self, href: &str, hint: Option<&str>) {
        let verdict = self.tag(href, hint);
        let out = &mut self.out;
        match verdict {
            Ok(t) => {
                out.push_str(if t.changed { "u " } else { "t " });
                out.push_str(t.messenger.as_str());
                out.push(' ');
                out.push_str(t.kind.as_str());
            }
            Err(Skip::NotMessenger) => {}
            Err(s) => {
                out.push_str("s ");
                out.push_str(s.as_str());
            }
        }
    }
}

fn split(r: Resolution) -> (Record, Due) {
    let due = Due {
        issued: r.issued,
        prev: r.prev.map(|p| p.into_string()),
        changed: r.changed,
    };
    (r.record, due)
}
