//! `auth0-ingest generate-assets` (hidden): the man pages and bash/zsh
//! completions, generated from the clap definitions, for the Debian package.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

/// Writes the assets of `command` (the whole CLI) into `out_dir`.
pub fn run(command: clap::Command, out_dir: &Path) -> ExitCode {
    match generate(command, out_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The man page and bash/zsh completions, from the clap definitions.
fn generate(command: clap::Command, out_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("creating `{}`", out_dir.display()))?;
    // auth0-ingest(1) and one page per visible command, auth0-ingest-run(1)…
    let mut pages = vec![("auth0-ingest".to_owned(), command.clone())];
    for subcommand in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let name = format!("auth0-ingest-{}", subcommand.get_name());
        let bin_name = format!("auth0-ingest {}", subcommand.get_name());
        pages.push((
            name.clone(),
            subcommand.clone().display_name(name).bin_name(bin_name),
        ));
    }
    for (name, page_command) in pages {
        let mut page = Vec::new();
        clap_mangen::Man::new(page_command)
            .render(&mut page)
            .with_context(|| format!("rendering the man page {name}(1)"))?;
        let path = out_dir.join(format!("{name}.1"));
        std::fs::write(&path, page).with_context(|| format!("writing `{}`", path.display()))?;
    }
    for (shell, name) in [
        (clap_complete::Shell::Bash, "auth0-ingest.bash"),
        (clap_complete::Shell::Zsh, "_auth0-ingest"),
    ] {
        let path = out_dir.join(name);
        let mut file = std::fs::File::create(&path)
            .with_context(|| format!("writing `{}`", path.display()))?;
        clap_complete::generate(shell, &mut command.clone(), "auth0-ingest", &mut file);
    }
    Ok(())
}
