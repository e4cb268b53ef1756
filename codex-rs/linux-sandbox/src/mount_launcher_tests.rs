use std::io::Write;

use super::monitor_gone;
use super::without_os_error_numbers;

#[test]
fn the_monitor_is_gone_once_its_end_of_the_lifeline_is_closed() {
    let (read, write) = crate::launcher::cloexec_pipe().expect("pipe");
    let (read, mut write) = (std::fs::File::from(read), std::fs::File::from(write));
    assert!(!monitor_gone(&read), "open and empty");
    write.write_all(b"x").expect("write");
    assert!(!monitor_gone(&read), "open with the go-ahead unread");
    drop(write);
    assert!(monitor_gone(&read), "closed");
}

#[test]
fn messages_are_worded_as_bubblewrap_words_them() {
    assert_eq!(
        without_os_error_numbers(
            "execvp /bin/sh: No such file or directory (os error 2); x: Bad (os error 9)"
        ),
        "execvp /bin/sh: No such file or directory; x: Bad"
    );
}
