//! `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings from
//! the built library, with exactly the UniFFI version the library was built
//! with (a separately installed generator of another version would produce
//! bindings whose checksums do not match). Runs on the build host only.
//!
//! ```sh
//! cargo build --release -p gridsync-ffi
//! cargo run -p gridsync-ffi --bin uniffi-bindgen -- generate \
//!     --library target/release/libgridsync_ffi.so --language kotlin --out-dir out/kotlin
//! ```
//!
//! See `docs/MOBILE.md`.

#[cfg(not(any(target_os = "android", target_os = "ios")))]
fn main() {
    uniffi::uniffi_bindgen_main()
}

/// The generator is a build-host tool; a handset build has nothing to run.
#[cfg(any(target_os = "android", target_os = "ios"))]
fn main() {
    eprintln!("uniffi-bindgen runs on the build host: build it without --target");
    std::process::exit(2);
}
