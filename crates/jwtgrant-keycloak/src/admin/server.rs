//! What the server says about itself: `/admin/serverinfo`.

use serde_json::Value;

use super::AdminSession;
use super::error::AdminError;

impl AdminSession {
    /// The server's release as `/admin/serverinfo` reports it (`systemInfo.version`, e.g.
    /// `26.7.3`); `None` when the answer carries no version.
    pub fn server_version(&self) -> Result<Option<String>, AdminError> {
        let info = self.get_optional(
            "reading the server's version",
            &["admin", "serverinfo"],
            &[],
        )?;
        Ok(info
            .as_ref()
            .and_then(|v| v.pointer("/systemInfo/version"))
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// The server's enabled features as `/admin/serverinfo` lists them, in the spelling of
    /// `kc.sh --features` (`IDENTITY_ASSERTION_JWT` becomes `identity-assertion-jwt`);
    /// `None` when the answer carries no feature list.
    pub fn server_features(&self) -> Result<Option<Vec<String>>, AdminError> {
        let info = self.get_optional(
            "reading the server's features",
            &["admin", "serverinfo"],
            &[],
        )?;
        Ok(info
            .as_ref()
            .and_then(|v| v.get("features"))
            .and_then(Value::as_array)
            .map(|features| enabled_features(features)))
    }
}

/// The enabled features of a serverinfo `features` array, named as `--features` names them.
fn enabled_features(features: &[Value]) -> Vec<String> {
    features
        .iter()
        .filter(|f| f.get("enabled").and_then(Value::as_bool) == Some(true))
        .filter_map(|f| f.get("name").and_then(Value::as_str))
        .map(|name| name.to_ascii_lowercase().replace('_', "-"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_as_kc_sh_names_them() {
        let features = serde_json::json!([
            {"name": "IDENTITY_ASSERTION_JWT", "type": "EXPERIMENTAL", "enabled": true},
            {"name": "DPOP", "type": "DEFAULT", "enabled": true},
            {"name": "TOKEN_EXCHANGE", "type": "PREVIEW", "enabled": false},
        ]);
        assert_eq!(
            enabled_features(features.as_array().unwrap()),
            vec!["identity-assertion-jwt", "dpop"]
        );
    }
}
