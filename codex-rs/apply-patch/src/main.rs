//! `apply_patch`: apply a patch in the apply-patch format in the current directory.

fn main() {
    std::process::exit(codex_apply_patch::run_main());
}
