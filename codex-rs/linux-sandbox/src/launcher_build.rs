//! Which sources a mount launcher was built from, so that a host runs only the launcher
//! of its own build: both binaries link this crate, so they agree on
//! [`LAUNCHER_BUILD`] exactly when they were built from the same launcher sources. The
//! host passes its value (`--codex-launcher-build`) and the launcher refuses any other, so
//! a launcher left over from an older build (one without a later fix) is never run.

/// FNV-1a (64 bits) over the sources of everything the launcher runs of this crate,
/// computed by the compiler. Not covered: the crates it uses (`libc`, the standard
/// library) and the compiler; a launcher built from the same sources with another
/// toolchain passes.
pub(crate) const LAUNCHER_BUILD: u64 = fnv1a(&[
    include_bytes!("launch_plan.rs"),
    include_bytes!("launcher.rs"),
    include_bytes!("launcher_build.rs"),
    include_bytes!("mount_api.rs"),
    include_bytes!("mount_launcher.rs"),
    include_bytes!("mount_launcher_exec.rs"),
    include_bytes!("mount_launcher_root.rs"),
    include_bytes!("netns_pool.rs"),
    include_bytes!("private_mounts.rs"),
    include_bytes!("seccomp.rs"),
]);

const fn fnv1a(sources: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut file = 0;
    while file < sources.len() {
        let bytes = sources[file];
        let mut index = 0;
        while index < bytes.len() {
            hash ^= bytes[index] as u64;
            hash = hash.wrapping_mul(/*rhs*/ 0x0000_0100_0000_01b3);
            index += 1;
        }
        file += 1;
    }
    hash
}

/// The launcher's build (a hash of its sources, compiled into every binary that links
/// this crate) as the host writes it (`--codex-launcher-build`) and the launcher compares
/// it: what a host that runs `codex-sandbox-launcher` itself passes.
pub fn launcher_build() -> String {
    format!("{LAUNCHER_BUILD:016x}")
}
