//! Starting the daemon at login: a launchd agent on macOS, a `systemd --user` unit on Linux,
//! both rendered from templates in the repository and embedded in the binary.
