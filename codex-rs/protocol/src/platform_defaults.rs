//! System locations a process needs to read in order to run at all (its binaries,
//! shared libraries, configuration), granted by `readOnlyAccess.includePlatformDefaults`.
//!
//! The lists are deliberately system-only: nothing under a home directory, no shared
//! scratch space (`/tmp`). They are compared against *resolved* paths, so they name the
//! targets of the usual symlinks (`/private/etc` rather than `/etc` on macOS).
//!
//! `/proc`, `/sys` and `/dev` are left out on purpose even though processes use them:
//! through the filesystem layer `/proc/<pid>/environ` would hand out the server's own
//! environment (including its auth token) and `/dev/zero` never ends. Process sandboxes
//! mount fresh, private `/proc` and `/dev` themselves, so they do not need this grant.

/// Linux: binaries, libraries and `/etc`, plus the Nix store and a NixOS system profile.
pub const LINUX_DEFAULT_READ_ROOTS: &[&str] = &[
    "/bin",
    "/sbin",
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/nix/store",
    "/run/current-system/sw",
];

/// macOS: the sealed system volume, Unix binaries and libraries, and the system-wide
/// configuration Apple's own sandbox profiles allow.
pub const MACOS_DEFAULT_READ_ROOTS: &[&str] = &[
    "/System",
    "/usr",
    "/bin",
    "/sbin",
    "/Library/Apple",
    "/Library/Filesystems/NetFSPlugins",
    "/Library/Preferences",
    "/private/etc",
    "/private/var/db/timezone",
];

/// The default read roots of the platform this crate is compiled for; empty on any
/// other platform, so `includePlatformDefaults` grants nothing there (fail closed).
#[cfg(target_os = "linux")]
pub const PLATFORM_DEFAULT_READ_ROOTS: &[&str] = LINUX_DEFAULT_READ_ROOTS;

/// The default read roots of the platform this crate is compiled for; empty on any
/// other platform, so `includePlatformDefaults` grants nothing there (fail closed).
#[cfg(target_os = "macos")]
pub const PLATFORM_DEFAULT_READ_ROOTS: &[&str] = MACOS_DEFAULT_READ_ROOTS;

/// The default read roots of the platform this crate is compiled for; empty on any
/// other platform, so `includePlatformDefaults` grants nothing there (fail closed).
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub const PLATFORM_DEFAULT_READ_ROOTS: &[&str] = &[];
