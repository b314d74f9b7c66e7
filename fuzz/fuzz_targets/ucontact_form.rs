//! uContact's form decoder (`facades::ucontact::wire::Form::parse`) on arbitrary bytes: it never
//! panics and decodes exactly as the WHATWG `application/x-www-form-urlencoded` parser does
//! (the `form_urlencoded` crate, as browsers and HTTP client libraries encode).
#![no_main]

use centralita::facades::ucontact::wire::Form;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let form = Form::parse(data);
    let reference: Vec<(String, String)> = form_urlencoded::parse(data)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(form.len(), reference.len());
    assert_eq!(form.is_empty(), reference.is_empty());
    for (k, _) in &reference {
        let first = reference
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str());
        assert_eq!(form.get(k), first, "field {k:?}");
        let _ = form.text(k);
    }
    if let [(_, v)] = reference.as_slice() {
        assert_eq!(form.single(), Some(v.as_str()));
    }
});
