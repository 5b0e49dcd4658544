//! Sets the `tray` cfg: the menu-bar icon is built in on macOS always (it needs no extra
//! libraries there and is the product), and on Linux with the `tray` feature (it needs GTK).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(tray)");
    let macos = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "macos");
    if macos || std::env::var_os("CARGO_FEATURE_TRAY").is_some() {
        println!("cargo::rustc-cfg=tray");
    }
}
