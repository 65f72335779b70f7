//! Commands that need no database: `almanac schema` prints the GraphQL SDL the
//! server runs; `almanac hash-token` prints what `auth.tokens[].sha256` holds
//! for a token read from stdin (never from the command line, where `ps` and
//! shell history would show it).

use std::process::ExitCode;

pub fn print_schema() -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    std::io::stdout()
        .lock()
        .write_all(almanac_api::schema_sdl().as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `argument_given`: a token was passed as an argument, which is refused
/// without echoing it.
pub fn hash_token(argument_given: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !argument_given,
        "hash-token reads the token from stdin only (an argument shows in `ps` and shell \
         history): printf %s \"$TOKEN\" | almanac hash-token"
    );
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let token = line.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(
        !token.is_empty(),
        "no token on stdin: printf %s \"$TOKEN\" | almanac hash-token"
    );
    outln!("{}", almanac_api::token_hash(token))?;
    Ok(ExitCode::SUCCESS)
}
