//! `jwks serve`: wires key files to the tiny server in `crate::serve`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::Globals;
use crate::cli::ServeArgs;
use crate::serve::{Document, PATHS, Server, Watcher, watch};

pub fn run(args: &ServeArgs, g: Globals) -> Result<()> {
    let load = {
        let keys = crate::cli::JwksKeys {
            keys: args.keys.keys.clone(),
            kids: args.keys.kids.clone(),
        };
        move || super::keys::jwks_document(&keys, g)
    };
    let doc = Document::new(load()?);
    let server = Server::bind(&args.addr, doc.clone())
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = server.local_addr()?;
    let hup = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .context("cannot install the SIGHUP handler")?;
    eprintln!(
        "jwtgrant: serving the JWKS of {} key(s) at http://{addr}{} and {} (reloads on change and SIGHUP)",
        args.keys.keys.len(),
        PATHS[0],
        PATHS[1]
    );
    let watcher = Watcher::new(args.keys.keys.clone(), hup);
    std::thread::spawn(move || server.run());
    watch(watcher, Duration::from_secs(1), &doc, load)
}
