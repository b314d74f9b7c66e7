//! The HTTP server's own defences, against the real server (`http::run` on 127.0.0.1:0 over
//! raw TCP): half-open connections are closed after the header and body timeouts while normal
//! clients are served, and a panicking handler gets its vendor's error answer while the next
//! request is served as usual.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::routing::{get, post};
use axum::Router;
use centralita::facades::soap::{
    self, RequestContext, SoapCall, SoapError, SoapService, SoapValue,
};
use centralita::facades::ucontact;
use centralita::http::{self, HttpLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A SOAP service whose `boom` operation panics.
struct Panicky;
impl SoapService for Panicky {
    fn namespace(&self) -> &str {
        "urn:apiws"
    }
    fn wsdl(&self) -> &str {
        "<definitions/>"
    }
    async fn call(&self, call: SoapCall, _ctx: RequestContext) -> Result<SoapValue, SoapError> {
        match call.operation.as_str() {
            "boom" => panic!("secret internal state 0xdeadbeef"),
            _ => Ok(SoapValue::Int(1)),
        }
    }
}

async fn boom() -> &'static str {
    panic!("secret internal state 0xdeadbeef")
}

fn facades() -> Router {
    let integra = ucontact::answer_panics(
        Router::new()
            .route("/Integra/resources/test/boom", post(boom))
            .route("/Integra/resources/test/ok", post(|| async { "1" })),
    );
    Router::new()
        .merge(soap::routes("/apiws/2/apiws.php", Arc::new(Panicky)))
        .merge(integra)
        .route("/other/boom", get(boom))
        .route("/echo", post(|body: Bytes| async move { body }))
}

async fn serve(limits: HttpLimits) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = http::router(Arc::new(http::FixedHealth::healthy()), facades(), limits);
    tokio::spawn(http::run(listener, router, limits, std::future::pending()));
    addr
}

/// Writes `request` on `conn` and reads one answer (it must carry `Content-Length`):
/// `(status, body)`.
async fn exchange(conn: &mut TcpStream, request: &str) -> (u16, String) {
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "closed before the answer: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("content-length");
            if body.len() >= len {
                let status = head[9..12].parse().unwrap();
                return (status, body[..len].to_owned());
            }
        }
    }
}

async fn get_healthz(addr: std::net::SocketAddr) -> u16 {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    exchange(
        &mut conn,
        "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await
    .0
}

/// Reads until the server closes `conn`; what it sent before closing.
async fn until_closed(mut conn: TcpStream) -> String {
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_half_open_connections_are_closed_after_the_timeouts_and_others_are_served() {
    let limits = HttpLimits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(2),
        ..HttpLimits::default()
    };
    let addr = serve(limits).await;

    // 50 that send nothing, 50 that never finish their headers, 100 whose body trickles one
    // byte at a time.
    let mut headers_unfinished = Vec::new();
    for i in 0..100 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        if i % 2 == 0 {
            c.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                .await
                .unwrap();
        }
        headers_unfinished.push(c);
    }
    let mut trickling = Vec::new();
    for _ in 0..100 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nx")
            .await
            .unwrap();
        let (read, mut write) = c.into_split();
        // One byte every 100 ms for as long as the server takes them.
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if write.write_all(b"x").await.is_err() {
                    break;
                }
            }
        });
        trickling.push(read);
    }

    // Normal clients are served while all 200 are held open.
    for _ in 0..20 {
        assert_eq!(get_healthz(addr).await, 200);
    }
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let (status, body) = exchange(
        &mut conn,
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "hello"));

    // Every half-open connection is closed by the server (a guard, not a measurement: without
    // the timeouts they stay open forever).
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        let mut answers = Vec::new();
        for c in headers_unfinished {
            answers.push(until_closed(c).await);
        }
        for mut r in trickling {
            let mut got = Vec::new();
            let _ = r.read_to_end(&mut got).await;
            answers.push(String::from_utf8_lossy(&got).into_owned());
        }
        answers
    })
    .await
    .expect("the server closed every half-open connection");
    // The trickling ones were refused, not answered as if whole.
    for a in &closed[100..] {
        assert!(!a.starts_with("HTTP/1.1 200"), "{a}");
    }
    assert_eq!(get_healthz(addr).await, 200);
}

#[tokio::test]
async fn a_panicking_handler_gets_its_vendors_error_and_the_next_request_is_served() {
    let addr = serve(HttpLimits::default()).await;
    let envelope = |op: &str| {
        format!(
            "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\"><e:Body>\
             <m:{op} xmlns:m=\"urn:apiws\"/></e:Body></e:Envelope>"
        )
    };
    let post = |path: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    // One keep-alive connection through all of it.
    let mut conn = TcpStream::connect(addr).await.unwrap();

    let (status, body) = exchange(&mut conn, &post("/apiws/2/apiws.php", &envelope("boom"))).await;
    assert_eq!(status, 500);
    assert!(
        body.contains("<faultcode>SOAP-ENV:Server</faultcode>"),
        "{body}"
    );
    assert!(body.contains("Internal error"), "{body}");
    assert!(!body.contains("deadbeef"), "{body}");
    let (status, body) = exchange(&mut conn, &post("/apiws/2/apiws.php", &envelope("fine"))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(">1</return>"), "{body}");

    let (status, body) = exchange(&mut conn, &post("/Integra/resources/test/boom", "")).await;
    assert_eq!((status, body.as_str()), (503, "0"));
    let (status, body) = exchange(&mut conn, &post("/Integra/resources/test/ok", "")).await;
    assert_eq!((status, body.as_str()), (200, "1"));

    let (status, body) = exchange(&mut conn, "GET /other/boom HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(status, 500);
    assert_eq!(body, r#"{"error":"internal error"}"#);
    let (status, _) = exchange(&mut conn, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(status, 200);
}
