//! Which messenger account a link opens (`account_of_link`), named the way each messenger's
//! webhook names the site's account, for every link form the tagger recognises.

use chattag_core::{account_of_link, classify, Hint};

fn account(href: &str) -> Option<String> {
    account_of_link(href)
}

#[test]
fn whatsapp_forms_give_the_phone_digits() {
    for href in [
        "https://wa.me/79991234567?text=Hi",
        "https://wa.me/+79991234567",
        "http://www.wa.me/79991234567",
        "https://api.whatsapp.com/send?phone=79991234567&text=x",
        "https://api.whatsapp.com/send/?phone=%2B79991234567",
        "https://web.whatsapp.com/send?phone=79991234567",
        // The host core tags and the collector's own parser did not know.
        "https://whatsapp.com/send?phone=79991234567",
        "https://www.whatsapp.com/send?phone=+79991234567",
        "whatsapp://send?phone=%2B79991234567",
        "WHATSAPP://send?phone=79991234567&text=hi",
        // Android intent URLs open the link they wrap.
        "intent://send?phone=79991234567#Intent;scheme=whatsapp;package=com.whatsapp;end",
        "intent://wa.me/79991234567#Intent;scheme=https;package=com.whatsapp;end",
    ] {
        assert_eq!(account(href).as_deref(), Some("79991234567"), "{href}");
    }
}

#[test]
fn telegram_forms_give_the_lowercase_username() {
    for href in [
        "https://t.me/Shop_Bot?start=CT1",
        "https://telegram.me/shop_bot",
        "https://telegram.dog/SHOP_BOT",
        "https://www.t.me/shop_bot",
        "tg://resolve?domain=Shop_Bot&start=x",
        "tg:resolve?domain=shop_bot",
    ] {
        assert_eq!(account(href).as_deref(), Some("shop_bot"), "{href}");
    }
    // A person's phone link names the phone.
    assert_eq!(
        account("https://t.me/+79991234567").as_deref(),
        Some("79991234567")
    );
    assert_eq!(
        account("tg://resolve?phone=79991234567").as_deref(),
        Some("79991234567")
    );
}

#[test]
fn viber_and_max_forms() {
    assert_eq!(
        account("viber://pa?chatURI=ShopPA&context=x").as_deref(),
        Some("shoppa")
    );
    assert_eq!(
        account("viber://pa?chatURI=Shop%50A").as_deref(),
        Some("shoppa"),
        "the parameter is percent-decoded"
    );
    assert_eq!(
        account("viber://chat?number=%2B79991234567").as_deref(),
        Some("79991234567")
    );
    assert_eq!(
        account("https://max.ru/Shop_Bot?start=x").as_deref(),
        Some("shop_bot")
    );
}

#[test]
fn links_that_open_no_chat_name_no_account() {
    for href in [
        "https://example.com/",
        "https://wa.me/",
        "https://wa.me/message/ABC",
        "https://t.me/joinchat/abc",
        "https://t.me/share/url?url=x",
        "https://t.me/channel/123",
        "https://t.me/+AbCdEf",
        "https://evil-wa.me/79991234567",
        "viber://forward?text=x",
        "javascript:alert(1)",
        "",
    ] {
        assert_eq!(account(href), None, "{href}");
    }
}

/// Every link the tagger classifies as a chat link names an account: the collector never has
/// to parse a link core would tag.
#[test]
fn every_classified_link_names_an_account() {
    for href in [
        "https://wa.me/79991234567",
        "https://api.whatsapp.com/send?phone=79991234567",
        "https://whatsapp.com/send?phone=79991234567",
        "whatsapp://send?phone=79991234567",
        "https://t.me/shop_bot",
        "https://t.me/some_person",
        "https://t.me/+79991234567",
        "tg://resolve?domain=shop_bot",
        "tg://resolve?phone=79991234567",
        "viber://pa?chatURI=shop",
        "viber://chat?number=79991234567",
        "https://max.ru/shop_bot",
        "intent://resolve?domain=shop_bot#Intent;scheme=tg;end",
    ] {
        assert!(classify(href, Hint::Auto).is_ok(), "{href}");
        assert!(account(href).is_some(), "{href}");
    }
}
