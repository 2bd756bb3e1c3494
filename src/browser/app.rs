//! The snippet's state for one page view and everything it does in response to the page: the ID
//! lifecycle, identifiers, tagging passes, events and their delivery. Decisions are delegated to
//! the pure modules (`visitor`, `reported`, `outbox`, `delivery`) and to `chattag_core`.

use chattag_core::event::{clean_url, event_id, Event, EventType};
use chattag_core::identifiers::{
    clean_client_id, clean_purchase_id, clean_user_id, client_id_from_cookies,
    client_id_from_storage, from_query, ga_client_id_from_cookies, Identifiers, Landing,
};
use chattag_core::links::{Hint, Skip, Tagged};
use chattag_core::template::Template;
use chattag_core::url::split_byte;
use chattag_core::{ChatId, Prefix};

use crate::browser::dom::Pass;
use crate::browser::ports::{
    self, PAGE_HREF, PAGE_LANG, PAGE_PROTOCOL, PAGE_REFERRER, PAGE_SEARCH, PAGE_TITLE,
};
use crate::browser::storage::{Store, OUTBOX};
use crate::logic::delivery::{Outcome, Sender, Settled};
use crate::logic::outbox;
use crate::logic::reported::Reported;
use crate::logic::settings::{self, Key, Settings};
use crate::logic::visitor::{self, Clock, Record, Resolution, DAY_MS};
use crate::logic::wire;

pub const TIMER_CLIENT_ID: u32 = 1;
pub const TIMER_RETRY: u32 = 2;
pub const TIMER_CONFIRM: u32 = 3;
/// Page hidden (pagehide / visibilitychange): send everything pending as a beacon.
pub const TIMER_HIDE: u32 = 5;
/// bfcache restore (`pageshow` with `persisted`).
pub const TIMER_SHOW: u32 = 6;
/// The rest of an activation, after the first tagging pass (`App::settle`).
pub const TIMER_SETTLE: u32 = 7;

/// `App::link`: a hinted link of a tagging pass, or a link being used (a click); the shell
/// passes 1 for the link under a pointer (`pointerdown` / `contextmenu`).
pub const LINK_PASS: u32 = 0;
pub const LINK_USED: u32 = 2;

/// When to look for a late ClientID again, in ms after start: Metrica's tag often sets
/// `_ym_uid` after we ran. Interactions check too.
const CLIENT_ID_CHECKS_MS: [u32; 7] = [500, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000];
/// A beaconed click is confirmed by an ordinary send this much later (if the page is still here).
const CONFIRM_AFTER_MS: u32 = 1_500;

pub struct App {
    settings: Settings,
    /// Reading, storing, tagging and sending are allowed (`consent` not required, or granted).
    consent: bool,
    /// `consent(false)` was called (the debug overlay tells it from "waiting for consent").
    denied: bool,
    /// The loader has replayed the page's queued calls; activation may happen.
    started: bool,
    live: Option<Live>,
    /// An activation's events, storage writes and first send, not made yet (`App::settle`).
    pending: Option<Due>,
    /// Created on first use, so that nothing is touched before consent.
    store: Option<Store>,
    user_id: Option<String>,
    purchase_id: Option<String>,
    ym_client_id: Option<String>,
    client_id_known: bool,
    client_id_check: usize,
    sender: Sender,
}

/// What a resolution of the visitor's ID leaves to tell the collector and storage (`App::apply`).
struct Due {
    issued: bool,
    prev: Option<ChatId>,
    changed: bool,
}

/// The active visitor: present only while the snippet may run and has an ID.
struct Live {
    record: Record,
    template: Template,
    prefixes: Vec<Prefix>,
}

fn split(r: Resolution) -> (Record, Due) {
    let due = Due {
        issued: r.issued,
        prev: r.prev,
        changed: r.changed,
    };
    (r.record, due)
}

fn now_ms() -> u64 {
    ports::now() as u64
}

/// `N` bytes from the browser's CSPRNG, 32 bits per call; `None` when there is none.
fn random<const N: usize>() -> Option<[u8; N]> {
    let mut b = [0u8; N];
    for chunk in b.chunks_mut(4) {
        let r = ports::rnd();
        if r < 0.0 {
            return None;
        }
        let bytes = (r as u32).to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    Some(b)
}

impl App {
    pub fn boot() -> App {
        let (settings, warnings) = settings::parse(&mut |k: &Key| ports::setting(k.attr, k.config));
        for w in warnings {
            ports::misconfigured(w);
        }
        App {
            consent: !settings.consent_required,
            denied: false,
            settings,
            started: false,
            live: None,
            pending: None,
            store: None,
            user_id: None,
            purchase_id: None,
            ym_client_id: None,
            client_id_known: false,
            client_id_check: 0,
            sender: Sender::default(),
        }
    }

    pub fn debug(&self) -> bool {
        self.settings.debug
    }

    fn warn(&self, msg: &str, detail: &str) {
        if self.settings.debug {
            ports::warn(msg, detail);
        }
    }

    fn store(&mut self) -> &mut Store {
        self.store
            .get_or_insert_with(|| Store::new(ports::page(PAGE_PROTOCOL) == "https:"))
    }

    // ---- public API ------------------------------------------------------------------------

    pub fn id(&self) -> Option<String> {
        self.live
            .as_ref()
            .map(|l| l.record.chat_id.as_str().to_owned())
    }

    pub fn rewrite(&self, url: String) -> String {
        self.pass(self.settings.debug)
            .and_then(|p| p.url(&url, Hint::Auto).ok())
            .map_or(url, |t| t.href)
    }

    pub fn identifiers_json(&mut self) -> String {
        if self.live.is_none() {
            return "{}".into();
        }
        wire::identifiers_json(&self.identifiers())
    }

    /// `setUserId` / `setPurchaseId`: `None` clears; the loader turns numbers into strings and
    /// anything else into "" (invalid).
    pub fn set_user_id(&mut self, v: Option<String>, purchase: bool) {
        let (clean, name): (fn(&str) -> Option<String>, _) = if purchase {
            (clean_purchase_id, "setPurchaseId")
        } else {
            (clean_user_id, "setUserId")
        };
        let value = match v {
            None => None,
            Some(s) => match clean(&s) {
                Some(c) => Some(c),
                None => {
                    return self.warn(
                        name,
                        "invalid value ignored (1-128 printable characters, no < > \" ' ` \\)",
                    )
                }
            },
        };
        if purchase {
            self.purchase_id = value;
        } else {
            self.user_id = value;
        }
        self.report_news();
        self.flush();
    }

    pub fn consent(&mut self, granted: bool) {
        self.denied = !granted;
        if granted {
            self.consent = true;
            if self.started {
                self.activate();
            }
        } else {
            self.consent = false;
            self.live = None;
            self.pending = None;
            self.sender.reset();
            self.store().clear();
        }
    }

    pub fn start(&mut self) {
        self.started = true;
        self.activate();
    }

    // ---- lifecycle ---------------------------------------------------------------------------

    fn activate(&mut self) {
        if self.live.is_some() || !self.consent {
            return;
        }
        let landing = from_query(&ports::page(PAGE_SEARCH));
        let Some(res) = self.resolve(landing) else {
            return;
        };
        let template = self
            .settings
            .template
            .clone()
            .unwrap_or_else(|| Template::for_lang(&ports::page(PAGE_LANG)));
        let mut prefixes = vec![self.settings.prefix.clone()];
        if self.settings.prefix != Prefix::DEFAULT {
            prefixes.push(Prefix::DEFAULT);
        }
        let (record, due) = split(res);
        self.live = Some(Live {
            record,
            template,
            prefixes,
        });
        self.pending = Some(due);
        // Tagging first: the shell runs this pass as soon as `start` returns, and the rest of
        // the activation (events, storage writes, the first send: most of its time, storage and
        // cookies being synchronous IPC in browsers) in a task after it. Any other call that
        // needs it runs it first (`settle`).
        ports::pass();
        ports::later(0, TIMER_SETTLE);
    }

    /// The rest of an activation (see `activate`); nothing when none is pending.
    pub fn settle(&mut self) {
        let Some(due) = self.pending.take() else {
            return;
        };
        self.apply(due);
        let Some(l) = &self.live else { return };
        let chat_id = l.record.chat_id.as_str().to_owned();
        self.client_id_check = 0;
        ports::later(CLIENT_ID_CHECKS_MS[0], TIMER_CLIENT_ID);
        if let Some(c) = &self.settings.counter {
            ports::ym(c);
        }
        self.flush();
        ports::ready(&chat_id);
    }

    /// The visitor's ID for this page view, from storage and the landing URL.
    fn resolve(&mut self, landing: Landing) -> Option<Resolution> {
        let Some(rnd) = random() else {
            self.warn("no CSPRNG in this browser", "");
            return None;
        };
        let stored = self.store().record().and_then(|s| Record::decode(&s));
        let clock = self.clock();
        Some(visitor::resolve(
            stored,
            landing,
            &clock,
            &self.settings.prefix,
            rnd,
        ))
    }

    /// Tells the collector what is new about the live record, and stores it if it changed.
    fn apply(&mut self, res: Due) {
        if res.issued {
            let ids = self.identifiers();
            if let Some(mut ev) = self.event(EventType::Issue, ids.clone()) {
                ev.prev_chat_id = res.prev.map(|p| p.into_string());
                self.enqueue(ev);
            }
            if let Some(l) = &mut self.live {
                l.record.reported = Reported::of(&ids);
            }
            self.save_record();
        } else if !self.report_news() && res.changed {
            self.save_record();
        }
    }

    fn save_record(&mut self) {
        let clock = self.clock();
        let Some(l) = &self.live else { return };
        let (text, max_age_s) = (l.record.encode(), l.record.keep_for_s(&clock));
        self.store().set_record(&text, max_age_s);
    }

    fn clock(&self) -> Clock {
        Clock {
            now: now_ms(),
            lifetime_ms: self.settings.lifetime_days as u64 * DAY_MS,
        }
    }

    /// Every identifier known now, cleaned (invalid values dropped, never truncated).
    fn identifiers(&mut self) -> Identifiers {
        let ym = self.ym_client_id.clone();
        let (user_id, purchase_id) = (self.user_id.clone(), self.purchase_id.clone());
        let cookies = ports::cookies();
        let client_id = client_id_from_cookies(&cookies)
            .or_else(|| ports::foreign("_ym_uid").and_then(|raw| client_id_from_storage(&raw)))
            .or(ym);
        let ga_client_id = ga_client_id_from_cookies(&cookies);
        self.client_id_known = client_id.is_some();
        let landing = self
            .live
            .as_ref()
            .map(|l| l.record.landing.clone())
            .unwrap_or_default();
        Identifiers {
            client_id,
            yclid: landing.yclid,
            user_id,
            purchase_id,
            gclid: landing.gclid,
            fbclid: landing.fbclid,
            ga_client_id,
            utm: landing.utm,
        }
        .cleaned()
    }

    /// Sends an `update` when the page knows something the collector was not told. Returns
    /// whether it did (and saved the record).
    fn report_news(&mut self) -> bool {
        if self.live.is_none() {
            return false;
        }
        let ids = self.identifiers();
        let news = self
            .live
            .as_ref()
            .is_some_and(|l| l.record.reported.has_news(&ids));
        if !news {
            return false;
        }
        if let Some(ev) = self.event(EventType::Update, ids.clone()) {
            self.enqueue(ev);
        }
        if let Some(l) = &mut self.live {
            l.record.reported.merge(&ids);
        }
        self.save_record();
        true
    }

    // ---- tagging -----------------------------------------------------------------------------

    /// What tagging needs now (`None` while not running); `log`: each skipped messenger link's
    /// reason goes to the console (debug mode). One function rather than a generic helper per
    /// call site: each instantiation inlined its own copy (size).
    #[inline(never)]
    fn pass(&self, log: bool) -> Option<Pass<'_>> {
        let live = self.live.as_ref()?;
        let href = ports::page(PAGE_HREF);
        let page_url = split_byte(&href, b'#').next().unwrap_or("").to_owned();
        Some(Pass {
            chat_id: &live.record.chat_id,
            prefixes: &live.prefixes,
            template: &live.template,
            page_url,
            page_title: ports::page(PAGE_TITLE),
            log,
        })
    }

    /// A slice of a tagging pass (see `Pass::hrefs`).
    pub fn tag_hrefs(&self, hrefs: &str) -> Option<String> {
        self.pass(self.settings.debug)?.hrefs(hrefs)
    }

    /// One link the shell holds — a pass's hinted link (`LINK_PASS`), or the link under a
    /// pointer (1) or being used (`LINK_USED`): re-tagged, since a framework may
    /// have set its href late, and a used one reported as a click. Returns the href to write,
    /// if it changes. With no link (`href` = `None`) an interaction still looks for a late
    /// ClientID. Never blocks anything.
    pub fn link(
        &mut self,
        href: Option<String>,
        hint: Option<String>,
        what: u32,
    ) -> Option<String> {
        self.live.as_ref()?;
        if what != LINK_PASS && !self.client_id_known && self.report_news() {
            self.flush();
        }
        let t = self
            .pass(self.settings.debug)?
            .link(&href?, hint.as_deref())
            .ok()?;
        let out = t.changed.then(|| t.href.clone());
        if what == LINK_USED {
            self.click(t);
        }
        out
    }

    /// `window.open(url)` from the page: the tagged URL to open instead (and a click event).
    pub fn open(&mut self, url: String) -> String {
        match self
            .pass(self.settings.debug)
            .and_then(|p| p.url(&url, Hint::Auto).ok())
        {
            Some(t) => {
                let href = t.href.clone();
                self.click(t);
                href
            }
            None => url,
        }
    }

    /// bfcache restore: while this page was frozen, another page may have renewed the ID (a new
    /// ad click) or the ID may have expired — take the visitor's current record, then re-tag.
    /// The landing URL is not looked at again: it was accounted for when this page first ran.
    pub fn show(&mut self) {
        if self.live.is_none() {
            return;
        }
        self.settle();
        if let Some(res) = self.resolve(Landing::default()) {
            let (record, due) = split(res);
            if let Some(l) = &mut self.live {
                l.record = record;
            }
            self.apply(due);
        }
        ports::pass();
        self.report_news();
        self.flush();
    }

    // ---- debug overlay and QR dialog ------------------------------------------------------

    /// What the core makes of a link now (its raw `href` and `data-chattag` hint), for the
    /// loader's debug overlay and QR dialog (space-separated, so the loader needs no JSON
    /// parse): `t <messenger> <kind>` tagged with the current ID, `u <messenger> <kind>` a
    /// messenger link not tagged (yet), `s <skip> <reason>` left alone, "" not a messenger link
    /// or not running. Never logs, never writes.
    pub fn inspect_link(&self, href: &str, hint: Option<&str>) -> String {
        let Some(p) = self.pass(false) else {
            return String::new();
        };
        let words = match p.link(href, hint) {
            Ok(t) => [
                if t.changed { "u" } else { "t" },
                t.messenger.as_str(),
                t.kind.as_str(),
            ],
            Err(Skip::NotMessenger) => return String::new(),
            Err(s) => ["s", s.as_str(), s.reason()],
        };
        let mut out = String::new();
        for w in words {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(w);
        }
        out
    }

    /// `<consent> <endpoint>` for the debug overlay: `granted` / `required` (waiting for
    /// `consent(true)`) / `denied`; the endpoint (never containing a space) or nothing.
    pub fn inspect_state(&self) -> String {
        let consent = if self.consent {
            "granted"
        } else if self.denied {
            "denied"
        } else {
            "required"
        };
        let mut out = String::from(consent);
        out.push(' ');
        out.push_str(self.settings.endpoint.as_deref().unwrap_or(""));
        out
    }

    // ---- events and delivery -------------------------------------------------------------

    fn event(&mut self, kind: EventType, ids: Identifiers) -> Option<Event> {
        let chat_id = self.live.as_ref()?.record.chat_id.as_str().to_owned();
        let rnd = random()?;
        let ts = now_ms();
        Some(Event {
            event_id: event_id(ts, rnd),
            kind,
            chat_id,
            ts,
            page: clean_url(&ports::page(PAGE_HREF)),
            referrer: clean_url(&ports::page(PAGE_REFERRER)),
            ids,
            ..Event::default()
        })
    }

    fn outbox(&mut self) -> Vec<String> {
        ports::get(OUTBOX)
            .map(|s| outbox::parse(&s))
            .unwrap_or_default()
    }

    fn save_outbox(&mut self, lines: &[String]) {
        if lines.is_empty() {
            ports::remove(OUTBOX);
        } else {
            ports::set(OUTBOX, &outbox::serialize(lines));
        }
    }

    /// Puts an event in the outbox (persisted). Nothing is kept without an endpoint.
    ///
    /// Events are valid by construction — identifiers `cleaned()`, page and referrer through
    /// `clean_url`, the chat ID and event ID from the core — so `Event::validate` (the
    /// collector's check) is not linked in here; the browser tests check the wire format.
    fn enqueue(&mut self, ev: Event) -> bool {
        if self.settings.endpoint.is_none() {
            return false;
        }
        let mut lines = self.outbox();
        outbox::push(&mut lines, wire::event_json(&ev));
        self.save_outbox(&lines);
        true
    }

    fn click(&mut self, t: Tagged) {
        let ids = self.identifiers();
        let Some(mut ev) = self.event(EventType::Click, ids) else {
            return;
        };
        ev.messenger = Some(t.messenger.as_str().into());
        ev.link_kind = Some(t.kind.as_str().into());
        ev.target = Some(t.href);
        if self.enqueue(ev) {
            // The page may be navigating away: a beacon gets the click out now; the event stays
            // in the outbox until an ordinary send is confirmed.
            self.beacon();
            ports::later(CONFIRM_AFTER_MS, TIMER_CONFIRM);
        }
    }

    /// Page hidden or a messenger click: everything pending, fire-and-forget.
    pub fn beacon(&mut self) {
        let Some(endpoint) = self.settings.endpoint.clone() else {
            return;
        };
        if !self.consent {
            return;
        }
        let b = outbox::batch(&self.outbox());
        if b.ids.is_empty() {
            return;
        }
        if !ports::beacon(&endpoint, &b.body) {
            self.warn("sendBeacon refused the batch; it stays in the outbox", "");
        }
    }

    fn flush(&mut self) {
        if !self.sender.idle() || !self.consent {
            return;
        }
        let Some(endpoint) = self.settings.endpoint.clone() else {
            return;
        };
        let mut lines = self.outbox();
        let b = outbox::batch(&lines);
        if !b.oversized.is_empty() {
            outbox::remove(&mut lines, &b.oversized);
            self.save_outbox(&lines);
        }
        if b.ids.is_empty() {
            return;
        }
        if let Some(token) = self.sender.start(b.ids) {
            ports::post(&endpoint, &b.body, token);
        }
    }

    /// Returns what became of the batch, for the debug overlay: `None` for a stale answer.
    pub fn settled(&mut self, token: u32, status: u16) -> Option<Outcome> {
        let jitter = random::<1>().map_or(128, |b| b[0]);
        match self.sender.settle(token, status, jitter)? {
            Settled::Remove(result, ids) => {
                if result == Outcome::Refused {
                    self.warn(
                        "the collector refused a batch (4xx); dropped",
                        &self.settings.endpoint.clone().unwrap_or_default(),
                    );
                }
                let mut lines = self.outbox();
                outbox::remove(&mut lines, &ids);
                self.save_outbox(&lines);
                self.flush();
                Some(result)
            }
            Settled::RetryIn(ms) => {
                ports::later(ms, TIMER_RETRY);
                Some(Outcome::Retry)
            }
        }
    }

    pub fn timer(&mut self, what: u32) {
        match what {
            TIMER_RETRY => {
                self.sender.retry_due();
                self.flush();
            }
            TIMER_CONFIRM => self.flush(),
            TIMER_HIDE => self.beacon(),
            TIMER_SHOW => self.show(),
            TIMER_SETTLE => self.settle(),
            TIMER_CLIENT_ID if self.live.is_some() => {
                if self.report_news() {
                    self.flush();
                }
                if let (Some(c), None) = (&self.settings.counter, &self.ym_client_id) {
                    ports::ym(c);
                }
                self.client_id_check += 1;
                if let (Some(next), Some(prev)) = (
                    CLIENT_ID_CHECKS_MS.get(self.client_id_check),
                    CLIENT_ID_CHECKS_MS.get(self.client_id_check - 1),
                ) {
                    ports::later(next - prev, TIMER_CLIENT_ID);
                }
            }
            _ => {}
        }
    }

    /// The ClientID from `ym(counter, 'getClientID', cb)`.
    pub fn client_id(&mut self, raw: &str) {
        if let Some(c) = clean_client_id(raw) {
            self.ym_client_id = Some(c);
            if self.report_news() {
                self.flush();
            }
        }
    }
}
