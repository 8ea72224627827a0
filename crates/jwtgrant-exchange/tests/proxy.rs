//! The proxy rule through the public API: a proxy comes from the environment, loopback
//! targets bypass it, remote ones use it.
//!
//! The only public way to set a proxy is the environment, and this workspace forbids the
//! `unsafe` that `std::env::set_var` needs. So each case runs this test binary again as a
//! child with `HTTP_PROXY` set (`harness = false`: `main` tells parent from child by
//! `CHILD_URL`), and the parent checks what the child printed and what the loopback stubs
//! saw. The closing line is libtest's, so `cargo xtask ci` counts these cases.

use std::process::Command;
use std::time::{Duration, Instant};

use jwtgrant_exchange::Exchange;
use jwtgrant_test_support::{Reply, Stub};

/// Set in the child: the token endpoint to call.
const CHILD_URL: &str = "JWTGRANT_PROXY_TEST_CHILD_URL";

/// Every variable ureq reads for a proxy, cleared in the child before `HTTP_PROXY` is set.
const PROXY_VARS: &[&str] = &[
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

fn main() {
    if let Ok(url) = std::env::var(CHILD_URL) {
        child(&url);
        return;
    }
    let started = Instant::now();
    let cases: &[(&str, fn())] = &[
        (
            "loopback_requests_bypass_the_proxy",
            loopback_requests_bypass_the_proxy,
        ),
        (
            "remote_requests_still_use_the_proxy",
            remote_requests_still_use_the_proxy,
        ),
    ];
    println!("\nrunning {} tests", cases.len());
    let mut failed = Vec::new();
    for (name, case) in cases {
        let ok = std::panic::catch_unwind(case).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failed.push(*name);
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        cases.len() - failed.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

/// One exchange at `url` with the environment's proxy; prints `token: T` or `error: E`.
fn child(url: &str) {
    let outcome = Exchange::new(url).and_then(|x| {
        x.client_secret_post("c", "hunter2")
            .allow_insecure_http(true)
            .timeout(Duration::from_secs(5))
            .exchange("h.p.s")
    });
    match outcome {
        Ok(token) => println!("token: {}", token.access_token.secret()),
        Err(e) => println!("error: {e}"),
    }
}

/// Runs the child against `url` with `HTTP_PROXY` pointing at `proxy`; its one output line.
fn exchange_in_child(url: &str, proxy: &Stub) -> String {
    let exe = std::env::current_exe().expect("this test binary");
    let mut cmd = Command::new(exe);
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    let out = cmd
        .env("HTTP_PROXY", proxy.base())
        .env(CHILD_URL, url)
        .output()
        .expect("run the child");
    assert!(out.status.success(), "child: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

const PROXY_REPLY: u16 = 502;

fn loopback_requests_bypass_the_proxy() {
    let proxy = Stub::replies(vec![Reply::status(PROXY_REPLY)]);
    let server = Stub::replies(vec![Reply::json(
        200,
        r#"{"access_token":"direct","token_type":"Bearer"}"#,
    )]);
    assert_eq!(
        exchange_in_child(&server.url("/token"), &proxy),
        "token: direct"
    );
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].request_line(), "POST /token HTTP/1.1");
    // Through the proxy the answer would have been its 502; it saw no request either.
    assert!(!proxy.wait_for(1, Duration::from_millis(200)));
}

fn remote_requests_still_use_the_proxy() {
    let proxy = Stub::replies(vec![Reply::status(PROXY_REPLY)]);
    let line = exchange_in_child("http://kc.example/token", &proxy);
    assert!(line.starts_with("error: "), "{line}");
    assert!(proxy.wait_for(1, Duration::from_secs(5)), "{line}");
    let request_line = proxy.requests()[0].request_line();
    // ureq tunnels (CONNECT kc.example:80); either form names the remote host.
    assert!(request_line.contains("kc.example"), "{request_line}");
}
