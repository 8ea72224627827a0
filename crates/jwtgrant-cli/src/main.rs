//! The `jwtgrant` command. Skeleton: filled in by the CLI issue.

fn main() {
    eprintln!("jwtgrant: not implemented yet");
    std::process::exit(1);
}
