//! Money as CRMs send it and Metrica reads it: ISO 4217 currency codes and plain decimal
//! revenue.

/// Active ISO 4217 codes (2024 list), for validating `Currency`.
const ISO_4217: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD \
CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD \
HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD \
MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG \
QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD \
TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL";

pub fn is_iso_4217(code: &str) -> bool {
    code.len() == 3
        && code.bytes().all(|b| b.is_ascii_uppercase())
        && ISO_4217.split(' ').any(|c| c == code)
}

/// Revenue as Metrica reads it: digits, optional `.` and 1–2 decimals, no sign, no grouping.
/// Accepts a `,` decimal separator and spaces from CRMs and normalises them.
pub fn normalize_revenue(raw: &str) -> Option<String> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .collect();
    let s = s.replace(',', ".");
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let int_ok = !int.is_empty() && int.len() <= 12 && int.bytes().all(|b| b.is_ascii_digit());
    let frac_ok = frac.len() <= 2
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(s.contains('.') && frac.is_empty());
    if !(int_ok && frac_ok) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    Some(if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revenue_and_currency_formats() {
        assert_eq!(normalize_revenue("1250.50").as_deref(), Some("1250.50"));
        assert_eq!(normalize_revenue("0012,5").as_deref(), Some("12.5"));
        assert_eq!(normalize_revenue("1e3"), None);
        assert_eq!(normalize_revenue("12."), None);
        assert_eq!(normalize_revenue("1.234"), None);
        assert!(
            is_iso_4217("RUB") && is_iso_4217("USD") && !is_iso_4217("rub") && !is_iso_4217("RUR")
        );
    }
}
