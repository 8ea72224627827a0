//! The Keycloak zone: everything this crate knows about Keycloak in particular, as opposed
//! to the generic OAuth client around it.
//!
//! - [`rejections`]: one table of Keycloak's `error_description`s, each with the check that
//!   fails and a hint in library words. [`crate::Rejection::hint`], the doctor and the CLI's
//!   `inspect` all read it.
//! - [`versions`]: which release checks what in which order, as data, for the doctor.

pub mod admin;
pub mod doctor;
pub mod rejections;
mod urls;
pub mod versions;

pub use rejections::{Check, Description};
pub use urls::{realm_url, token_endpoint};
pub use versions::{Order, Stage, Version};

#[cfg(test)]
mod border {
    /// The generic OAuth client, module by module: none of it may hold Keycloak's words or
    /// URL layout. It may ask this zone (`crate::keycloak::...`), which is where they live.
    const GENERIC: &[(&str, &str)] = &[
        ("client.rs", include_str!("../client.rs")),
        ("dpop.rs", include_str!("../dpop.rs")),
        ("fuzzing.rs", include_str!("../fuzzing.rs")),
        ("lib.rs", include_str!("../lib.rs")),
        ("x509.rs", include_str!("../x509.rs")),
        ("endpoint.rs", include_str!("../endpoint.rs")),
        ("error.rs", include_str!("../error.rs")),
        ("form.rs", include_str!("../form.rs")),
        ("response.rs", include_str!("../response.rs")),
        ("retry.rs", include_str!("../retry.rs")),
        ("secret.rs", include_str!("../secret.rs")),
        ("source.rs", include_str!("../source.rs")),
        ("transport.rs", include_str!("../transport.rs")),
    ];

    /// The code of a module: no comments, no tests (their example URLs are data, not
    /// knowledge).
    fn code(text: &str) -> String {
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
        text.lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn nothing_outside_the_zone_knows_a_keycloak_message_or_url_layout() {
        for (file, text) in GENERIC {
            let text = code(text);
            for d in super::Description::ALL {
                assert!(
                    !text.contains(&format!("\"{}", d.text())),
                    "{file} spells Keycloak's '{d}': use crate::keycloak::Description"
                );
            }
            for layout in ["/realms/", "/protocol/openid-connect", "/admin/realms"] {
                assert!(
                    !text.contains(layout),
                    "{file} knows Keycloak's URL layout ({layout}): use crate::keycloak"
                );
            }
        }
    }
}
