use codex_protocol::NetworkAccess;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;

use super::*;

fn read_only() -> SandboxPolicy {
    SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::FullAccess,
    }
}

fn workspace_write() -> SandboxPolicy {
    SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![AbsolutePathBuf::try_from_absolute("/work/extra").unwrap()],
        read_only_access: ReadOnlyAccess::Restricted {
            include_platform_defaults: true,
            readable_roots: Vec::new(),
        },
        network_access: true,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: false,
    }
}

#[test]
fn restricted_policies_get_the_platform_backend() {
    for policy in [read_only(), workspace_write()] {
        assert_eq!(
            sandbox_type(&policy, Platform::Macos),
            Ok(SandboxType::MacosSeatbelt)
        );
        assert_eq!(
            sandbox_type(&policy, Platform::Linux),
            Ok(SandboxType::LinuxBubblewrap)
        );
    }
}

#[test]
fn restricted_policies_fail_closed_without_a_backend() {
    for platform in [Platform::Windows, Platform::Other] {
        assert_eq!(
            sandbox_type(&read_only(), platform),
            Err(SandboxingError::UnsupportedPlatform {
                platform,
                policy_type: "readOnly",
            })
        );
        assert_eq!(
            sandbox_type(&workspace_write(), platform),
            Err(SandboxingError::UnsupportedPlatform {
                platform,
                policy_type: "workspaceWrite",
            })
        );
    }
}

#[test]
fn unrestricted_policies_need_no_sandbox_anywhere() {
    let unrestricted = [
        SandboxPolicy::DangerFullAccess,
        SandboxPolicy::ExternalSandbox {
            network_access: NetworkAccess::Restricted,
        },
        SandboxPolicy::ExternalSandbox {
            network_access: NetworkAccess::Enabled,
        },
    ];
    for policy in unrestricted {
        for platform in [
            Platform::Macos,
            Platform::Linux,
            Platform::Windows,
            Platform::Other,
        ] {
            assert_eq!(sandbox_type(&policy, platform), Ok(SandboxType::None));
        }
    }
}

#[test]
fn current_platform_matches_the_compile_target() {
    let expected = match std::env::consts::OS {
        "macos" => Platform::Macos,
        "linux" => Platform::Linux,
        "windows" => Platform::Windows,
        _ => Platform::Other,
    };
    assert_eq!(Platform::current(), expected);
    assert_eq!(
        sandbox_type_for_platform(&read_only()),
        sandbox_type(&read_only(), expected)
    );
}

#[test]
fn unsupported_platform_error_says_what_to_do() {
    let error = sandbox_type(&read_only(), Platform::Windows).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no sandbox backend exists on Windows to enforce a `readOnly` policy; run the \
         command on macOS or Linux, or use `dangerFullAccess` / `externalSandbox` if it is \
         confined some other way"
    );
}
