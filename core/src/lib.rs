//! chattag's functional core: every rule about chat IDs, visitor identifiers, messenger links
//! and message templates, with no browser or server dependency. The snippet (wasm) and the
//! collector (native) both link this crate, so each rule has exactly one definition.
//!
//! Size matters: this code ships inside a ≤10 KB snippet. Avoid `core::fmt` (`format!`,
//! `to_string`, derived `Debug`) on paths the snippet calls; `Display` impls that only the
//! collector uses are fine (dead code is stripped from the wasm). The `#[inline(always)]` and
//! `#[inline(never)]` marks on small helpers are measured choices (each one's effect on the
//! snippet's gzip size is in the commit that set it): change one only with numbers from
//! `node scripts/build.mjs`.

pub mod alphabet;
pub mod chat_id;
pub mod event;
pub mod find;
pub mod identifiers;
pub mod links;
pub mod template;
pub mod url;

pub use chat_id::{ChatId, ChatIdError, Prefix, PrefixError};
pub use event::{event_id, Event, EventError, EventType};
pub use find::{find_chat_id, search_chat_id, Found};
pub use identifiers::{Field, IdentifierError, Identifiers, Landing, Utm};
pub use links::{
    account_of_link, classify, split_start_param, tag, Classified, Hint, LinkKind, Messenger, Skip,
    StartParam, TagInput, Tagged,
};
pub use template::{Template, TemplateError};
