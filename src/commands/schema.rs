//! Commands that need no database: `almanac schema` prints the GraphQL SDL the
//! server runs; `almanac hash-token` prints what `auth.tokens[].sha256` holds.

use std::process::ExitCode;

pub fn print_schema() -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    std::io::stdout()
        .lock()
        .write_all(almanac_api::schema_sdl().as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

pub fn hash_token(token: Option<String>) -> anyhow::Result<ExitCode> {
    let token = match token {
        Some(token) => token,
        None => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    anyhow::ensure!(!token.is_empty(), "an empty token cannot be used");
    outln!("{}", almanac_api::token_hash(&token))?;
    Ok(ExitCode::SUCCESS)
}
