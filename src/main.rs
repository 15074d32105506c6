//! The `unleak` binary: parse arguments, run the command, exit with its code.

fn main() {
    std::process::exit(unleak::cli::main_with_args(std::env::args_os()));
}
