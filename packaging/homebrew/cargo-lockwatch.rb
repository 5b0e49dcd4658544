# Homebrew formula template for cargo-lockwatch. Builds from source with cargo.
#
# Before publishing (see docs/release.md): replace OWNER with the GitHub owner of the repository,
# set `url` to the release tag's tarball and `sha256` to its checksum:
#   curl -sL https://github.com/OWNER/cargo-lockwatch/archive/refs/tags/vX.Y.Z.tar.gz | shasum -a 256
#
# `brew services start cargo-lockwatch` runs the daemon under the label
# homebrew.mxcl.cargo-lockwatch. Use either that or `cargo lockwatch install`, not both:
# `cargo lockwatch doctor` reports a second agent as a problem.
class CargoLockwatch < Formula
  desc "Names the process holding every Cargo lock, and stops a stuck one safely"
  homepage "https://github.com/OWNER/cargo-lockwatch"
  url "https://github.com/OWNER/cargo-lockwatch/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license any_of: ["MIT", "Apache-2.0"]
  head "https://github.com/OWNER/cargo-lockwatch.git", branch: "main"

  depends_on "rust" => :build

  def install
    # The menu-bar icon needs no extra libraries on macOS; on Linux it needs GTK, so the
    # Linux build is headless (notifications and the CLI still work).
    features = OS.mac? ? ["--features", "tray"] : []
    system "cargo", "install", "--locked", *features, *std_cargo_args
    generate_completions_from_executable(bin/"cargo-lockwatch", "completions")
    system bin/"cargo-lockwatch", "man", "--dir", man1
  end

  service do
    run [opt_bin/"cargo-lockwatch", "daemon"]
    # Restart after a crash; "Quit" in the menu exits 0 and stays quit.
    keep_alive successful_exit: false
    process_type :interactive
    log_path var/"log/cargo-lockwatch.log"
    error_log_path var/"log/cargo-lockwatch.log"
  end

  def caveats
    <<~EOS
      To start the menu-bar daemon at login, either run
        brew services start cargo-lockwatch
      or
        cargo lockwatch install
      (not both). `cargo lockwatch doctor` checks the setup.
    EOS
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/cargo-lockwatch --version")
    assert_match "cargo-lockwatch", shell_output("#{bin}/cargo-lockwatch completions zsh")
    # Renders the login agent/unit without installing anything.
    output = shell_output("#{bin}/cargo-lockwatch install --print")
    assert_match(OS.mac? ? "<string>daemon</string>" : "cargo-lockwatch\" daemon", output)
  end
end
