fn main() -> std::process::ExitCode {
    kasir::cli::main()
}
