//! The `cargo-lockwatch` binary: parse arguments, run the command, map the outcome to an exit
//! code. All behaviour is in the library.

fn main() {
    std::process::exit(lockwatch::cli::main(std::env::args_os().collect()));
}
