//! A panic inside the snippet aborts its wasm instance, so no input may make the core panic.
//! Arbitrary and link-shaped strings go through every entry point the snippet and collector use.

use chattag_core::identifiers::*;
use chattag_core::{
    classify, find_chat_id, split_start_param, tag, ChatId, Hint, Prefix, TagInput, Template,
};
use proptest::prelude::*;

fn linkish() -> impl Strategy<Value = String> {
    let head = prop::sample::select(vec![
        "https://wa.me/",
        "https://api.whatsapp.com/send",
        "whatsapp://send",
        "https://t.me/",
        "tg://resolve",
        "tg:resolve",
        "viber://pa",
        "viber://chat",
        "https://max.ru/",
        "HTTPS://WWW.T.ME/",
        "https://",
        "tg:",
        "",
    ]);
    let tail = "([a-zA-Z0-9_/?&=#%+.:@\\\\-]|[ЖжСТ€😀\u{202e}\u{0}]|%[0-9A-Fa-f]{0,2}|CT[0-9A-Z]{8}){0,40}";
    (head, tail).prop_map(|(h, t)| [h, t.as_str()].concat())
}

/// Links that are taggable, with arbitrary bytes in the parameter we edit and around it.
fn taggable_with_noise() -> impl Strategy<Value = String> {
    let base = prop::sample::select(vec![
        "https://wa.me/79991234567?text=",
        "https://api.whatsapp.com/send?phone=7999&text=",
        "https://t.me/shop_bot?start=",
        "https://t.me/manager?text=",
        "tg://resolve?domain=shop_bot&start=",
        "viber://pa?chatURI=s&context=",
        "viber://chat?number=7&text=",
        "https://max.ru/shop_bot?start=",
    ]);
    let noise = "([a-zA-Z0-9_/?&=#%+.:@ -]|[ЖжСТ€😀\u{202e}\u{0}]|%[0-9A-Fa-f]{0,2}|CT[0-9A-Z]{8}|_CT[0-9A-Z]{8}){0,30}";
    (base, noise).prop_map(|(b, n)| [b, n.as_str()].concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn entry_points_never_panic(s in prop_oneof![linkish(), taggable_with_noise(), taggable_with_noise(), "\\PC{0,60}", ".{0,60}"], hint in prop::sample::select(vec!["", "bot", "personal", "off"])) {
        let id = ChatId::generate(&Prefix::DEFAULT, [3, 1, 4, 1, 5]);
        let template = Template::for_lang("ru");
        let prefixes = [Prefix::DEFAULT];
        let input = TagInput { chat_id: &id, prefixes: &prefixes, template: &template, page_url: &s, page_title: &s, hint: Hint::parse(hint) };
        let _ = classify(&s, Hint::parse(hint));
        if let Ok(t) = tag(&s, &input) {
            // A tagged link carries the current ID, and tagging it again changes nothing.
            prop_assert!(t.href.contains(id.as_str()));
            let again = tag(&t.href, &input).unwrap();
            prop_assert_eq!(&again.href, &t.href);
        }
        let _ = split_start_param(&s);
        let _ = find_chat_id(&s, &prefixes);
        let _ = ChatId::parse(&s);
        let _ = Template::custom(&s).map(|t| t.render(&s, &id, &s, &s));
        let _ = Template::for_lang(&s);
        let _ = from_query(&s);
        let _ = cookie_value(&s, "_ym_uid");
        let _ = client_id_from_storage(&s);
        let _ = ga_client_id_from_cookies(&s);
        let _ = chattag_core::event::clean_url(&s);
        let _ = chattag_core::url::decode(&s, true);
        for clean in [clean_client_id, clean_yclid, clean_gclid, clean_fbclid, clean_ga_client_id, clean_user_id, clean_purchase_id, clean_utm_value] {
            let _ = clean(&s);
        }
    }
}
