//! `sign`, and the clock the commands share.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow};

use crate::files;
use crate::settings::assertion::Assertions;

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn run(assertions: &Assertions) -> Result<()> {
    let token = assertions.make().map_err(|e| anyhow!("{e:#}"))?;
    files::println(&token)
}
