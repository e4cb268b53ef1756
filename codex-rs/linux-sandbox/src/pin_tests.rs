use std::os::fd::AsRawFd;

use pretty_assertions::assert_eq;

use super::open_pinned;

#[test]
fn a_resolved_directory_is_pinned_and_a_symlink_on_the_way_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().canonicalize().expect("canonical");
    std::fs::create_dir_all(base.join("real/inner")).expect("mkdir");
    std::os::unix::fs::symlink(base.join("real"), base.join("link")).expect("symlink");

    let pinned = open_pinned(&base.join("real/inner")).expect("pinned");
    let through_link = open_pinned(&base.join("link/inner")).expect_err("refused");
    // The descriptor names the directory it was opened on, whatever happens to the path.
    std::fs::rename(base.join("real"), base.join("moved")).expect("rename");
    let now = std::fs::read_link(format!("/proc/self/fd/{}", pinned.as_raw_fd())).expect("link");

    assert_eq!(
        (now, through_link.to_string().contains("symlink")),
        (base.join("moved/inner"), true)
    );
}
