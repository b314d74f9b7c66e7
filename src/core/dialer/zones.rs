//! [`zone_for_number`]: a contact's IANA time zone from its number when none is given — the
//! country code, and for countries spanning zones the area code (longest prefix wins). A
//! national number (no `+`, no `00`) says nothing: the caller's default zone.

use super::campaign::ZoneName;
use crate::core::originate::PhoneNumber;

/// International prefixes (digits after `+`) and their zone, longest match wins. Countries
/// with one zone are listed by country code; the others by area code too, with the country's
/// most populous zone for the rest. `+1` has no country-wide default: an unknown area code
/// falls back to the default zone.
pub const ZONE_PREFIXES: &[(&str, &str)] = &[
    // Uruguay
    ("598", "America/Montevideo"),
    // Argentina (mobiles carry a 9 after the country code)
    ("54", "America/Argentina/Buenos_Aires"),
    ("54351", "America/Argentina/Cordoba"),
    ("549351", "America/Argentina/Cordoba"),
    ("54261", "America/Argentina/Mendoza"),
    ("549261", "America/Argentina/Mendoza"),
    ("54387", "America/Argentina/Salta"),
    ("549387", "America/Argentina/Salta"),
    ("54381", "America/Argentina/Tucuman"),
    ("549381", "America/Argentina/Tucuman"),
    ("542966", "America/Argentina/Rio_Gallegos"),
    ("5492966", "America/Argentina/Rio_Gallegos"),
    ("542901", "America/Argentina/Ushuaia"),
    ("5492901", "America/Argentina/Ushuaia"),
    // Brazil by DDD
    ("55", "America/Sao_Paulo"),
    ("5565", "America/Cuiaba"),
    ("5566", "America/Cuiaba"),
    ("5567", "America/Campo_Grande"),
    ("5568", "America/Rio_Branco"),
    ("5569", "America/Porto_Velho"),
    ("5571", "America/Bahia"),
    ("5581", "America/Recife"),
    ("5582", "America/Maceio"),
    ("5585", "America/Fortaleza"),
    ("5591", "America/Belem"),
    ("5592", "America/Manaus"),
    ("5595", "America/Boa_Vista"),
    ("5596", "America/Belem"),
    ("5598", "America/Fortaleza"),
    // Mexico
    ("52", "America/Mexico_City"),
    ("52664", "America/Tijuana"),
    ("52686", "America/Tijuana"),
    ("52662", "America/Hermosillo"),
    ("52614", "America/Chihuahua"),
    ("52669", "America/Mazatlan"),
    ("52998", "America/Cancun"),
    ("5281", "America/Monterrey"),
    // Spain
    ("34", "Europe/Madrid"),
    ("34922", "Atlantic/Canary"),
    ("34928", "Atlantic/Canary"),
    // United Kingdom
    ("44", "Europe/London"),
    // USA and Canada by area code
    ("1212", "America/New_York"),
    ("1305", "America/New_York"),
    ("1404", "America/New_York"),
    ("1617", "America/New_York"),
    ("1718", "America/New_York"),
    ("1313", "America/Detroit"),
    ("1317", "America/Indiana/Indianapolis"),
    ("1312", "America/Chicago"),
    ("1214", "America/Chicago"),
    ("1713", "America/Chicago"),
    ("1612", "America/Chicago"),
    ("1303", "America/Denver"),
    ("1801", "America/Denver"),
    ("1602", "America/Phoenix"),
    ("1480", "America/Phoenix"),
    ("1213", "America/Los_Angeles"),
    ("1415", "America/Los_Angeles"),
    ("1206", "America/Los_Angeles"),
    ("1702", "America/Los_Angeles"),
    ("1907", "America/Anchorage"),
    ("1808", "Pacific/Honolulu"),
    ("1416", "America/Toronto"),
    ("1514", "America/Toronto"),
    ("1613", "America/Toronto"),
    ("1204", "America/Winnipeg"),
    ("1306", "America/Regina"),
    ("1403", "America/Edmonton"),
    ("1780", "America/Edmonton"),
    ("1604", "America/Vancouver"),
    ("1902", "America/Halifax"),
    ("1709", "America/St_Johns"),
    ("1787", "America/Puerto_Rico"),
];

/// The zone of `number`: by [`ZONE_PREFIXES`] for an international number (`+CC…` or
/// `00CC…`), else (a national number, or an unknown prefix) `default`.
pub fn zone_for_number(number: &PhoneNumber, default: &ZoneName) -> ZoneName {
    let n = number.as_str();
    let Some(digits) = n.strip_prefix('+').or_else(|| n.strip_prefix("00")) else {
        return default.clone();
    };
    ZONE_PREFIXES
        .iter()
        .filter(|(p, _)| digits.starts_with(p))
        .max_by_key(|(p, _)| p.len())
        .and_then(|(_, z)| ZoneName::parse(z).ok())
        .unwrap_or_else(|| default.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_zone_of_the_table_is_known() {
        for (prefix, zone) in ZONE_PREFIXES {
            assert!(ZoneName::parse(zone).is_ok(), "{prefix} {zone}");
        }
    }

    #[test]
    fn zones_derived_from_numbers() {
        let default = ZoneName::parse("America/Montevideo").unwrap();
        for (number, zone) in [
            ("+59898344484", "America/Montevideo"),
            ("0059898344484", "America/Montevideo"),
            ("098344484", "America/Montevideo"),
            ("+541143214321", "America/Argentina/Buenos_Aires"),
            ("+5491143214321", "America/Argentina/Buenos_Aires"),
            ("+543514321432", "America/Argentina/Cordoba"),
            ("+5493514321432", "America/Argentina/Cordoba"),
            ("+542614321432", "America/Argentina/Mendoza"),
            ("+5511987654321", "America/Sao_Paulo"),
            ("+5521987654321", "America/Sao_Paulo"),
            ("+5592987654321", "America/Manaus"),
            ("+5568987654321", "America/Rio_Branco"),
            ("+5585987654321", "America/Fortaleza"),
            ("+525512345678", "America/Mexico_City"),
            ("+526641234567", "America/Tijuana"),
            ("+34912345678", "Europe/Madrid"),
            ("+34922123456", "Atlantic/Canary"),
            ("+442071234567", "Europe/London"),
            ("+12125551234", "America/New_York"),
            ("+13125551234", "America/Chicago"),
            ("+13035551234", "America/Denver"),
            ("+16025551234", "America/Phoenix"),
            ("+14155551234", "America/Los_Angeles"),
            ("+18085551234", "Pacific/Honolulu"),
            ("+14165551234", "America/Toronto"),
            ("+16045551234", "America/Vancouver"),
            // An area code the table does not know: the default.
            ("+19995551234", "America/Montevideo"),
            // A country the table does not know: the default.
            ("+81312345678", "America/Montevideo"),
        ] {
            let n = PhoneNumber::parse(number).unwrap();
            assert_eq!(zone_for_number(&n, &default).as_str(), zone, "{number}");
        }
    }
}
