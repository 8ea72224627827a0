//! `jwks serve`: wires key files to the tiny server in `crate::serve`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::Globals;
use crate::cli::ServeArgs;
use crate::files;
use crate::serve::{Document, PATHS, Server, Watcher, watch};

pub fn run(args: &ServeArgs, g: &Globals) -> Result<()> {
    let load = {
        let keys = crate::cli::JwksKeys {
            keys: args.keys.keys.clone(),
            kids: args.keys.kids.clone(),
        };
        // The reload thread re-reads the key files with the same flags (and PIN).
        let g = g.clone();
        move || super::keys::jwks_document(&keys, &g)
    };
    let doc = Document::new(load()?);
    // Check the certificate and key before binding, so a mistake never leaves a port open.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls_config(cert, key, g)?),
        _ => None,
    };
    let mut server = Server::bind(&args.addr, doc.clone())
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    if let Some(config) = tls {
        server = server.with_tls(config);
    }
    let addr = server.local_addr()?;
    let scheme = server.scheme();
    let hup = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .context("cannot install the SIGHUP handler")?;
    eprintln!(
        "jwtgrant: serving the JWKS of {} key(s) at {scheme}://{addr}{} and {} (reloads on change and SIGHUP)",
        args.keys.keys.len(),
        PATHS[0],
        PATHS[1]
    );
    if !addr.ip().is_loopback() {
        eprintln!("jwtgrant: warning: {}", off_loopback_warning(addr));
    }
    let watcher = Watcher::new(args.keys.keys.clone(), hup);
    std::thread::Builder::new()
        .name("jwks-watcher".into())
        .spawn(move || watch(watcher, Duration::from_secs(1), &doc, load))
        .context("cannot start the thread that watches the key files")?;
    // Runs until it cannot go on (no worker thread could be started).
    server.run().context("cannot serve the JWKS")
}

/// Why listening off loopback deserves a second thought: the JWKS decides which assertions
/// Keycloak believes.
fn off_loopback_warning(addr: SocketAddr) -> String {
    format!(
        "listening on {addr}, which is not a loopback address: other hosts can reach this JWKS, and whoever can swap the keys it serves (on this host, or on the network path without --tls-cert) can forge assertions for every user linked to this issuer; prefer 127.0.0.1 unless Keycloak runs on another host, and then serve HTTPS (--tls-cert, --tls-key)"
    )
}

/// The TLS configuration from `--tls-cert` and `--tls-key`; the key file follows the same
/// permission rule as every other private key.
fn tls_config(cert: &Path, key: &Path, g: &Globals) -> Result<Arc<rustls::ServerConfig>> {
    let chain = files::read(cert, "TLS certificate")?;
    let key_file = files::PrivateFile::open(key, "TLS key")?;
    key_file.check(key, "TLS key", g.allow_insecure_key_permissions)?;
    crate::serve::tls_config(cert, &chain, key, key_file.bytes())
}
