fn main() -> std::process::ExitCode {
    slipway::main()
}
