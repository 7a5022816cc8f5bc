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

/// `command` and all its subcommands without clap's `help` subcommand.
fn without_help_subcommands(command: clap::Command) -> clap::Command {
    command
        .disable_help_subcommand(true)
        .mut_subcommands(without_help_subcommands)
}

/// A page for each visible subcommand of `parent` (page `name`, invoked as
/// `bin_name`), and of theirs.
fn add_pages(
    parent: &clap::Command,
    name: &str,
    bin_name: &str,
    pages: &mut Vec<(String, clap::Command)>,
) {
    for subcommand in parent.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let name = format!("{name}-{}", subcommand.get_name());
        let bin_name = format!("{bin_name} {}", subcommand.get_name());
        pages.push((
            name.clone(),
            subcommand
                .clone()
                .display_name(name.clone())
                .bin_name(bin_name.clone()),
        ));
        add_pages(subcommand, &name, &bin_name, pages);
    }
}

/// The man page and bash/zsh completions, from the clap definitions.
fn generate(command: clap::Command, out_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("creating `{}`", out_dir.display()))?;
    // No `help` subcommands in the pages: a page would name an
    // auth0-ingest-…-help(1) that is not generated (nor worth installing).
    let command = without_help_subcommands(command);
    // auth0-ingest(1) and one page per visible command at every depth,
    // auth0-ingest-run(1), auth0-ingest-assets-kibana(1)…: each page names
    // its subcommands' pages, and every page it names is written.
    let mut pages = vec![("auth0-ingest".to_owned(), command.clone())];
    add_pages(&command, "auth0-ingest", "auth0-ingest", &mut pages);
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
