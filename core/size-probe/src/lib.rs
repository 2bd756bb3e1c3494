//! Exports the core functions the snippet calls, reading input from linear memory, so that the
//! linker keeps exactly the code the snippet would pull in. Never run: only measured.

/// Where the (never executed) caller would place input; an address, so nothing is folded away.
const IO: *mut u8 = 1024 as *mut u8;

fn input(len: usize) -> &'static str {
    // SAFETY: this probe is only compiled and measured, never instantiated.
    core::str::from_utf8(unsafe { core::slice::from_raw_parts(IO, len) }).unwrap_or("")
}

fn output(s: &str) -> usize {
    // SAFETY: as above.
    unsafe { core::ptr::copy_nonoverlapping(s.as_ptr(), IO.add(65536), s.len()) };
    s.len()
}

/// Baseline: allocation and UTF-8 only, present in any Rust snippet.
#[no_mangle]
pub extern "C" fn base(len: usize) -> usize {
    let mut v = String::from(input(len)).into_bytes();
    v.push(1);
    output(&String::from_utf8(v).unwrap_or_default())
}

#[cfg(feature = "tag")]
#[no_mangle]
pub extern "C" fn tag_link(len: usize, seed: u32) -> usize {
    use chattag_core::{tag, ChatId, Hint, Prefix, TagInput, Template};
    let id = ChatId::generate(&Prefix::DEFAULT, [seed as u8, (seed >> 8) as u8, 3, 4, 5]);
    let template = Template::for_lang(input(2));
    let prefixes = [Prefix::DEFAULT];
    let hint = Hint::parse(input(3));
    match tag(input(len), &TagInput { chat_id: &id, prefixes: &prefixes, template: &template, page_url: "", page_title: "", hint }) {
        Ok(t) => output(&t.href) + t.kind.as_str().len(),
        Err(skip) => output(skip.as_str()),
    }
}

#[cfg(feature = "ids")]
#[no_mangle]
pub extern "C" fn identifiers(len: usize) -> usize {
    use chattag_core::identifiers::{client_id_from_cookies, client_id_from_storage, from_query, ga_client_id_from_cookies};
    use chattag_core::{ChatId, Identifiers, Prefix, Template};
    let s = input(len);
    let landing = from_query(s);
    let ids = Identifiers {
        client_id: client_id_from_cookies(s).or_else(|| client_id_from_storage(s)),
        yclid: landing.yclid,
        gclid: landing.gclid,
        fbclid: landing.fbclid,
        utm: landing.utm,
        ga_client_id: ga_client_id_from_cookies(s),
        user_id: Some(s.into()),
        purchase_id: None,
    }
    .cleaned();
    let id = ChatId::generate(&Prefix::DEFAULT, [1, 2, 3, 4, 5]);
    output(ids.client_id.as_deref().unwrap_or(""))
        + output(&chattag_core::event_id(len as u64, [len as u8; 11]))
        + Template::custom(s).map_or(0, |t| output(&t.render("", &id, "", "")))
        + chattag_core::event::clean_url(s).map_or(0, |u| u.len())
        + ChatId::parse(s).map_or(0, |_| 1)
}
