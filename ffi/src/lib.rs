//! # gridsync-ffi
//!
//! The bindings of `gridsync-client-core` for the Android and iOS apps. This
//! is the only crate that will know about the foreign-function layer (UniFFI
//! proc-macros, see `docs/adr/`); `gridsync-client-core` stays plain Rust.
//!
//! The binding surface arrives with the handset-bindings issue. Until then
//! this crate only pins the dependency direction (`ffi` → `client-core`,
//! never the reverse) so that the workspace layout is final.

/// The version of the core library these bindings wrap.
pub fn core_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_the_workspace_version() {
        assert_eq!(super::core_version(), env!("CARGO_PKG_VERSION"));
    }
}
