//! The report model: one [`Finding`] per check replayed, its [`Status`], and the [`Report`]
//! in the server's order; `pass`, `fail` and `skip` build the lines the stages return.

use std::fmt;

use crate::{Check, Description, Order, Version};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The check passes.
    Pass,
    /// Keycloak will reject the assertion here.
    Fail,
    /// Not a rejection, but worth knowing (for example: reuse cannot be checked locally).
    Warn,
    /// Could not be evaluated because a check it depends on failed.
    Skip,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Warn => "warn",
            Status::Skip => "skip",
        })
    }
}

/// One line of the report: what replaying one of Keycloak's checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// Which of Keycloak's checks this line replays.
    pub check: Check,
    /// Stable short name, e.g. `idp-for-issuer` (the check's [`Check::name`]).
    pub name: &'static str,
    /// Pass, fail, warn or skip.
    pub status: Status,
    /// What was found, naming the values.
    pub detail: String,
    /// How to fix it (for failures and warnings), in library words.
    pub fix: Option<String>,
    /// What Keycloak answers when this check fails.
    pub rejection: Option<Description>,
}

impl Finding {
    /// The `error_description` Keycloak answers when this check fails.
    pub fn keycloak_error(&self) -> Option<&'static str> {
        self.rejection.map(Description::text)
    }
}

/// All checks, in the order of the server's release.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The checks.
    pub checks: Vec<Finding>,
    /// The order they ran in.
    pub order: Order,
    /// The server's release, when known.
    pub server_version: Option<Version>,
}

impl Report {
    /// The failure Keycloak will report (the first in its order), if any.
    pub fn first_failure(&self) -> Option<&Finding> {
        self.checks.iter().find(|c| c.status == Status::Fail)
    }

    /// True when no check fails.
    pub fn ok(&self) -> bool {
        self.first_failure().is_none()
    }

    /// The check with this name.
    pub fn get(&self, name: &str) -> Option<&Finding> {
        self.checks.iter().find(|c| c.name == name)
    }
}

pub(super) fn relative(delta: i64) -> String {
    if delta >= 0 {
        format!("in {delta} s")
    } else {
        format!("{} s ago", delta.unsigned_abs())
    }
}

pub(super) fn pass(check: Check, detail: impl Into<String>) -> Finding {
    Finding {
        check,
        name: check.name(),
        status: Status::Pass,
        detail: detail.into(),
        fix: None,
        rejection: None,
    }
}

/// A failing line: the check and Keycloak's answer come from the rejection table's row.
pub(super) fn fail(rejection: Description, detail: String, fix: &str) -> Finding {
    let check = rejection.check();
    Finding {
        check,
        name: check.name(),
        status: Status::Fail,
        detail,
        fix: Some(fix.to_owned()),
        rejection: Some(rejection),
    }
}

/// Not a rejection, but worth knowing; `fix` says what to do about it.
pub(super) fn warn(check: Check, detail: impl Into<String>, fix: &str) -> Finding {
    Finding {
        status: Status::Warn,
        fix: Some(fix.to_owned()),
        ..pass(check, detail)
    }
}

/// A check that needs what is not at hand (`needs`, e.g. "the realm's URL").
pub(super) fn unchecked(check: Check, needs: &str) -> Finding {
    Finding {
        status: Status::Skip,
        detail: format!("not checked: needs {needs}"),
        ..pass(check, "")
    }
}

pub(super) fn skip(check: Check) -> Finding {
    Finding {
        check,
        name: check.name(),
        status: Status::Skip,
        detail: "not checked: a check it depends on failed".into(),
        fix: None,
        rejection: None,
    }
}

pub(super) fn skips(checks: &[Check]) -> Vec<Finding> {
    checks.iter().map(|c| skip(*c)).collect()
}
