//! The `slipway` CLI, built as a binary of this package so that cargo builds
//! it before the e2e tests run (`slipway_e2e::slipway_bin` finds it): no
//! test runs `cargo build`.

fn main() -> std::process::ExitCode {
    slipway::main()
}
