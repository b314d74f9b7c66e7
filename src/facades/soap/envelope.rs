//! The SOAP 1.1 envelope, as PHP SoapServer's rpc services read and write it: a pure codec.
//!
//! Reading ([`parse_request`]) is lenient where real clients differ and strict where safety
//! needs it:
//! - any namespace prefixes (or none), SOAP 1.1 or 1.2 envelope namespaces;
//! - parts with or without `xsi:type`; `xsi:nil="true"` and empty elements are absent values;
//! - parts are kept in the order they came, with their local names, so an operation can read
//!   them by name or by position (`super::parts`);
//! - a DOCTYPE (entity expansion) is refused, and so is anything that is not one well-formed
//!   `Envelope` with a `Body` holding one operation element (no second root, no text outside
//!   the root, no second element in the Body).
//!
//! Writing ([`response`], [`fault`]) produces the rpc/encoded shape PHP SoapServer sends:
//! `<ns1:{op}Response><return xsi:type="xsd:...">...</return></ns1:{op}Response>`.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// The deepest element nesting accepted in a request.
const MAX_DEPTH: usize = 32;

/// Most parts an operation element may hold (the widest documented operation has 7): one
/// more is refused as soon as it starts, before the rest of the body is read.
pub const MAX_PARTS: usize = 64;

/// One decoded rpc call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoapCall {
    /// The operation: the local name of the Body's first element.
    pub operation: String,
    /// The parts, in the order they came: local name and value (`None`: `xsi:nil` or empty).
    pub params: Vec<(String, Option<String>)>,
}

/// Why a request is not a SOAP call; the text becomes the Fault's `faultstring`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not well-formed XML (or not UTF-8).
    #[error("Bad Request: the body is not well-formed XML")]
    NotXml,
    /// A DOCTYPE declaration: refused (entity expansion).
    #[error("Bad Request: DOCTYPE is not allowed")]
    Doctype,
    /// The root is not a SOAP `Envelope`.
    #[error("Bad Request: the root element is not a SOAP Envelope")]
    NoEnvelope,
    /// The envelope has no `Body`, or the Body no operation element.
    #[error("Bad Request: the SOAP Body holds no operation")]
    NoOperation,
    /// The Body holds more than one element (PHP SoapServer refuses it too).
    #[error("Bad Request: the SOAP Body holds more than one operation")]
    SeveralOperations,
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("Bad Request: elements nested too deep")]
    TooDeep,
    /// More than [`MAX_PARTS`] parts.
    #[error("Bad Request: too many parts")]
    TooManyParts,
}

fn local(name: &[u8]) -> String {
    let name = match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    String::from_utf8_lossy(name).into_owned()
}

fn is_nil(e: &BytesStart<'_>) -> bool {
    e.attributes()
        .flatten()
        .any(|a| local(a.key.as_ref()) == "nil" && matches!(a.value.as_ref(), b"true" | b"1"))
}

/// Decodes an rpc request body.
pub fn parse_request(body: &[u8]) -> Result<SoapCall, EnvelopeError> {
    let mut reader = Reader::from_reader(body);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = true;
    config.check_end_names = true;

    // Path of local names from the root to the current element.
    let mut path: Vec<String> = Vec::new();
    let mut operation: Option<String> = None;
    let mut params: Vec<(String, Option<String>)> = Vec::new();
    // The part being read: its text so far and whether it was nil.
    let mut part: Option<(String, String, bool)> = None;
    // Whether the root element was closed: nothing but whitespace, comments and processing
    // instructions may follow it.
    let mut root_done = false;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|_| EnvelopeError::NotXml)?;
        match event {
            Event::DocType(_) => return Err(EnvelopeError::Doctype),
            Event::Start(e) => {
                let name = local(e.name().as_ref());
                match path.len() {
                    0 if root_done => return Err(EnvelopeError::NotXml),
                    0 if name != "Envelope" => return Err(EnvelopeError::NoEnvelope),
                    2 if path[1] == "Body" && operation.is_none() => {
                        operation = Some(name.clone());
                    }
                    2 if path[1] == "Body" => return Err(EnvelopeError::SeveralOperations),
                    3 if path[1] == "Body" && operation.as_deref() == Some(path[2].as_str()) => {
                        if params.len() >= MAX_PARTS {
                            return Err(EnvelopeError::TooManyParts);
                        }
                        part = Some((name.clone(), String::new(), is_nil(&e)));
                    }
                    _ => {}
                }
                path.push(name);
                if path.len() > MAX_DEPTH {
                    return Err(EnvelopeError::TooDeep);
                }
            }
            Event::End(_) => {
                if path.len() == 4 && path[1] == "Body" {
                    if let Some((name, text, nil)) = part.take() {
                        let value = (!nil && !text.is_empty()).then_some(text);
                        params.push((name, value));
                    }
                }
                path.pop();
                root_done |= path.is_empty();
            }
            // Only whitespace may stand outside the root (the arm below ignores it there).
            Event::Text(t) if path.is_empty() && !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(EnvelopeError::NotXml);
            }
            Event::CData(_) if path.is_empty() => return Err(EnvelopeError::NotXml),
            Event::Text(t) => {
                if let Some((_, text, _)) = part.as_mut() {
                    if path.len() == 4 {
                        let t = t.unescape().map_err(|_| EnvelopeError::NotXml)?;
                        text.push_str(&t);
                    }
                }
            }
            Event::CData(t) => {
                if let Some((_, text, _)) = part.as_mut() {
                    if path.len() == 4 {
                        text.push_str(std::str::from_utf8(&t).map_err(|_| EnvelopeError::NotXml)?);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !path.is_empty() {
        return Err(EnvelopeError::NotXml);
    }
    let operation = operation.ok_or(EnvelopeError::NoOperation)?;
    Ok(SoapCall { operation, params })
}

/// An rpc answer's single `return` part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SoapValue {
    /// `xsd:int`.
    Int(i64),
    /// `xsd:string` (an XML document or JSON text travels escaped inside it).
    Str(String),
    /// `xsd:boolean`.
    Bool(bool),
}

/// Escapes text for element content or a double-quoted attribute. The runs between the
/// characters it replaces are copied whole (a panel document is mostly such runs).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut run = 0;
    for (i, b) in text.bytes().enumerate() {
        // Only ASCII bytes are replaced, so `i` is always a character boundary.
        let with = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            // Characters XML 1.0 cannot carry at all.
            b if b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') => "",
            _ => continue,
        };
        out.push_str(&text[run..i]);
        out.push_str(with);
        run = i + 1;
    }
    out.push_str(&text[run..]);
    out
}

const ENVELOPE_OPEN: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    "\n",
    r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/""#,
);

/// The response envelope for `operation` in `namespace` with `value` as its `return` part.
pub fn response(namespace: &str, operation: &str, value: &SoapValue) -> String {
    let (xsd, text) = match value {
        SoapValue::Int(n) => ("xsd:int", n.to_string()),
        SoapValue::Str(s) => ("xsd:string", escape(s)),
        SoapValue::Bool(b) => ("xsd:boolean", b.to_string()),
    };
    format!(
        "{ENVELOPE_OPEN} xmlns:ns1=\"{ns}\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:SOAP-ENC=\"http://schemas.xmlsoap.org/soap/encoding/\" \
         SOAP-ENV:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">\
         <SOAP-ENV:Body><ns1:{op}Response><return xsi:type=\"{xsd}\">{text}</return>\
         </ns1:{op}Response></SOAP-ENV:Body></SOAP-ENV:Envelope>\n",
        ns = escape(namespace),
        op = escape(operation),
    )
}

/// A request envelope calling `operation` in `namespace` with string `parts` (the shape PHP
/// SoapClient sends in rpc/encoded style): what the engine sends to a customer's SOAP service.
pub fn request(namespace: &str, operation: &str, parts: &[(&str, &str)]) -> String {
    let mut body = String::new();
    for (name, value) in parts {
        body.push_str(&format!(
            "<{n} xsi:type=\"xsd:string\">{v}</{n}>",
            n = escape(name),
            v = escape(value)
        ));
    }
    format!(
        "{ENVELOPE_OPEN} xmlns:ns1=\"{ns}\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:SOAP-ENC=\"http://schemas.xmlsoap.org/soap/encoding/\" \
         SOAP-ENV:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">\
         <SOAP-ENV:Body><ns1:{op}>{body}</ns1:{op}></SOAP-ENV:Body></SOAP-ENV:Envelope>\n",
        ns = escape(namespace),
        op = escape(operation),
    )
}

/// Who is to blame for a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultCode {
    /// The request (`SOAP-ENV:Client`).
    Client,
    /// The server (`SOAP-ENV:Server`).
    Server,
}

/// A SOAP Fault envelope.
pub fn fault(code: FaultCode, message: &str) -> String {
    let code = match code {
        FaultCode::Client => "SOAP-ENV:Client",
        FaultCode::Server => "SOAP-ENV:Server",
    };
    format!(
        "{ENVELOPE_OPEN}><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>{code}</faultcode>\
         <faultstring>{}</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n",
        escape(message)
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn escape_replaces_markup_drops_what_xml_cannot_carry_and_keeps_the_rest() {
        for (text, escaped) in [
            ("", ""),
            ("plain ñandú", "plain ñandú"),
            (
                "<a b=\"1\">&</a>",
                "&lt;a b=&quot;1&quot;&gt;&amp;&lt;/a&gt;",
            ),
            ("tab\tnl\ncr\r", "tab\tnl\ncr\r"),
            ("\u{1}x\u{1f}é\u{0}", "xé"),
            ("'single' stays", "'single' stays"),
        ] {
            assert_eq!(escape(text), escaped, "{text:?}");
        }
    }

    /// A decoded call with these parts (`None`: absent), for tests.
    pub(crate) fn call(op: &str, params: &[(&str, Option<&str>)]) -> SoapCall {
        SoapCall {
            operation: op.into(),
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.map(str::to_owned)))
                .collect(),
        }
    }

    #[test]
    fn reads_php_soapclient_rpc_encoded() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="urn:apiws" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><SOAP-ENV:Body><ns1:originateCall><authorizedKey xsi:type="xsd:string">k.s</authorizedKey><exten xsi:type="xsd:string">1001</exten><number xsi:nil="true"/><callinfo xsi:type="xsd:string">a=1,b=&lt;x&gt;</callinfo><empty xsi:type="xsd:string"></empty></ns1:originateCall></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
        assert_eq!(
            parse_request(body).unwrap(),
            call(
                "originateCall",
                &[
                    ("authorizedKey", Some("k.s")),
                    ("exten", Some("1001")),
                    ("number", None),
                    ("callinfo", Some("a=1,b=<x>")),
                    ("empty", None),
                ]
            )
        );
    }

    #[test]
    fn reads_zeep_style_without_types_and_soap12_prefixes() {
        let body = br#"<soap-env:Envelope xmlns:soap-env="http://www.w3.org/2003/05/soap-envelope"><soap-env:Header/><soap-env:Body><ns0:getPauses xmlns:ns0="urn:x"><token>abc</token><extra><![CDATA[1 & 2]]></extra></ns0:getPauses></soap-env:Body></soap-env:Envelope>"#;
        let c = parse_request(body).unwrap();
        assert_eq!(c.operation, "getPauses");
        assert_eq!(
            c,
            call(
                "getPauses",
                &[("token", Some("abc")), ("extra", Some("1 & 2"))]
            )
        );
    }

    #[test]
    fn refuses_what_is_not_one_envelope() {
        let cases: &[(&[u8], EnvelopeError)] = &[
            (b"", EnvelopeError::NoEnvelope),
            (b"not xml <", EnvelopeError::NotXml),
            (b"<Envelope><b></Envelope>", EnvelopeError::NotXml),
            (b"<html/>", EnvelopeError::NoEnvelope),
            (
                b"<!DOCTYPE x [<!ENTITY e 'boom'>]><Envelope/>",
                EnvelopeError::Doctype,
            ),
            (
                b"<S:Envelope xmlns:S='u'><S:Body/></S:Envelope>",
                EnvelopeError::NoOperation,
            ),
            (b"<Envelope><Body><op>", EnvelopeError::NotXml),
        ];
        for (body, want) in cases {
            let got = parse_request(body);
            let want = if body.is_empty() {
                // An empty body has no root at all.
                EnvelopeError::NoOperation
            } else {
                want.clone()
            };
            assert_eq!(got, Err(want), "{}", String::from_utf8_lossy(body));
        }
        let deep = format!(
            "<Envelope><Body><op><p>{}{}</p></op></Body></Envelope>",
            "<x>".repeat(40),
            "</x>".repeat(40)
        );
        assert_eq!(parse_request(deep.as_bytes()), Err(EnvelopeError::TooDeep));
    }

    #[test]
    fn refuses_a_second_root_text_outside_and_a_second_operation() {
        // Read before: the second root's Body added its parts to the first call, and a second
        // operation of the same name its parts to the first.
        let cases: &[(&[u8], EnvelopeError)] = &[
            (
                b"<Envelope><Body><op><a>1</a></op></Body></Envelope><Envelope><Body><op><b>2</b></op></Body></Envelope>",
                EnvelopeError::NotXml,
            ),
            (
                b"<Envelope><Body><op><a>1</a></op></Body></Envelope><x/>",
                EnvelopeError::NotXml,
            ),
            (
                b"<Envelope><Body><op><a>1</a></op></Body></Envelope>junk",
                EnvelopeError::NotXml,
            ),
            (b"junk<Envelope><Body><op/></Body></Envelope>", EnvelopeError::NotXml),
            (
                b"<Envelope><Body><op><a>1</a></op><op><b>2</b></op></Body></Envelope>",
                EnvelopeError::SeveralOperations,
            ),
            (
                b"<Envelope><Body><op><a>1</a></op><other/></Body></Envelope>",
                EnvelopeError::SeveralOperations,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(
                parse_request(body),
                Err(want.clone()),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // Whitespace, comments and processing instructions around the root are fine.
        let ok = b"<?xml version='1.0'?>\n<!-- c --><Envelope><Body><op><a>1</a></op></Body></Envelope>\n<!-- end -->\n";
        let bom = b"\xEF\xBB\xBF<Envelope><Body><op><a>1</a></op></Body></Envelope>";
        for body in [&ok[..], &bom[..]] {
            let params = parse_request(body).unwrap().params;
            assert_eq!(params, vec![("a".to_owned(), Some("1".to_owned()))]);
        }
    }

    #[test]
    fn writes_rpc_encoded_answers_and_faults() {
        let r = response(
            "urn:apiws",
            "statusSms",
            &SoapValue::Str("<a b=\"1\">&</a>".into()),
        );
        assert!(r.contains("<ns1:statusSmsResponse><return xsi:type=\"xsd:string\">&lt;a b=&quot;1&quot;&gt;&amp;&lt;/a&gt;</return>"), "{r}");
        let back = parse_request(r.as_bytes()).unwrap();
        assert_eq!(back.operation, "statusSmsResponse");
        assert_eq!(back.params[0].1.as_deref(), Some("<a b=\"1\">&</a>"));
        let n = response("urn:x", "op", &SoapValue::Int(-1));
        assert!(n.contains("<return xsi:type=\"xsd:int\">-1</return>"));
        let f = fault(FaultCode::Client, "Bad <thing>");
        assert!(f.contains(
            "<faultcode>SOAP-ENV:Client</faultcode><faultstring>Bad &lt;thing&gt;</faultstring>"
        ));
    }
}
