//! The industryData model: types read from Microsoft's CSDL, entity-set descriptors, body validation and
//! PATCH merge, rendering, reference data, the permission table and error codes. No I/O.

pub mod bind;
pub mod directory;
pub mod document;
pub mod error;
pub mod permissions;
pub mod reference;
pub mod render;
pub mod rules;
pub mod schema;
pub mod sets;
pub mod time;

pub use error::{DomainError, ErrorKind};

/// The tenant every object belongs to (the token's `tid`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(pub String);

impl TenantId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
