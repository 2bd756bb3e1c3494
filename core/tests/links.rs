//! Every link form of messenger-links.md: the tagged ones (exact expected output) and the ones
//! that must stay untouched, plus idempotency (including links tagged with an older ID).

use chattag_core::{
    classify, split_start_param, tag, ChatId, Hint, LinkKind, Messenger, Prefix, Skip, StartParam,
    TagInput, Tagged, Template,
};
use proptest::prelude::*;

fn id() -> ChatId {
    ChatId::generate(&Prefix::DEFAULT, [0x12, 0x34, 0x56, 0x78, 0x9a])
}

fn old_id() -> ChatId {
    ChatId::generate(&Prefix::DEFAULT, [0xfe, 0xdc, 0xba, 0x98, 0x76])
}

fn other_prefix_id() -> ChatId {
    ChatId::generate(&Prefix::new("OLD").unwrap(), [1, 2, 3, 4, 5])
}

const PAGE: &str = "https://shop.example/p/1";

fn run(href: &str, id: &ChatId, template: &Template, hint: Hint) -> Result<Tagged, Skip> {
    let prefixes = [Prefix::DEFAULT, Prefix::new("OLD").unwrap()];
    tag(
        href,
        &TagInput {
            chat_id: id,
            prefixes: &prefixes,
            template,
            page_url: PAGE,
            page_title: "Shop",
            hint,
        },
    )
}

fn tag_en(href: &str, hint: Hint) -> Result<Tagged, Skip> {
    run(href, &id(), &Template::for_lang("en"), hint)
}

/// `{ID}` in an expected link stands for the current ID; `{TAG}` for the encoded English tag.
fn expand(s: &str) -> String {
    s.replace("{TAG}", "Request%20number%3A%20{ID}")
        .replace("{ID}", id().as_str())
}

const NL2: &str = "%0A%0A";

#[test]
fn tagged_forms() {
    use LinkKind::*;
    let cases: &[(&str, Hint, LinkKind, &str)] = &[
        // WhatsApp: four forms; `text` gets the tag, everything else byte-identical.
        ("https://wa.me/79991234567", Hint::Auto, WhatsApp, "https://wa.me/79991234567?text={TAG}"),
        ("https://wa.me/79991234567/", Hint::Auto, WhatsApp, "https://wa.me/79991234567/?text={TAG}"),
        ("https://wa.me/79991234567?text=Hi%20there", Hint::Auto, WhatsApp, "https://wa.me/79991234567?text=Hi%20there%0A%0A{TAG}"),
        ("https://wa.me/79991234567?text=Hi+there", Hint::Auto, WhatsApp, "https://wa.me/79991234567?text=Hi+there%0A%0A{TAG}"),
        ("https://wa.me/79991234567?text=", Hint::Auto, WhatsApp, "https://wa.me/79991234567?text={TAG}"),
        ("https://wa.me/79991234567?text=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82#top", Hint::Auto, WhatsApp,
            "https://wa.me/79991234567?text=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82%0A%0A{TAG}#top"),
        ("HTTP://WWW.WA.ME/79991234567", Hint::Auto, WhatsApp, "HTTP://WWW.WA.ME/79991234567?text={TAG}"),
        ("https://api.whatsapp.com/send?phone=79991234567&text=Hi&type=phone_number&app_absent=0", Hint::Auto, WhatsApp,
            "https://api.whatsapp.com/send?phone=79991234567&text=Hi%0A%0A{TAG}&type=phone_number&app_absent=0"),
        ("https://api.whatsapp.com/send/?phone=79991234567&type=phone_number&app_absent=0", Hint::Auto, WhatsApp,
            "https://api.whatsapp.com/send/?phone=79991234567&type=phone_number&app_absent=0&text={TAG}"),
        ("whatsapp://send?phone=79991234567", Hint::Auto, WhatsApp, "whatsapp://send?phone=79991234567&text={TAG}"),
        ("https://web.whatsapp.com/send?phone=79991234567&text=%F0%9F%91%8B", Hint::Auto, WhatsApp,
            "https://web.whatsapp.com/send?phone=79991234567&text=%F0%9F%91%8B%0A%0A{TAG}"),
        ("https://www.whatsapp.com/send?phone=79991234567", Hint::Auto, WhatsApp, "https://www.whatsapp.com/send?phone=79991234567&text={TAG}"),
        // Telegram bots: `start`; an existing site value is kept as `<site>_<ID>`.
        ("https://t.me/shop_bot", Hint::Auto, TelegramBot, "https://t.me/shop_bot?start={ID}"),
        ("https://t.me/ShopBot?start=", Hint::Auto, TelegramBot, "https://t.me/ShopBot?start={ID}"),
        ("https://t.me/shop_bot?start=promo-7", Hint::Auto, TelegramBot, "https://t.me/shop_bot?start=promo-7_{ID}"),
        ("https://telegram.me/shop_bot?start=a&x=1", Hint::Auto, TelegramBot, "https://telegram.me/shop_bot?start=a_{ID}&x=1"),
        ("https://telegram.dog/shop_bot", Hint::Auto, TelegramBot, "https://telegram.dog/shop_bot?start={ID}"),
        ("https://t.me/support?start=landing", Hint::Auto, TelegramBot, "https://t.me/support?start=landing_{ID}"),
        ("https://t.me/support", Hint::Bot, TelegramBot, "https://t.me/support?start={ID}"),
        ("tg://resolve?domain=shop_bot", Hint::Auto, TelegramBot, "tg://resolve?domain=shop_bot&start={ID}"),
        ("tg:resolve?domain=shop_bot&start=x", Hint::Auto, TelegramBot, "tg:resolve?domain=shop_bot&start=x_{ID}"),
        // Telegram people: `text` draft.
        ("https://t.me/manager", Hint::Auto, TelegramPersonal, "https://t.me/manager?text={TAG}"),
        ("https://t.me/manager?text=Hello", Hint::Auto, TelegramPersonal, "https://t.me/manager?text=Hello%0A%0A{TAG}"),
        ("https://t.me/support_bot", Hint::Personal, TelegramPersonal, "https://t.me/support_bot?text={TAG}"),
        ("https://t.me/+79991234567", Hint::Auto, TelegramPersonal, "https://t.me/+79991234567?text={TAG}"),
        ("tg://resolve?domain=manager", Hint::Auto, TelegramPersonal, "tg://resolve?domain=manager&text={TAG}"),
        ("tg://resolve?phone=79991234567", Hint::Auto, TelegramPersonal, "tg://resolve?phone=79991234567&text={TAG}"),
        // Viber.
        ("viber://pa?chatURI=shop", Hint::Auto, ViberBot, "viber://pa?chatURI=shop&context={ID}"),
        ("viber://pa?chatURI=shop&context=abc&text=Hi", Hint::Auto, ViberBot, "viber://pa?chatURI=shop&context=abc_{ID}&text=Hi"),
        ("viber://chat?number=%2B79991234567", Hint::Auto, ViberPersonal, "viber://chat?number=%2B79991234567&text={TAG}"),
        // MAX bots.
        ("https://max.ru/shop_bot", Hint::Auto, MaxBot, "https://max.ru/shop_bot?start={ID}"),
        ("https://max.ru/shop_bot?start=x", Hint::Auto, MaxBot, "https://max.ru/shop_bot?start=x_{ID}"),
        ("https://max.ru/id7700_shop", Hint::Bot, MaxBot, "https://max.ru/id7700_shop?start={ID}"),
    ];
    for &(input, hint, kind, expected) in cases {
        let got = tag_en(input, hint).unwrap_or_else(|skip| panic!("{input}: skipped as {skip:?}"));
        assert_eq!(got.href, expand(expected), "{input}");
        assert_eq!(got.kind, kind, "{input}");
        assert_eq!(got.messenger, kind.messenger(), "{input}");
        assert!(got.changed, "{input}");
        assert_eq!(classify(input, hint).map(|c| c.kind), Ok(kind), "{input}");
    }
    assert!(NL2.len() == 6);
}

#[test]
fn untouched_forms() {
    use Skip::*;
    let cases: &[(&str, Hint, Skip)] = &[
        ("https://wa.me/?text=Look", Hint::Auto, Share),
        ("https://wa.me/", Hint::Auto, Share),
        ("https://api.whatsapp.com/send?text=Look", Hint::Auto, Share),
        (
            "https://api.whatsapp.com/send?phone=&text=Look",
            Hint::Auto,
            Share,
        ),
        ("whatsapp://send?text=Look", Hint::Auto, Share),
        ("https://wa.me/message/ABCDEF123", Hint::Auto, FixedText),
        ("https://wa.me/qr/ABCDEF123", Hint::Auto, FixedText),
        ("https://wa.me/c/79991234567", Hint::Auto, Catalogue),
        ("https://wa.me/shop", Hint::Auto, Malformed),
        (
            "https://t.me/share/url?url=https%3A%2F%2Fshop.example",
            Hint::Auto,
            Share,
        ),
        ("https://t.me/share?url=x", Hint::Auto, Share),
        ("tg://msg_url?url=x", Hint::Auto, Share),
        ("https://t.me/+AbCdEf123", Hint::Auto, NotAChat),
        ("https://t.me/joinchat/AbCdEf123", Hint::Auto, NotAChat),
        ("https://t.me/shopnews/123", Hint::Auto, NotAChat),
        ("https://t.me/addstickers/Cats", Hint::Auto, NotAChat),
        ("https://t.me/m/AbCdEf", Hint::Auto, NotAChat),
        ("https://t.me/shop_bot?startapp=x", Hint::Auto, MiniApp),
        ("https://t.me/shop_bot/app", Hint::Auto, MiniApp),
        ("https://t.me/shop_bot/app?startapp=1", Hint::Auto, MiniApp),
        ("https://t.me/shop_bot?startgroup=1", Hint::Auto, NotAChat),
        ("https://t.me/", Hint::Auto, NotAChat),
        ("https://shop.t.me/", Hint::Auto, NotAChat),
        ("https://t.me/ab", Hint::Auto, Malformed),
        (
            "tg://resolve?domain=shop_bot&appname=app",
            Hint::Auto,
            MiniApp,
        ),
        ("tg://resolve?domain=news&post=5", Hint::Auto, NotAChat),
        ("tg://resolve", Hint::Auto, NoRecipient),
        ("tg://join?invite=abc", Hint::Auto, NotAChat),
        ("viber://forward?text=Look", Hint::Auto, Share),
        ("viber://pa?context=x", Hint::Auto, NoRecipient),
        ("viber://chat", Hint::Auto, NoRecipient),
        ("viber://add?number=1", Hint::Auto, NotAChat),
        ("https://max.ru/:share?text=Look", Hint::Auto, Share),
        ("https://max.ru/shop_bot?startapp=1", Hint::Auto, MiniApp),
        ("https://max.ru/news", Hint::Auto, NotAChat),
        ("https://max.ru/u/abc", Hint::Auto, NotAChat),
        ("https://max.ru/shop_bot", Hint::Personal, NotAChat),
        // Never ours.
        (
            "https://wa.me.example.com/79991234567",
            Hint::Auto,
            NotMessenger,
        ),
        (
            "https://example.com/?u=https://wa.me/1",
            Hint::Auto,
            NotMessenger,
        ),
        ("https://example.com/wa.me/1", Hint::Auto, NotMessenger),
        (
            "https://evil.example\\@wa.me/79991234567",
            Hint::Auto,
            NotMessenger,
        ),
        (
            "https://wa.me@evil.example/79991234567",
            Hint::Auto,
            NotMessenger,
        ),
        (
            "https://t.me.evil.example/shop_bot",
            Hint::Auto,
            NotMessenger,
        ),
        ("https://nott.me/shop_bot", Hint::Auto, NotMessenger),
        (
            "javascript:location='https://wa.me/1'",
            Hint::Auto,
            NotMessenger,
        ),
        ("data:text/html,https://wa.me/1", Hint::Auto, NotMessenger),
        ("mailto:shop@example.com", Hint::Auto, NotMessenger),
        ("tel:+79991234567", Hint::Auto, NotMessenger),
        ("/contact", Hint::Auto, NotMessenger),
        ("wa.me/79991234567", Hint::Auto, NotMessenger),
        ("#chat", Hint::Auto, NotMessenger),
        ("", Hint::Auto, NotMessenger),
        ("https://shop.example/", Hint::Auto, NotMessenger),
        // The site said no.
        ("https://wa.me/79991234567", Hint::Off, Disabled),
    ];
    for &(input, hint, skip) in cases {
        assert_eq!(tag_en(input, hint), Err(skip), "{input}");
        assert_eq!(classify(input, hint), Err(skip), "{input}");
    }
}

#[test]
fn skip_names_and_hints() {
    assert_eq!(Skip::Share.as_str(), "share");
    assert_eq!(Skip::NotMessenger.as_str(), "not_messenger");
    assert_eq!(Hint::parse(" OFF "), Hint::Off);
    assert_eq!(Hint::parse("bot"), Hint::Bot);
    assert_eq!(Hint::parse("Personal"), Hint::Personal);
    assert_eq!(Hint::parse("of"), Hint::Auto);
    assert_eq!(Hint::parse(""), Hint::Auto);
    for kind in [
        LinkKind::WhatsApp,
        LinkKind::TelegramBot,
        LinkKind::TelegramPersonal,
        LinkKind::ViberBot,
        LinkKind::ViberPersonal,
        LinkKind::MaxBot,
    ] {
        assert_eq!(LinkKind::from_name(kind.as_str()), Some(kind));
        assert_eq!(
            Messenger::from_name(kind.messenger().as_str()),
            Some(kind.messenger())
        );
    }
    assert_eq!(LinkKind::from_name("telegram"), None);
}

#[test]
fn localised_and_custom_text() {
    let ru = run(
        "https://wa.me/79991234567?text=Здравствуйте",
        &id(),
        &Template::for_lang("ru"),
        Hint::Auto,
    )
    .unwrap();
    // Unencoded site text is kept as written; our part is encoded.
    let expected = ["https://wa.me/79991234567?text=Здравствуйте", NL2,
        "%D0%9D%D0%BE%D0%BC%D0%B5%D1%80%20%D0%BE%D0%B1%D1%80%D0%B0%D1%89%D0%B5%D0%BD%D0%B8%D1%8F%3A%20", id().as_str()].concat();
    assert_eq!(ru.href, expected);
    let custom = Template::custom("[ref:{id}] {title}: {text}").unwrap();
    let t = run(
        "https://wa.me/79991234567?text=Hi",
        &id(),
        &custom,
        Hint::Auto,
    )
    .unwrap();
    assert_eq!(
        t.href,
        expand("https://wa.me/79991234567?text=%5Bref%3A{ID}%5D%20Shop%3A%20Hi")
    );
    let again = run(&t.href, &id(), &custom, Hint::Auto).unwrap();
    assert_eq!(again.href, t.href);
    assert!(!again.changed);
}

#[test]
fn retagging_replaces_older_ids() {
    let en = Template::for_lang("en");
    let old = old_id();
    let cases = [
        "https://wa.me/79991234567?text=Hi",
        "https://wa.me/79991234567",
        "https://t.me/shop_bot?start=promo",
        "https://t.me/shop_bot",
        "https://t.me/manager?text=Hello",
        "viber://pa?chatURI=shop&context=abc",
        "viber://chat?number=%2B7999",
        "https://max.ru/shop_bot",
    ];
    for input in cases {
        let with_old = run(input, &old, &en, Hint::Auto).unwrap().href;
        let fresh = run(input, &id(), &en, Hint::Auto).unwrap().href;
        let retagged = run(&with_old, &id(), &en, Hint::Auto).unwrap();
        assert_eq!(retagged.href, fresh, "{input}");
        assert!(retagged.changed);
        assert!(!retagged.href.contains(old.as_str()));
        let again = run(&retagged.href, &id(), &en, Hint::Auto).unwrap();
        assert_eq!(again.href, fresh, "{input}");
        assert!(!again.changed, "{input}");
    }
    // An ID with another configured prefix is recognised too.
    let other = other_prefix_id();
    let with_other = ["https://t.me/shop_bot?start=promo_", other.as_str()].concat();
    assert_eq!(
        run(&with_other, &id(), &en, Hint::Auto).unwrap().href,
        expand("https://t.me/shop_bot?start=promo_{ID}")
    );
    // An ID with an unknown prefix is the site's text, not ours.
    let foreign = ChatId::generate(&Prefix::new("ZZ").unwrap(), [1, 2, 3, 4, 5]);
    let with_foreign = ["https://t.me/shop_bot?start=", foreign.as_str()].concat();
    assert_eq!(
        run(&with_foreign, &id(), &en, Hint::Auto).unwrap().href,
        [with_foreign.as_str(), "_", id().as_str()].concat()
    );
}

#[test]
fn edited_text_gets_its_id_replaced_in_place() {
    let en = Template::for_lang("en");
    let old = old_id();
    // The visitor's draft no longer ends with our tag as rendered: replace the ID where it is.
    let href = [
        "https://wa.me/1?text=Hi%2C%20my%20code%20is%20",
        old.as_str(),
        "%2C%20thanks",
    ]
    .concat();
    let t = run(&href, &id(), &en, Hint::Auto).unwrap();
    assert_eq!(
        t.href,
        expand("https://wa.me/1?text=Hi%2C%20my%20code%20is%20{ID}%2C%20thanks")
    );
    // A language change between visits: one ID, never two tags.
    let ru = run(
        "https://wa.me/1?text=Hi",
        &old,
        &Template::for_lang("ru"),
        Hint::Auto,
    )
    .unwrap()
    .href;
    let en_now = run(&ru, &id(), &en, Hint::Auto).unwrap().href;
    assert_eq!(en_now, ru.replace(old.as_str(), id().as_str()));
    // A site that encoded our tag its own way (e.g. a CMS re-encoding spaces as +) still gets
    // exactly one tag.
    let plus = [
        "https://wa.me/1?text=Hi%0A%0ARequest+number%3A+",
        old.as_str(),
    ]
    .concat();
    let t = run(&plus, &id(), &en, Hint::Auto).unwrap().href;
    assert_eq!(t.matches(id().as_str()).count(), 1);
    assert!(!t.contains(old.as_str()));
}

#[test]
fn telegram_start_keeps_the_site_part_within_64() {
    let en = Template::for_lang("en");
    let site = "a".repeat(60);
    let href = ["https://t.me/shop_bot?start=", &site].concat();
    let t = run(&href, &id(), &en, Hint::Auto).unwrap();
    let start = t.href.split("start=").nth(1).unwrap();
    // Room is kept for the longest ID (12): 64 - 13 = 51 characters of the site's value.
    assert_eq!(start, [&site[..51], "_", id().as_str()].concat());
    let split = split_start_param(start);
    assert_eq!(
        split,
        StartParam {
            site: Some(site[..51].to_owned()),
            chat_id: Some(id())
        }
    );
    let site = "a".repeat(51);
    let href = ["https://t.me/shop_bot?start=", &site].concat();
    assert_eq!(
        run(&href, &id(), &en, Hint::Auto).unwrap().href,
        [href.as_str(), "_", id().as_str()].concat()
    );
    assert_eq!(run(&t.href, &id(), &en, Hint::Auto).unwrap().href, t.href);
    // MAX allows 128.
    let href = ["https://max.ru/shop_bot?start=", &"b".repeat(200)].concat();
    let t = run(&href, &id(), &en, Hint::Auto).unwrap();
    assert_eq!(t.href.split("start=").nth(1).unwrap().len(), 128 - 2);
    // A shortened site part never ends inside a %XX escape.
    let href = ["viber://pa?chatURI=s&context=", &"%41".repeat(1000)].concat();
    let t = run(&href, &id(), &en, Hint::Auto).unwrap();
    assert!(t.href.len() <= 2048);
    let ctx = t.href.split("context=").nth(1).unwrap();
    assert!(ctx.ends_with(&["%41_", id().as_str()].concat()), "{ctx}");
}

#[test]
fn split_start_param_cases() {
    let i = id();
    assert_eq!(split_start_param(""), StartParam::default());
    assert_eq!(
        split_start_param(i.as_str()),
        StartParam {
            site: None,
            chat_id: Some(i.clone())
        }
    );
    assert_eq!(
        split_start_param(&["promo_", i.as_str()].concat()),
        StartParam {
            site: Some("promo".into()),
            chat_id: Some(i.clone())
        }
    );
    assert_eq!(
        split_start_param(&["a_b_", i.as_str()].concat()),
        StartParam {
            site: Some("a_b".into()),
            chat_id: Some(i.clone())
        }
    );
    assert_eq!(
        split_start_param(&["_", i.as_str()].concat()),
        StartParam {
            site: None,
            chat_id: Some(i.clone())
        }
    );
    assert_eq!(
        split_start_param("promo"),
        StartParam {
            site: Some("promo".into()),
            chat_id: None
        }
    );
    // A mistyped ID is the site's value, not ours.
    let bad = [
        &i.as_str()[..9],
        if i.as_str().ends_with('0') { "1" } else { "0" },
    ]
    .concat();
    assert_eq!(split_start_param(&bad).chat_id, None);
}

#[test]
fn too_long_links_are_left_alone() {
    let href = ["https://wa.me/1?text=", &"x".repeat(8200)].concat();
    assert_eq!(tag_en(&href, Hint::Auto), Err(Skip::TooLong));
    let href = ["https://wa.me/1?text=", &"x".repeat(8150)].concat();
    assert_eq!(tag_en(&href, Hint::Auto), Err(Skip::TooLong));
    // Not ours at all stays NotMessenger however long.
    let href = ["https://shop.example/?", &"x".repeat(9000)].concat();
    assert_eq!(tag_en(&href, Hint::Auto), Err(Skip::NotMessenger));
}

fn taggable_link() -> impl Strategy<Value = String> {
    let base = prop::sample::select(vec![
        "https://wa.me/79991234567",
        "https://api.whatsapp.com/send?phone=7999&type=phone_number",
        "whatsapp://send?phone=7999",
        "https://t.me/shop_bot",
        "https://t.me/manager",
        "tg://resolve?domain=shop_bot",
        "viber://pa?chatURI=shop",
        "viber://chat?number=%2B7999",
        "https://max.ru/shop_bot",
    ]);
    // Either text we encode, or raw text as a site might have written it (unencoded spaces,
    // `+`, stray or invalid `%` escapes).
    let text = prop::option::of(prop_oneof![
        "[ -~а-яё\n]{0,40}".prop_map(|t| chattag_core::url::encode_component(&t)),
        "([a-zA-Z0-9 +.,]|%[0-9A-Fa-f]{0,2}|%D0%9D){0,20}",
    ]);
    let start = prop::option::of("[A-Za-z0-9_-]{0,70}");
    let frag = prop::option::of("[a-z]{0,5}");
    (base, text, start, frag).prop_map(|(base, text, start, frag)| {
        let mut h = base.to_owned();
        let mut sep = if h.contains('?') { '&' } else { '?' };
        if let Some(t) = text {
            h.push(sep);
            h.push_str("text=");
            h.push_str(&t);
            sep = '&';
        }
        if let Some(s) = start {
            h.push(sep);
            h.push_str(if h.starts_with("viber://pa") {
                "context="
            } else {
                "start="
            });
            h.push_str(&s);
        }
        if let Some(f) = frag {
            h.push('#');
            h.push_str(&f);
        }
        h
    })
}

fn any_id() -> impl Strategy<Value = ChatId> {
    (prop::sample::select(vec!["CT", "OLD"]), any::<[u8; 5]>())
        .prop_map(|(p, r)| ChatId::generate(&Prefix::new(p).unwrap(), r))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Tagging twice = tagging once, and re-tagging a link tagged with any older ID gives the
    /// link freshly tagged with the current one.
    #[test]
    fn tagging_is_idempotent(href in taggable_link(), older in any_id(), current in any_id(), lang in prop::sample::select(vec!["en", "ru", "pt", "{text} [ref:{id}]", "Заказ {id} ({title}, {url})", "{id}: {text} / {text}"])) {
        let t = if lang.contains('{') { Template::custom(lang).unwrap() } else { Template::for_lang(lang) };
        let once = run(&href, &current, &t, Hint::Auto);
        if let Ok(once) = once {
            let twice = run(&once.href, &current, &t, Hint::Auto).unwrap();
            prop_assert_eq!(&twice.href, &once.href);
            prop_assert!(!twice.changed);
            prop_assert_eq!(once.href.matches(current.as_str()).count(), 1);
            let by_older = run(&href, &older, &t, Hint::Auto).unwrap();
            let renewed = run(&by_older.href, &current, &t, Hint::Auto).unwrap();
            prop_assert_eq!(&renewed.href, &once.href);
        }
    }

    /// Tagging never disturbs anything but the carrier parameter: the part before `?`, the
    /// fragment and the other parameters survive byte for byte.
    #[test]
    fn tagging_keeps_the_rest(href in taggable_link(), current in any_id()) {
        if let Ok(t) = run(&href, &current, &Template::for_lang("en"), Hint::Auto) {
            let path = |h: &str| h.split(['?', '#']).next().unwrap_or("").to_owned();
            let frag = |h: &str| h.split_once('#').map(|(_, f)| f.to_owned());
            prop_assert_eq!(path(&t.href), path(&href));
            prop_assert_eq!(frag(&t.href), frag(&href));
            let others = |h: &str| -> Vec<String> {
                h.split('#').next().unwrap_or("").split_once('?').map(|(_, q)| q).unwrap_or("")
                    .split('&').filter(|p| !["text", "start", "context"].contains(&p.split('=').next().unwrap_or(""))).map(str::to_owned).collect()
            };
            prop_assert_eq!(others(&t.href).into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>(), others(&href).into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>());
        }
    }
}
