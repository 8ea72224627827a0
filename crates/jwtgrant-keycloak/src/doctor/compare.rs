//! How the doctor's verdict compares with Keycloak's real answer.

use super::report::Report;
use crate::{Check, Description};

/// How the doctor's verdict compares with Keycloak's real answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Agreement {
    /// Every check passed and Keycloak issued a token.
    BothAccept,
    /// Keycloak rejected the assertion at the check the doctor named first.
    SameRejection {
        /// The failing check.
        check: Check,
    },
    /// Keycloak issued a token although the doctor predicted this rejection.
    UnexpectedToken {
        /// What the doctor predicted.
        predicted: Check,
    },
    /// Every check passed but Keycloak refused.
    UnexpectedRejection {
        /// The check Keycloak named, when its answer is in the table.
        actual: Option<Check>,
    },
    /// Both refused, for different reasons (an order the doctor does not know, or a check
    /// it cannot make, such as `jti` reuse).
    DifferentRejection {
        /// What the doctor predicted.
        predicted: Check,
        /// What Keycloak named, when its answer is in the table.
        actual: Option<Check>,
    },
    /// Keycloak gave no verdict (unreachable, or an answer that is not an OAuth error).
    NoAnswer,
}

impl Agreement {
    /// True when the doctor's verdict and Keycloak's answer say the same.
    pub fn agrees(&self) -> bool {
        matches!(
            self,
            Agreement::BothAccept | Agreement::SameRejection { .. }
        )
    }
}

/// Sets the doctor's verdict against Keycloak's real answer to the same assertion
/// (`Ok(())`: a token was issued).
pub fn compare(
    report: &Report,
    answer: Result<(), &jwtgrant_exchange::ExchangeError>,
) -> Agreement {
    let predicted = report.first_failure();
    let rejection = match answer {
        Ok(()) => {
            return match predicted {
                None => Agreement::BothAccept,
                Some(c) => Agreement::UnexpectedToken { predicted: c.check },
            };
        }
        Err(e) => match e.rejection() {
            Some(r) => r,
            None => return Agreement::NoAnswer,
        },
    };
    let actual = Check::of(rejection);
    let Some(predicted) = predicted else {
        return Agreement::UnexpectedRejection { actual };
    };
    // The same words, or the same check when only the check is comparable: a failed client
    // authentication reads differently per release and error code.
    let same = match (predicted.rejection, Description::of(rejection)) {
        (Some(p), Some(a)) => p == a || (p.check() == Check::Client && p.check() == a.check()),
        _ => predicted.check == Check::Client && actual == Some(Check::Client),
    };
    if same {
        Agreement::SameRejection {
            check: predicted.check,
        }
    } else {
        Agreement::DifferentRejection {
            predicted: predicted.check,
            actual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Check;
    use crate::doctor::testing::*;
    use crate::doctor::*;
    use serde_json::json;

    #[test]
    fn agreement_with_keycloaks_answer() {
        use jwtgrant_exchange::{ExchangeError, Rejection};
        let rejected = |status, error: &str, desc: Option<&str>| {
            ExchangeError::Rejected(Rejection::new(status, error, desc.map(str::to_owned), None))
        };
        let token = jwt(json!({"alg": "RS256"}), good_claims());
        let ok = diagnose(&snapshot(), &token, NOW, Some(&valid()));
        let mut s = snapshot();
        s.user = None;
        let no_user = diagnose(&s, &token, NOW, Some(&valid()));
        let mut s = snapshot();
        s.client = None;
        let no_client = diagnose(&s, &token, NOW, Some(&valid()));
        let not_found = rejected(400, "invalid_grant", Some("User not found"));
        let bad_sig = rejected(400, "invalid_grant", Some("Invalid signature"));
        // Any error that is not an answer (the generic client's variants are not
        // constructible here): a URL refused before sending.
        let down = jwtgrant_exchange::Exchange::new("kc:no-host").expect_err("not a url");

        assert_eq!(compare(&ok, Ok(())), Agreement::BothAccept);
        assert_eq!(
            compare(&no_user, Err(&not_found)),
            Agreement::SameRejection {
                check: Check::UserLinked
            }
        );
        assert_eq!(
            compare(&no_user, Ok(())),
            Agreement::UnexpectedToken {
                predicted: Check::UserLinked
            }
        );
        assert_eq!(
            compare(&ok, Err(&bad_sig)),
            Agreement::UnexpectedRejection {
                actual: Some(Check::Signature)
            }
        );
        assert_eq!(
            compare(&no_user, Err(&bad_sig)),
            Agreement::DifferentRejection {
                predicted: Check::UserLinked,
                actual: Some(Check::Signature)
            }
        );
        assert_eq!(compare(&no_user, Err(&down)), Agreement::NoAnswer);
        // A missing client: 401 with either code and any wording is the same check.
        for answer in [
            rejected(
                401,
                "unauthorized_client",
                Some("Invalid client or Invalid client credentials"),
            ),
            rejected(401, "invalid_client", Some("Invalid client credentials")),
            rejected(401, "invalid_client", None),
        ] {
            let a = compare(&no_client, Err(&answer));
            assert_eq!(
                a,
                Agreement::SameRejection {
                    check: Check::Client
                },
                "{answer}"
            );
            assert!(a.agrees());
        }
        assert!(!compare(&no_user, Err(&bad_sig)).agrees());
    }
}
