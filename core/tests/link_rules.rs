//! Each link rule of messenger-links.md on every host and scheme it applies to, with the exact
//! boundaries of every length limit (at the limit and one past) and site values that contain the
//! `_` our `<site>_<ID>` form uses.

use chattag_core::links::{MAX_HREF_LEN, MAX_START_MAX, TELEGRAM_START_MAX, VIBER_URL_MAX};
use chattag_core::{
    classify, split_start_param, tag, ChatId, Hint, LinkKind, Prefix, Skip, StartParam, TagInput,
    Tagged, Template,
};

/// `ChatId::generate(CT, [0x12, 0x34, 0x56, 0x78, 0x9a])` (see known_answers.rs).
const ID: &str = "CTT4YC5T8A";
/// `ChatId::generate(CT, [0xfe, 0xdc, 0xba, 0x98, 0x76])`.
const OLD: &str = "CTP36NBEVM";

fn id() -> ChatId {
    ChatId::parse(ID).unwrap()
}

fn tag_with(href: &str, chat_id: &ChatId, hint: Hint) -> Result<Tagged, Skip> {
    tag(
        href,
        &TagInput {
            chat_id,
            prefixes: &[Prefix::DEFAULT],
            template: &Template::for_lang("en"),
            page_url: "https://shop.example/",
            page_title: "Shop",
            hint,
        },
    )
}

fn tag_auto(href: &str) -> Result<Tagged, Skip> {
    tag_with(href, &id(), Hint::Auto)
}

fn kind(href: &str, hint: Hint) -> Result<LinkKind, Skip> {
    let c = classify(href, hint);
    // Tagging decides exactly as classifying does.
    assert_eq!(
        tag_with(href, &id(), hint).map(|t| t.kind),
        c.map(|c| c.kind),
        "{href}"
    );
    c.map(|c| {
        assert_eq!(c.messenger, c.kind.messenger());
        c.kind
    })
}

fn check(cases: &[(&str, Result<LinkKind, Skip>)]) {
    for (href, expected) in cases {
        assert_eq!(kind(href, Hint::Auto), *expected, "{href}");
    }
}

#[test]
fn whatsapp_forms_on_every_host() {
    use LinkKind::WhatsApp;
    use Skip::*;
    for host in [
        "https://api.whatsapp.com",
        "https://web.whatsapp.com",
        "https://whatsapp.com",
        "http://www.api.whatsapp.com",
        "HTTPS://WEB.WhatsApp.COM",
    ] {
        let h = |rest: &str| format!("{host}{rest}");
        let cases = [
            (h("/send?phone=79991234567"), Ok(WhatsApp)),
            (h("/send/?phone=79991234567&text=Hi"), Ok(WhatsApp)),
            (h("/SEND?phone=79991234567"), Ok(WhatsApp)),
            (h("/send?phone=%2B79991234567"), Ok(WhatsApp)),
            (h("/send?text=Hi"), Err(Share)),
            (h("/send?phone="), Err(Share)),
            (h("/send?phone=%20+"), Err(Share)),
            (h("/send?Phone=79991234567"), Err(Share)),
            (h("/message/ABCDEF123"), Err(FixedText)),
            (h("/qr/ABCDEF123"), Err(FixedText)),
            (h("/catalog/79991234567"), Err(Catalogue)),
            (h("/c/79991234567"), Err(Catalogue)),
            (h("/"), Err(NotAChat)),
            (h(""), Err(NotAChat)),
            (h("/channel/abc"), Err(NotAChat)),
        ];
        for (href, expected) in cases {
            assert_eq!(kind(&href, Hint::Auto), expected, "{href}");
        }
    }
    check(&[
        ("whatsapp://send?phone=79991234567", Ok(WhatsApp)),
        ("WhatsApp://Send?phone=79991234567", Ok(WhatsApp)),
        ("whatsapp:send?phone=79991234567", Ok(WhatsApp)),
        ("whatsapp://send?phone=%20", Err(Share)),
        ("whatsapp://message/ABC", Err(NotAChat)),
        ("whatsapp://message?code=ABC", Err(FixedText)),
        ("whatsapp://qr?code=ABC", Err(FixedText)),
        ("whatsapp://catalog?phone=1", Err(Catalogue)),
        ("whatsapp://c?phone=1", Err(Catalogue)),
        ("whatsapp://call?phone=1", Err(NotAChat)),
        ("whatsapp://", Err(NotAChat)),
    ]);
}

#[test]
fn wa_me_forms() {
    use LinkKind::WhatsApp;
    use Skip::*;
    check(&[
        ("https://wa.me/79991234567", Ok(WhatsApp)),
        ("http://wa.me/79991234567", Ok(WhatsApp)),
        ("https://WWW.WA.ME/79991234567", Ok(WhatsApp)),
        ("https://wa.me/+79991234567", Ok(WhatsApp)),
        ("https://wa.me//79991234567//", Ok(WhatsApp)),
        ("https://wa.me/+", Err(Malformed)),
        ("https://wa.me/7999x", Err(Malformed)),
        ("https://wa.me/79991234567/extra", Err(NotAChat)),
        ("https://wa.me/MESSAGE/ABC", Err(FixedText)),
        ("https://wa.me/Qr/ABC", Err(FixedText)),
        ("https://wa.me/C/79991234567", Err(Catalogue)),
        ("https://wa.me/c", Err(Catalogue)),
        ("https://wa.me/message", Err(FixedText)),
        ("https:wa.me/79991234567", Err(NotMessenger)),
        ("ftp://wa.me/79991234567", Err(NotMessenger)),
        ("https://wa.me.ru/79991234567", Err(NotMessenger)),
        ("https://wwa.me/79991234567", Err(NotMessenger)),
    ]);
}

#[test]
fn telegram_web_forms_on_every_host() {
    use LinkKind::{TelegramBot as Bot, TelegramPersonal as Personal};
    use Skip::*;
    for host in [
        "https://t.me",
        "https://telegram.me",
        "https://telegram.dog",
        "http://www.t.me",
        "https://T.ME",
    ] {
        let h = |rest: &str| format!("{host}{rest}");
        let cases = [
            (h("/shop_bot"), Ok(Bot)),
            (h("/ShopBOT"), Ok(Bot)),
            (h("/manager"), Ok(Personal)),
            (h("/shopbo"), Ok(Personal)),
            (h("/manager?start=x"), Ok(Bot)),
            (h("/manager?starter=x"), Ok(Personal)),
            (h("/+79991234567"), Ok(Personal)),
            (h("/%2B79991234567"), Ok(Personal)),
            (h("/+79991234567?text=Hi"), Ok(Personal)),
            (h("/+"), Err(NotAChat)),
            (h("/%2B"), Err(NotAChat)),
            (h("/+7999/1"), Err(NotAChat)),
            (h("/+AbCd"), Err(NotAChat)),
            (h("/share"), Err(Share)),
            (h("/SHARE/url?url=x"), Err(Share)),
            (h("/shop_bot/12"), Err(NotAChat)),
            (h("/shop_bot/app"), Err(MiniApp)),
            (h("/"), Err(NotAChat)),
            // Usernames: 4–32 of A-Z a-z 0-9 _, starting with a letter. `-` and `.` are not
            // username characters, so `shop-bot` / `shop.bot` are no bot links.
            (h("/abcd"), Ok(Personal)),
            (h("/abc"), Err(Malformed)),
            (h(&format!("/a{}", "b".repeat(31))), Ok(Personal)),
            (h(&format!("/a{}", "b".repeat(32))), Err(Malformed)),
            (h(&format!("/a{}bot", "b".repeat(28))), Ok(Bot)),
            (h(&format!("/a{}bot", "b".repeat(29))), Err(Malformed)),
            (h("/1shop_bot"), Err(Malformed)),
            (h("/_shop_bot"), Err(Malformed)),
            (h("/shop-bot"), Err(Malformed)),
            (h("/shop.bot"), Err(Malformed)),
            (h("/shop%5Fbot"), Err(Malformed)),
            (h("/shopбот"), Err(Malformed)),
        ];
        for (href, expected) in cases {
            assert_eq!(kind(&href, Hint::Auto), expected, "{href}");
        }
    }
}

/// Every first path segment that is a Telegram feature rather than a username.
#[test]
fn telegram_reserved_paths() {
    for word in [
        "joinchat",
        "addstickers",
        "addemoji",
        "addlist",
        "addtheme",
        "setlanguage",
        "proxy",
        "socks",
        "login",
        "invoice",
        "boost",
        "confirmphone",
        "bg",
        "c",
        "m",
        "s",
        "iv",
        "contact",
        "giftcode",
        "nft",
        "msg",
        "msg_url",
    ] {
        for w in [word.to_owned(), word.to_uppercase()] {
            let href = format!("https://t.me/{w}");
            assert_eq!(kind(&href, Hint::Auto), Err(Skip::NotAChat), "{href}");
            // Even where the name would otherwise be a valid username or a bot.
            let href = format!("https://t.me/{w}?start=x");
            assert_eq!(kind(&href, Hint::Bot), Err(Skip::NotAChat), "{href}");
        }
    }
    // Not reserved: a name that merely contains one of them.
    assert_eq!(
        kind("https://t.me/joinchatbot", Hint::Auto),
        Ok(LinkKind::TelegramBot)
    );
    assert_eq!(
        kind("https://t.me/proxys", Hint::Auto),
        Ok(LinkKind::TelegramPersonal)
    );
}

/// Query keys that make a Telegram link something other than a 1:1 chat start, on t.me and
/// tg://resolve. Keys are exact (Telegram reads them case-sensitively).
#[test]
fn telegram_non_chat_parameters() {
    for base in ["https://t.me/shop_bot?", "tg://resolve?domain=shop_bot&"] {
        for key in ["startapp", "startattach", "appname"] {
            let href = format!("{base}{key}=x");
            assert_eq!(kind(&href, Hint::Auto), Err(Skip::MiniApp), "{href}");
            // A mini-app key wins over a not-a-chat key, wherever it stands.
            let href = format!("{base}startgroup=1&{key}");
            assert_eq!(kind(&href, Hint::Auto), Err(Skip::MiniApp), "{href}");
            let href = format!("{base}{key}&post=1");
            assert_eq!(kind(&href, Hint::Auto), Err(Skip::MiniApp), "{href}");
        }
        for key in [
            "startgroup",
            "startchannel",
            "voicechat",
            "videochat",
            "livestream",
            "post",
            "thread",
            "comment",
            "boost",
        ] {
            let href = format!("{base}{key}=1");
            assert_eq!(kind(&href, Hint::Auto), Err(Skip::NotAChat), "{href}");
            let href = format!("{base}start=x&{key}");
            assert_eq!(kind(&href, Hint::Auto), Err(Skip::NotAChat), "{href}");
        }
        for key in ["StartApp", "STARTGROUP", "starts", "text", "start"] {
            let href = format!("{base}{key}=1");
            assert_eq!(kind(&href, Hint::Auto), Ok(LinkKind::TelegramBot), "{href}");
        }
    }
}

#[test]
fn telegram_app_forms() {
    use LinkKind::{TelegramBot as Bot, TelegramPersonal as Personal};
    use Skip::*;
    check(&[
        ("tg://resolve?domain=shop_bot", Ok(Bot)),
        ("tg:resolve?domain=shop_bot", Ok(Bot)),
        ("TG://RESOLVE?domain=shop_bot", Ok(Bot)),
        ("tg://resolve?domain=manager", Ok(Personal)),
        ("tg://resolve?domain=manager&start=x", Ok(Bot)),
        ("tg://resolve?domain=shop-bot", Err(Malformed)),
        ("tg://resolve?domain=abc", Err(Malformed)),
        ("tg://resolve?phone=79991234567", Ok(Personal)),
        ("tg://resolve?domain=&phone=79991234567", Ok(Personal)),
        ("tg://resolve?phone=%20", Err(NoRecipient)),
        ("tg://resolve?Domain=shop_bot", Err(NoRecipient)),
        ("tg://resolve?domain=", Err(NoRecipient)),
        ("tg://msg?text=x", Err(Share)),
        ("tg://msg_url?url=x", Err(Share)),
        ("tg://share?url=x", Err(Share)),
        ("tg://SHARE?url=x", Err(Share)),
        ("tg://resolve/x?domain=shop_bot", Err(NotAChat)),
        ("tg:resolve/x?domain=shop_bot", Err(NotAChat)),
        ("tg:?domain=shop_bot", Err(NotAChat)),
        ("tg://join?invite=x", Err(NotAChat)),
        ("tg://privatepost?channel=1", Err(NotAChat)),
    ]);
}

/// Chrome's Android intent URLs, as widgets write them to open the app rather than the site
/// (tests/browser/corpus/wa-button-intent.mjs): read as the link `<scheme>://` + the part before
/// `#`, tagged there, the `#Intent;…;end` part kept byte for byte.
#[test]
fn android_intent_forms() {
    use LinkKind::{TelegramBot as Bot, WhatsApp};
    use Skip::*;
    check(&[
        (
            "intent://send?phone=79991234567&text=Hi#Intent;package=com.whatsapp;scheme=whatsapp;end",
            Ok(WhatsApp),
        ),
        (
            "intent://send?phone=79991234567#Intent;scheme=whatsapp;package=com.whatsapp;end",
            Ok(WhatsApp),
        ),
        (
            "INTENT://send?phone=79991234567#Intent;scheme=WhatsApp;end",
            Ok(WhatsApp),
        ),
        (
            "intent://resolve?domain=shop_bot#Intent;scheme=tg;package=org.telegram.messenger;end",
            Ok(Bot),
        ),
        (
            "intent://wa.me/79991234567#Intent;scheme=https;package=com.whatsapp;end",
            Ok(WhatsApp),
        ),
        ("intent://send?text=Hi#Intent;scheme=whatsapp;end", Err(Share)),
        // Not an intent Chrome would open as a messenger link: no `Intent;` start, no scheme
        // before `end`, another app's scheme.
        ("intent://send?phone=79991234567", Err(NotMessenger)),
        ("intent://send?phone=79991234567#scheme=whatsapp", Err(NotMessenger)),
        (
            "intent://send?phone=79991234567#Intent;package=com.whatsapp;end",
            Err(NotMessenger),
        ),
        (
            "intent://send?phone=79991234567#Intent;package=com.whatsapp;end;scheme=whatsapp",
            Err(NotMessenger),
        ),
        (
            "intent://details?id=com.whatsapp#Intent;scheme=market;end",
            Err(NotMessenger),
        ),
    ]);
    let href = "intent://send?phone=79991234567&text=Hi#Intent;scheme=whatsapp;package=com.whatsapp;end&phone=79991234567&text=Hi";
    let tagged = tag_auto(href).unwrap();
    let (query, fragment) = tagged.href.split_once('#').unwrap();
    assert!(
        query.starts_with("intent://send?phone=79991234567&text=Hi"),
        "{}",
        tagged.href
    );
    assert!(query.contains(ID), "{}", tagged.href);
    assert_eq!(
        fragment,
        "Intent;scheme=whatsapp;package=com.whatsapp;end&phone=79991234567&text=Hi"
    );
}

#[test]
fn viber_forms() {
    use LinkKind::{ViberBot, ViberPersonal};
    use Skip::*;
    check(&[
        ("viber://pa?chatURI=shop", Ok(ViberBot)),
        ("viber:pa?chatURI=shop", Ok(ViberBot)),
        ("VIBER://PA?chatURI=shop", Ok(ViberBot)),
        ("viber://pa?chatURI=%20", Err(NoRecipient)),
        ("viber://pa?chaturi=shop", Err(NoRecipient)),
        ("viber://pa", Err(NoRecipient)),
        ("viber://chat?number=%2B79991234567", Ok(ViberPersonal)),
        ("viber://Chat?number=79991234567", Ok(ViberPersonal)),
        ("viber://chat?number=", Err(NoRecipient)),
        ("viber://chat?Number=1", Err(NoRecipient)),
        ("viber://forward?text=x", Err(Share)),
        ("viber://FORWARD", Err(Share)),
        ("viber://pa/x?chatURI=shop", Err(NotAChat)),
        ("viber://public?id=shop", Err(NotAChat)),
        ("viber://", Err(NotAChat)),
    ]);
}

#[test]
fn max_forms() {
    use LinkKind::MaxBot;
    use Skip::*;
    let name = |n: usize| format!("a{}bot", "b".repeat(n - 4));
    check(&[
        ("https://max.ru/shop_bot", Ok(MaxBot)),
        ("http://www.MAX.ru/Shop_BOT", Ok(MaxBot)),
        ("https://max.ru/manager?start=x", Ok(MaxBot)),
        ("https://max.ru/manager", Err(NotAChat)),
        ("https://max.ru/", Err(NotAChat)),
        ("https://max.ru", Err(NotAChat)),
        ("https://max.ru/:share?text=x", Err(Share)),
        ("https://max.ru/%3Ashare?text=x", Err(Share)),
        ("https://max.ru/%3ASHARE", Err(Share)),
        ("https://max.ru/shop_bot/x", Err(NotAChat)),
        ("https://max.ru/shop-bot", Err(Malformed)),
        ("https://max.ru/shop.bot", Err(Malformed)),
        ("https://max.ru/shop_bot?startapp", Err(MiniApp)),
        ("https://max.ru/shop_bot?startapp=1&start=2", Err(MiniApp)),
        ("https://max.ru/shop_bot?startgroup=1", Ok(MaxBot)),
        ("https://max.ru/1bot", Ok(MaxBot)),
        ("https://max.ru/bot", Ok(MaxBot)),
        ("https://max.ru.example/shop_bot", Err(NotMessenger)),
    ]);
    // Names up to 64 characters; longer ones are no MAX link we know.
    assert_eq!(
        kind(&format!("https://max.ru/{}", name(64)), Hint::Auto),
        Ok(MaxBot)
    );
    assert_eq!(
        kind(&format!("https://max.ru/{}", name(65)), Hint::Auto),
        Err(Malformed)
    );
    assert_eq!(
        kind(&format!("https://max.ru/{}", name(65)), Hint::Bot),
        Err(Malformed)
    );
}

#[test]
fn hints() {
    use LinkKind::*;
    assert_eq!(kind("https://t.me/manager", Hint::Bot), Ok(TelegramBot));
    assert_eq!(
        kind("https://t.me/shop_bot", Hint::Personal),
        Ok(TelegramPersonal)
    );
    assert_eq!(
        kind("https://t.me/shop_bot?start=x", Hint::Personal),
        Ok(TelegramPersonal)
    );
    assert_eq!(
        kind("tg://resolve?domain=manager", Hint::Bot),
        Ok(TelegramBot)
    );
    assert_eq!(
        kind("tg://resolve?domain=shop_bot", Hint::Personal),
        Ok(TelegramPersonal)
    );
    assert_eq!(kind("https://max.ru/manager", Hint::Bot), Ok(MaxBot));
    assert_eq!(
        kind("https://max.ru/shop_bot", Hint::Personal),
        Err(Skip::NotAChat)
    );
    // A hint never makes a link of another kind: WhatsApp and Viber ignore bot / personal.
    assert_eq!(kind("https://wa.me/1", Hint::Bot), Ok(WhatsApp));
    assert_eq!(kind("viber://pa?chatURI=x", Hint::Personal), Ok(ViberBot));
    assert_eq!(kind("viber://chat?number=1", Hint::Bot), Ok(ViberPersonal));
    for href in [
        "https://wa.me/1",
        "https://t.me/shop_bot",
        "viber://pa?chatURI=x",
    ] {
        assert_eq!(kind(href, Hint::Off), Err(Skip::Disabled), "{href}");
    }
    assert_eq!(Hint::parse("\tbot\n"), Hint::Bot);
    assert_eq!(Hint::parse("PERSONAL"), Hint::Personal);
    assert_eq!(Hint::parse("bots"), Hint::Auto);
    assert_eq!(Hint::parse("no"), Hint::Auto);
    assert_eq!(Hint::default(), Hint::Auto);
}

#[test]
fn every_name_and_reason() {
    use LinkKind::*;
    let kinds = [
        (WhatsApp, "whatsapp", "whatsapp", false),
        (TelegramBot, "telegram_bot", "telegram", true),
        (TelegramPersonal, "telegram_personal", "telegram", false),
        (ViberBot, "viber_bot", "viber", true),
        (ViberPersonal, "viber_personal", "viber", false),
        (MaxBot, "max_bot", "max", true),
    ];
    for (k, name, messenger, bot) in kinds {
        assert_eq!(k.as_str(), name);
        assert_eq!(k.messenger().as_str(), messenger);
        assert_eq!(k.is_bot(), bot, "{name}");
        assert_eq!(LinkKind::from_name(name), Some(k));
    }
    assert_eq!(
        chattag_core::Messenger::from_name("max"),
        Some(chattag_core::Messenger::Max)
    );
    assert_eq!(chattag_core::Messenger::from_name("Max"), None);
    // The English for each skip is the debug overlay's (www/loader/wasm-inspect.js `REASONS`).
    let skips = [
        (Skip::NotMessenger, "not_messenger"),
        (Skip::Share, "share"),
        (Skip::Catalogue, "catalogue"),
        (Skip::FixedText, "fixed_text"),
        (Skip::NotAChat, "not_a_chat"),
        (Skip::MiniApp, "mini_app"),
        (Skip::NoRecipient, "no_recipient"),
        (Skip::Disabled, "disabled"),
        (Skip::Malformed, "malformed"),
        (Skip::TooLong, "too_long"),
    ];
    for (s, name) in skips {
        assert_eq!(s.as_str(), name);
    }
}

fn start_of(href: &str, key: &str) -> String {
    let q = href.split_once('?').unwrap().1;
    q.split('&')
        .find_map(|p| p.strip_prefix(&format!("{key}=")))
        .unwrap()
        .to_owned()
}

/// A site's own start / context value keeps every `_` it had; only our ID after the last `_`
/// is ours.
#[test]
fn site_values_with_underscores() {
    let cases = [
        ("https://t.me/shop_bot?start=promo_spring", "start"),
        ("tg://resolve?domain=shop_bot&start=promo_spring", "start"),
        ("https://max.ru/shop_bot?start=promo_spring", "start"),
        ("viber://pa?chatURI=shop&context=promo_spring", "context"),
    ];
    for (href, key) in cases {
        let t = tag_auto(href).unwrap();
        assert_eq!(t.href, format!("{href}_{ID}"));
        assert_eq!(start_of(&t.href, key), format!("promo_spring_{ID}"));
        assert_eq!(
            split_start_param(&start_of(&t.href, key)),
            StartParam {
                site: Some("promo_spring".into()),
                chat_id: Some(id())
            }
        );
        // Renewed: the old ID after the last `_` is replaced, the site's part stays.
        let old = tag_with(href, &ChatId::parse(OLD).unwrap(), Hint::Auto).unwrap();
        assert_eq!(old.href, format!("{href}_{OLD}"));
        assert_eq!(tag_auto(&old.href).unwrap().href, t.href);
        // A site value that ends in `_` or has our ID in its middle.
        let with_trailing = format!("{href}_");
        assert_eq!(
            tag_auto(&with_trailing).unwrap().href,
            format!("{href}__{ID}")
        );
        let middle = href.replace("promo_spring", &format!("a_{OLD}_b"));
        assert_eq!(tag_auto(&middle).unwrap().href, format!("{middle}_{ID}"));
    }
    assert_eq!(
        split_start_param(&format!("a_b_c_{ID}")),
        StartParam {
            site: Some("a_b_c".into()),
            chat_id: Some(id())
        }
    );
    assert_eq!(
        split_start_param("promo_spring"),
        StartParam {
            site: Some("promo_spring".into()),
            chat_id: None
        }
    );
    assert_eq!(
        split_start_param(&format!("{ID}_promo")),
        StartParam {
            site: Some(format!("{ID}_promo")),
            chat_id: None
        }
    );
}

#[test]
fn telegram_start_limit_exactly() {
    assert_eq!(TELEGRAM_START_MAX, 64);
    // Room for the site: 64 − (12 + 1) = 51, whatever the current ID's length.
    let site = |n: usize| "s".repeat(n);
    for host in [
        "https://t.me/shop_bot?start=",
        "tg://resolve?domain=shop_bot&start=",
    ] {
        let t = tag_auto(&format!("{host}{}", site(51))).unwrap();
        assert_eq!(start_of(&t.href, "start"), format!("{}_{ID}", site(51)));
        let t = tag_auto(&format!("{host}{}", site(52))).unwrap();
        assert_eq!(start_of(&t.href, "start"), format!("{}_{ID}", site(51)));
        // The longest ID (4-letter prefix) still fits in 64.
        let long = ChatId::generate(&Prefix::new("ABCD").unwrap(), [1, 2, 3, 4, 5]);
        let t = tag_with(&format!("{host}{}", site(52)), &long, Hint::Auto).unwrap();
        assert_eq!(start_of(&t.href, "start").len(), 64);
    }
}

#[test]
fn max_start_limit_exactly() {
    assert_eq!(MAX_START_MAX, 128);
    let site = |n: usize| "m".repeat(n);
    let href = |n: usize| format!("https://max.ru/shop_bot?start={}", site(n));
    let t = tag_auto(&href(115)).unwrap();
    assert_eq!(start_of(&t.href, "start"), format!("{}_{ID}", site(115)));
    let t = tag_auto(&href(116)).unwrap();
    assert_eq!(start_of(&t.href, "start"), format!("{}_{ID}", site(115)));
}

/// Viber's `context` is capped by the whole link (2048): the site's part is shortened so that
/// the tagged link stays within it.
#[test]
fn viber_link_limit_exactly() {
    assert_eq!(VIBER_URL_MAX, 2048);
    // No context yet: `&context=<ID>` is appended; there is room for any site value.
    let base = "viber://pa?chatURI=s";
    let t = tag_auto(base).unwrap();
    assert_eq!(t.href, format!("{base}&context={ID}"));
    // With a site context of n characters the link is 29 + n long before tagging. The site part
    // may keep 2048 − (29 + "context".len() + 2) − 13 = 1997 characters.
    let href = |n: usize| format!("{base}&context={}", "v".repeat(n));
    let t = tag_auto(&href(1997)).unwrap();
    assert_eq!(t.href, format!("{}_{ID}", href(1997)));
    let t = tag_auto(&href(1998)).unwrap();
    assert_eq!(t.href, format!("{}_{ID}", href(1997)));
    assert!(t.href.len() <= VIBER_URL_MAX);
    let t = tag_auto(&href(3000)).unwrap();
    assert_eq!(t.href, format!("{}_{ID}", href(1997)));
}

/// A shortened site value never ends inside a `%XX` escape or a UTF-8 character.
#[test]
fn shortening_keeps_escapes_and_characters_whole() {
    let bot = "https://t.me/shop_bot?start=";
    // 51 bytes of room: cut after "x" + 16 escapes = 49 bytes, whatever the phase of the cut.
    for lead in 0..3 {
        let site = format!("{}{}", "x".repeat(lead), "%41".repeat(30));
        let t = tag_auto(&format!("{bot}{site}")).unwrap();
        let start = start_of(&t.href, "start");
        let kept = start.strip_suffix(&format!("_{ID}")).unwrap();
        // The longest prefix of whole units within 51 bytes.
        let whole = lead + (51 - lead) / 3 * 3;
        assert_eq!(kept, &site[..whole], "lead {lead}");
    }
    // Raw (unencoded) Cyrillic: 2 bytes each, never split.
    let site = "я".repeat(40);
    let t = tag_auto(&format!("{bot}{site}")).unwrap();
    let start = start_of(&t.href, "start");
    assert_eq!(start, format!("{}_{ID}", "я".repeat(25)));
    let site = format!("x{}", "я".repeat(40));
    let t = tag_auto(&format!("{bot}{site}")).unwrap();
    assert_eq!(
        start_of(&t.href, "start"),
        format!("x{}_{ID}", "я".repeat(25))
    );
}

/// Links are recognised up to 8192 bytes and a tagged link may be 8192 bytes, not one more.
#[test]
fn href_limit_exactly() {
    assert_eq!(MAX_HREF_LEN, 8192);
    let bot = |len: usize| {
        let head = "https://t.me/shop_bot?x=";
        format!("{head}{}", "p".repeat(len - head.len()))
    };
    assert_eq!(bot(8192).len(), 8192);
    // Recognised at 8192, but adding the tag would pass the limit.
    assert_eq!(tag_auto(&bot(8192)), Err(Skip::TooLong));
    assert_eq!(
        classify(&bot(8192), Hint::Auto).map(|c| c.kind),
        Ok(LinkKind::TelegramBot)
    );
    assert_eq!(classify(&bot(8193), Hint::Auto), Err(Skip::TooLong));
    // Tagging appends `&start=<ID>` (17 bytes).
    let t = tag_auto(&bot(8192 - 17)).unwrap();
    assert_eq!(t.href.len(), 8192);
    assert_eq!(t.href, format!("{}&start={ID}", bot(8192 - 17)));
    assert_eq!(tag_auto(&bot(8192 - 16)), Err(Skip::TooLong));
    // A link already carrying exactly this tag at 8192 bytes is unchanged, not refused.
    let at_limit = format!("{}&start={ID}", bot(8192 - 17));
    let again = tag_auto(&at_limit).unwrap();
    assert_eq!(
        (again.href.as_str(), again.changed),
        (at_limit.as_str(), false)
    );
}

#[test]
fn changed_only_when_the_link_changed() {
    let t = tag_auto("https://t.me/shop_bot").unwrap();
    assert!(t.changed);
    let again = tag_auto(&t.href).unwrap();
    assert!(!again.changed);
    assert_eq!(again.href, t.href);
    // Same value, written with `?start` spelled without `=`: not exactly our tag.
    let t = tag_auto("https://t.me/shop_bot?start").unwrap();
    assert_eq!(t.href, format!("https://t.me/shop_bot?start={ID}"));
    assert!(t.changed);
}

/// Renewing the ID of a link tagged with a custom template re-renders the template around the
/// site's text, which stays exactly as it was.
#[test]
fn renewing_keeps_the_site_text_whole() {
    let template = Template::custom("Hi {text} ref {id}").unwrap();
    let old = ChatId::parse(OLD).unwrap();
    let other = ChatId::generate(&Prefix::DEFAULT, [5, 5, 5, 5, 5]);
    let run = |href: &str, chat_id: &ChatId| {
        tag(
            href,
            &TagInput {
                chat_id,
                prefixes: &[Prefix::DEFAULT],
                template: &template,
                page_url: "",
                page_title: "",
                hint: Hint::Auto,
            },
        )
        .unwrap()
        .href
    };
    // A text that is exactly our rendering around the site's part: only the rendered ID is
    // renewed, an ID-like word inside the site's part stays as it was.
    let with_old = format!(
        "https://wa.me/1?text=Hi%20see%20{}%20ref%20{OLD}",
        other.as_str()
    );
    assert_eq!(
        run(&with_old, &id()),
        format!(
            "https://wa.me/1?text=Hi%20see%20{}%20ref%20{ID}",
            other.as_str()
        )
    );
    // Short site text too (the rendered parts are longer than the text between them).
    let with_old = run("https://wa.me/1?text=x", &old);
    assert_eq!(
        with_old,
        format!("https://wa.me/1?text=Hi%20x%20ref%20{OLD}")
    );
    assert_eq!(
        run(&with_old, &id()),
        format!("https://wa.me/1?text=Hi%20x%20ref%20{ID}")
    );
}
