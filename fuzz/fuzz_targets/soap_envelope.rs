//! The SOAP envelope reader (`facades::soap::envelope::parse_request`) and the part reader
//! (`facades::soap::parts::part`) on arbitrary bytes: they answer a call or an `EnvelopeError`,
//! a part or none, never panic; and a `return` part written by `response` reads back as the
//! text it carried.
#![no_main]

use centralita::facades::soap::envelope::{parse_request, response, SoapValue};
use centralita::facades::soap::parts::part;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(call) = parse_request(data) {
        // Every part read by its name and by its position, as the facades read them.
        let names: Vec<&str> = call.params.iter().map(|(n, _)| n.as_str()).collect();
        for (i, name) in names.iter().enumerate() {
            let _ = part(&call, &names, &[("param0", "x")], i, name);
        }
        let _ = part(&call, &names, &[], call.params.len(), "param0");
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
