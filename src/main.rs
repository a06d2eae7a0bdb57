fn main() {
    std::process::exit(redsh::run(std::env::args_os()));
}
