//! The SOAP envelope reader (`facades::soap::envelope::parse_request`) on arbitrary bytes: it
//! answers a call or an `EnvelopeError`, never panics; and a `return` part written by
//! `response` reads back as the text it carried.
#![no_main]

use centralita::facades::soap::envelope::{parse_request, response, SoapValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(call) = parse_request(data) {
        for (i, (name, _)) in call.params.iter().enumerate() {
            let _ = call.arg(i, name);
        }
        let _ = call.arg(call.params.len(), "param0");
    }
    // Writing then reading a string part gives the text back, less what XML cannot carry
    // (control characters other than tab and newline; CR is not kept by XML readers either).
    if let Ok(text) = std::str::from_utf8(data) {
        let answer = response("urn:fuzz", "op", &SoapValue::Str(text.to_owned()));
        let back = parse_request(answer.as_bytes()).expect("our own answer reads back");
        assert_eq!(back.operation, "opResponse");
        let want: String = text
            .chars()
            .filter(|&c| (c as u32) >= 0x20 || matches!(c, '\t' | '\n' | '\r'))
            .collect();
        let got = back.params[0].1.clone().unwrap_or_default();
        assert_eq!(got, want);
    }
});
