//! `agent`: a token kept fresh in files (sinks) by a refresh-ahead [`TokenSource`], for a
//! sidecar or a systemd unit.
//!
//! The loop wakes every [`TICK`]: it asks the source for its token (a cache read while the
//! token is valid; the source renews it in the background, `--refresh-margin` ahead of
//! expiry, with the library's retries and failure backoff) and writes a token it has not
//! written yet to every sink. When the source has no valid token (an outage that outlived
//! the token), the sinks are removed, and written again with the next token. Signals are
//! flags the loop reads: SIGTERM and SIGINT end it (exit 0), SIGHUP reloads the settings.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use jwtgrant_exchange::{AccessToken, ErrorKind, TokenSource};

use crate::files;
use crate::settings::token::AgentSettings;

/// How often the loop looks at the source and the signals.
const TICK: Duration = Duration::from_millis(200);

/// Runs until SIGTERM or SIGINT. `reload` resolves the settings again (the profile, the
/// key files) for SIGHUP.
pub fn run(first: AgentSettings, reload: &dyn Fn() -> Result<AgentSettings>) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the SIGTERM/SIGINT handler")?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .context("cannot install the SIGHUP handler")?;

    let mut sinks = first.sinks.clone();
    let mut source = source(first)?;
    // The token in the sinks, and when it expires.
    let mut written: Option<(AccessToken, Instant)> = None;
    let mut last_error: Option<String> = None;
    // Until the first token: a refusal means the settings are wrong.
    let mut never_granted = true;
    log::info!("agent: keeping a token in {}", shown(&sinks));
    while !stop.load(Ordering::Relaxed) {
        if hup.swap(false, Ordering::Relaxed) {
            match reload().and_then(|s| Ok((s.sinks.clone(), self::source(s)?))) {
                Ok((new_sinks, new_source)) => {
                    log::info!("agent: SIGHUP: settings and key read again");
                    // A sink no longer named keeps no token of ours.
                    for old in sinks.iter().filter(|s| !new_sinks.contains(s)) {
                        remove(old);
                    }
                    (sinks, source, written) = (new_sinks, new_source, None);
                }
                Err(e) => log::warn!("agent: SIGHUP: {e:#}; keeping the current settings"),
            }
        }
        // Expired in the sinks: out before anything else, since asking the source for a new
        // token may now block on the network for up to --timeout.
        if written
            .as_ref()
            .is_some_and(|(_, until)| Instant::now() >= *until)
        {
            written = None;
            for sink in &sinks {
                remove(sink);
            }
            log::warn!(
                "agent: the token in {} expired before a new one came: removed (written again with the next token)",
                shown(&sinks)
            );
        }
        match source.token_until() {
            Ok((token, until)) if until > Instant::now() => {
                last_error = None;
                never_granted = false;
                if written.as_ref().map(|(t, _)| t) != Some(&token) {
                    let left = until.saturating_duration_since(Instant::now()).as_secs();
                    write_all(&sinks, &token)?;
                    log::info!(
                        "agent: wrote a new token to {} (valid for {left} s)",
                        shown(&sinks)
                    );
                    written = Some((token, until));
                }
            }
            Ok(_) => {}
            Err(e) => {
                let transient = matches!(e.kind(), ErrorKind::Unreachable | ErrorKind::BadResponse);
                if never_granted && last_error.is_none() && !transient {
                    // The very first request refused, or no assertion could be made: the
                    // settings are wrong, not the network. Waiting would not fix them.
                    return Err(e.into());
                }
                let message = format!("{:#}", anyhow::Error::from(e));
                if last_error.as_deref() != Some(message.as_str()) {
                    log::warn!("agent: refresh failed: {message}; retrying with backoff");
                }
                last_error = Some(message);
                // A failure while the written token is still valid changes nothing in the
                // sinks; its expiry is handled at the top of the loop.
            }
        }
        std::thread::sleep(TICK);
    }
    log::info!(
        "agent: stopping on a signal; {} keep the current token",
        shown(&sinks)
    );
    Ok(())
}

/// The refresh-ahead source of `s`.
fn source(s: AgentSettings) -> Result<TokenSource> {
    let AgentSettings {
        token,
        refresh_margin,
        ..
    } = s;
    let exchange = super::exchange::connect(token.client)?.retries(
        jwtgrant_exchange::RetryPolicy::attempts(token.retries.saturating_add(1)),
    );
    let assertions = token.assertions;
    Ok(TokenSource::new(exchange, move || {
        assertions
            .make()
            .map_err(|e| super::exchange::DisplayError(format!("{e:#}")))
    })
    .refresh_margin(refresh_margin)
    .refresh_ahead())
}

/// Writes `token` to every sink: temporary file and rename, mode 0600, synced.
fn write_all(sinks: &[PathBuf], token: &AccessToken) -> Result<()> {
    let contents = zeroize::Zeroizing::new(format!("{}\n", token.secret()));
    for sink in sinks {
        files::write_private(sink, contents.as_bytes(), true)
            .with_context(|| format!("cannot write the token to sink '{}'", sink.display()))?;
    }
    Ok(())
}

fn remove(sink: &PathBuf) {
    match std::fs::remove_file(sink) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => log::warn!("agent: cannot remove '{}': {e}", sink.display()),
    }
}

fn shown(sinks: &[PathBuf]) -> String {
    sinks
        .iter()
        .map(|s| format!("'{}'", s.display()))
        .collect::<Vec<_>>()
        .join(", ")
}
