//! The proxy rule through the public API: loopback targets bypass a configured proxy,
//! remote ones use it. Both the proxy and the token endpoint are loopback stubs.

use std::time::Duration;

use jwtgrant_exchange::{Exchange, Transport};
use jwtgrant_test_support::{Reply, Stub};

/// What the proxy answers: were it ever asked for the token, this 502 would be the result.
fn proxy_stub() -> Stub {
    Stub::replies(vec![Reply::status(502)])
}

fn with_proxy(url: &str, proxy: &Stub) -> Exchange {
    let transport = Transport::new()
        .allow_insecure_http(true)
        .timeout(Duration::from_secs(5))
        .proxy(proxy.base())
        .expect("the stub's URL is a usable proxy");
    Exchange::new(url)
        .expect("url")
        .client_secret_post("c", "hunter2")
        .transport(transport)
}

#[test]
fn loopback_requests_bypass_the_proxy() {
    let proxy = proxy_stub();
    let server = Stub::replies(vec![Reply::json(
        200,
        r#"{"access_token":"direct","token_type":"Bearer"}"#,
    )]);
    let token = with_proxy(&server.url("/token"), &proxy)
        .exchange("h.p.s")
        .map(|t| t.access_token.secret().to_owned());
    assert_eq!(token.map_err(|e| e.to_string()), Ok("direct".to_owned()));
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].request_line(), "POST /token HTTP/1.1");
    // Through the proxy the answer would have been its 502; it saw no request either.
    assert!(!proxy.wait_for(1, Duration::from_millis(200)));
}

#[test]
fn remote_requests_still_use_the_proxy() {
    let proxy = proxy_stub();
    let result = with_proxy("http://kc.example/token", &proxy).exchange("h.p.s");
    assert!(result.is_err(), "{result:?}");
    assert!(proxy.wait_for(1, Duration::from_secs(5)));
    let request_line = proxy.requests()[0].request_line();
    // ureq tunnels (CONNECT kc.example:80); either form names the remote host.
    assert!(request_line.contains("kc.example"), "{request_line}");
}

#[test]
fn a_bad_proxy_url_error_keeps_no_password() {
    let Err(err) = Transport::new().proxy("http://u:hunter2@[bad:3128") else {
        panic!("an unparsable proxy URL was taken");
    };
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        err.to_string()
            .starts_with("invalid URL 'http://[redacted]@[bad:3128': not a usable proxy URL"),
        "{err}"
    );
}
