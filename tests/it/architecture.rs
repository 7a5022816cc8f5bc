//! The shape of `src/`, checked: the rules `ARCHITECTURE.md` states under
//! "Layering" hold for the code as it is, so a change that breaks one fails
//! here instead of in a reviewer's head.
//!
//! - **No circle between files**: the graph "file A uses an item defined in
//!   file B" has no cycle. A `mod.rs` that only declares or re-exports its
//!   children is not an edge: a path through a re-export resolves to the file
//!   that defines the item.
//! - **No arrow up**: a top-level module imports only from modules in a lower
//!   layer of [`LAYERS`].
//! - **Small rooms**: no file over [`MAX_FILE_LINES`] lines and no function
//!   over [`MAX_FN_LINES`] lines, test code apart.
//!
//! The graph is read with `syn` (the Rust parser proc macros use): every `use`
//! tree and every path in the code, outside `#[cfg(test)]` items.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The layers of `src/`, bottom first: a module may import only from
/// modules of a lower layer (and from its own files). Keep in step with
/// `ARCHITECTURE.md`.
const LAYERS: &[&[&str]] = &[
    &[
        "secret",
        "event",
        "shutdown",
        "private_files",
        "systemd",
        "backoff",
        "error_chain",
    ],
    &["pipeline", "fields"],
    &["telemetry"],
    &["spool"],
    &["enrichment", "delivery"],
    &["inputs", "outputs"],
    &["setup", "admin", "convert"],
    &["config"],
    &["reload"],
    &["app"],
    // The binary: `main.rs` and its `commands/`.
    &["<main>", "commands"],
];

const MAX_FILE_LINES: usize = 700;
const MAX_FN_LINES: usize = 120;

type Module = Vec<String>;

struct SourceFile {
    path: PathBuf,
    module: Module,
    is_dir_module: bool,
    syntax: syn::File,
    text: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn module_of(relative: &Path) -> (Module, bool) {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs").to_string();
    match (parts.is_empty(), stem.as_str()) {
        (true, "lib") => (Vec::new(), true),
        (true, "main") => (vec!["<main>".to_string()], false),
        (_, "mod") => (parts, true),
        _ => {
            parts.push(stem);
            (parts, false)
        }
    }
}

fn read_sources() -> Vec<SourceFile> {
    let mut files = Vec::new();
    let mut stack = vec![src_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let relative = path
                    .strip_prefix(src_dir())
                    .expect("under src")
                    .to_path_buf();
                let (module, is_dir_module) = module_of(&relative);
                // Test-only files (`tests.rs`, `foo/tests.rs`) are test code.
                if module.last().is_some_and(|name| name == "tests") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("read source");
                let syntax = syn::parse_file(&text)
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                files.push(SourceFile {
                    path: relative,
                    module,
                    is_dir_module,
                    syntax,
                    text,
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

/// Every path a file names (use trees flattened), outside test-only items,
/// and the names of the child modules it declares.
#[derive(Default)]
struct Collector {
    paths: Vec<Vec<String>>,
    children: BTreeSet<String>,
    /// `pub use child::item` (and `pub use child::{a, b}`): item → child path.
    reexports: BTreeMap<String, Vec<String>>,
    depth: usize,
}

fn flatten_use(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, String)>,
) {
    match tree {
        syn::UseTree::Path(path) => {
            prefix.push(path.ident.to_string());
            flatten_use(&path.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(name) => {
            let mut full = prefix.clone();
            full.push(name.ident.to_string());
            out.push((full, name.ident.to_string()));
        }
        syn::UseTree::Rename(rename) => {
            let mut full = prefix.clone();
            full.push(rename.ident.to_string());
            out.push((full, rename.rename.to_string()));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), "*".to_string())),
        syn::UseTree::Group(group) => {
            for item in &group.items {
                flatten_use(item, prefix, out);
            }
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(item) => &item.attrs,
            syn::Item::Fn(item) => &item.attrs,
            syn::Item::Impl(item) => &item.attrs,
            syn::Item::Use(item) => &item.attrs,
            syn::Item::Const(item) => &item.attrs,
            syn::Item::Static(item) => &item.attrs,
            syn::Item::Struct(item) => &item.attrs,
            syn::Item::Enum(item) => &item.attrs,
            syn::Item::Trait(item) => &item.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if is_test_only(attrs) {
            return;
        }
        match item {
            syn::Item::Mod(module) if module.content.is_none() && self.depth == 0 => {
                self.children.insert(module.ident.to_string());
            }
            syn::Item::Use(item_use) => {
                let mut flat = Vec::new();
                flatten_use(&item_use.tree, &mut Vec::new(), &mut flat);
                let public = !matches!(item_use.vis, syn::Visibility::Inherited);
                for (path, name) in flat {
                    if public && self.depth == 0 {
                        self.reexports.insert(name, path.clone());
                    }
                    self.paths.push(path);
                }
                return;
            }
            _ => {}
        }
        if let syn::Item::Mod(module) = item {
            if module.content.is_some() {
                self.depth += 1;
                syn::visit::visit_item(self, item);
                self.depth -= 1;
                return;
            }
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_impl_item_fn(&mut self, function: &'ast syn::ImplItemFn) {
        if !is_test_only(&function.attrs) {
            syn::visit::visit_impl_item_fn(self, function);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.len() > 1 {
            self.paths.push(
                path.segments
                    .iter()
                    .map(|segment| segment.ident.to_string())
                    .collect(),
            );
        }
        syn::visit::visit_path(self, path);
    }
}

struct Graph {
    modules: BTreeSet<Module>,
    info: BTreeMap<Module, Collector>,
    dir_modules: BTreeSet<Module>,
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

impl Graph {
    fn build(files: &[SourceFile]) -> Self {
        let mut info = BTreeMap::new();
        let mut dir_modules = BTreeSet::new();
        for file in files {
            let mut collector = Collector::default();
            collector.visit_file(&file.syntax);
            if file.is_dir_module {
                dir_modules.insert(file.module.clone());
            }
            info.insert(file.module.clone(), collector);
        }
        let modules: BTreeSet<Module> = info.keys().cloned().collect();
        let mut graph = Self {
            modules,
            info,
            dir_modules,
            edges: BTreeMap::new(),
        };
        let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for module in graph.modules.clone() {
            let paths = graph.info[&module].paths.clone();
            for path in paths {
                if let Some(absolute) = graph.absolute(&module, &path) {
                    if let Some(target) = graph.resolve(&absolute, 0) {
                        if target != module {
                            edges.entry(module.clone()).or_default().insert(target);
                        }
                    }
                }
            }
        }
        graph.edges = edges;
        graph
    }

    /// The path as seen from the crate root, or `None` for paths outside the
    /// crate (std, dependencies, locals).
    fn absolute(&self, from: &Module, path: &[String]) -> Option<Vec<String>> {
        let first = path.first()?;
        // The module a `super::` is relative to: a file `a/b.rs` is module
        // `a::b`, its `super` is `a`.
        let mut base: Vec<String> = from.clone();
        if from.first().is_some_and(|name| name == "<main>") {
            base.clear();
        }
        match first.as_str() {
            "crate" | "auth0_ingest" => Some(path[1..].to_vec()),
            "self" => Some(base.into_iter().chain(path[1..].iter().cloned()).collect()),
            "super" => {
                let mut rest = path;
                while rest.first().is_some_and(|name| name == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                Some(base.into_iter().chain(rest.iter().cloned()).collect())
            }
            name if self.info[from].children.contains(name) => {
                Some(base.into_iter().chain(path.iter().cloned()).collect())
            }
            _ => None,
        }
    }

    /// The file that defines what `path` names: the longest module prefix,
    /// followed through that module's `pub use` re-exports.
    fn resolve(&self, path: &[String], hops: usize) -> Option<Module> {
        if hops > 8 {
            return None;
        }
        for length in (0..=path.len()).rev() {
            let prefix: Module = path[..length].to_vec();
            if !self.modules.contains(&prefix) {
                continue;
            }
            if let Some(next) = path.get(length) {
                if self.dir_modules.contains(&prefix) {
                    if let Some(target) = self.info[&prefix].reexports.get(next) {
                        if let Some(absolute) = self.absolute(&prefix, target) {
                            let mut absolute = absolute;
                            absolute.extend(path[length + 1..].iter().cloned());
                            return self.resolve(&absolute, hops + 1).or(Some(prefix));
                        }
                    }
                }
            }
            return Some(prefix);
        }
        None
    }

    fn cycles(&self) -> Vec<Vec<Module>> {
        // Tarjan's strongly connected components.
        struct State<'g> {
            graph: &'g Graph,
            index: BTreeMap<Module, usize>,
            low: BTreeMap<Module, usize>,
            stack: Vec<Module>,
            on_stack: BTreeSet<Module>,
            next: usize,
            found: Vec<Vec<Module>>,
        }
        fn connect(state: &mut State<'_>, node: &Module) {
            state.index.insert(node.clone(), state.next);
            state.low.insert(node.clone(), state.next);
            state.next += 1;
            state.stack.push(node.clone());
            state.on_stack.insert(node.clone());
            let targets: Vec<Module> = state
                .graph
                .edges
                .get(node)
                .map(|set| set.iter().cloned().collect())
                .unwrap_or_default();
            for target in targets {
                if !state.index.contains_key(&target) {
                    connect(state, &target);
                    let low = state.low[node].min(state.low[&target]);
                    state.low.insert(node.clone(), low);
                } else if state.on_stack.contains(&target) {
                    let low = state.low[node].min(state.index[&target]);
                    state.low.insert(node.clone(), low);
                }
            }
            if state.low[node] == state.index[node] {
                let mut component = Vec::new();
                while let Some(member) = state.stack.pop() {
                    state.on_stack.remove(&member);
                    let done = &member == node;
                    component.push(member);
                    if done {
                        break;
                    }
                }
                if component.len() > 1 {
                    state.found.push(component);
                }
            }
        }
        let mut state = State {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            next: 0,
            found: Vec::new(),
        };
        for node in &self.modules {
            if !state.index.contains_key(node) {
                connect(&mut state, node);
            }
        }
        state.found
    }
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&top))
}

/// The room a top-level module belongs to: the binary's `commands/` are
/// `main.rs`'s own files.
fn room(top: &str) -> &str {
    if top == "commands" {
        "<main>"
    } else {
        top
    }
}

#[test]
fn no_circle_between_files() {
    let files = read_sources();
    let graph = Graph::build(&files);
    let cycles: Vec<String> = graph
        .cycles()
        .iter()
        .map(|cycle| cycle.iter().map(name).collect::<Vec<_>>().join(" ↔ "))
        .collect();
    assert!(
        cycles.is_empty(),
        "circles between files in src/:\n{}",
        cycles.join("\n")
    );
    // The check can see a circle: the graph is not empty, and a known edge
    // (the webhook uses the spool's writer) is in it.
    let webhook: Module = vec!["inputs".into(), "webhook".into()];
    let reaches_spool = graph
        .edges
        .iter()
        .filter(|(from, _)| from.starts_with(&webhook))
        .flat_map(|(_, targets)| targets)
        .any(|target| target.first().is_some_and(|top| top == "spool"));
    assert!(
        reaches_spool,
        "the import graph lost the webhook → spool edge"
    );
}

#[test]
fn no_arrow_up_the_layers() {
    let files = read_sources();
    let graph = Graph::build(&files);
    let mut problems = Vec::new();
    for file in &files {
        let Some(top) = file.module.first() else {
            continue;
        };
        let Some(from_layer) = layer_of(top) else {
            problems.push(format!(
                "src/{}: module `{top}` has no layer in LAYERS",
                file.path.display()
            ));
            continue;
        };
        for target in graph.edges.get(&file.module).into_iter().flatten() {
            let Some(target_top) = target.first() else {
                continue;
            };
            if room(target_top) == room(top) {
                continue;
            }
            match layer_of(target_top) {
                Some(layer) if layer < from_layer => {}
                _ => problems.push(format!(
                    "src/{} ({top}) imports {} from a layer not below it",
                    file.path.display(),
                    name(target)
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Lines of a file less its `#[cfg(test)]` items.
fn code_lines(file: &SourceFile) -> usize {
    let total = file.text.lines().count();
    let test_lines: usize = file
        .syntax
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(module) if is_test_only(&module.attrs) => Some(span_lines(module)),
            syn::Item::Fn(function) if is_test_only(&function.attrs) => Some(span_lines(function)),
            _ => None,
        })
        .sum();
    total - test_lines
}

fn span_lines(node: &impl syn::spanned::Spanned) -> usize {
    let span = node.span();
    span.end().line + 1 - span.start().line
}

#[derive(Default)]
struct LongFunctions {
    found: Vec<(String, usize, usize)>,
}

impl LongFunctions {
    /// Records `function` when it is longer than [`MAX_FN_LINES`].
    fn measure(&mut self, signature: &syn::Signature, function: &impl syn::spanned::Spanned) {
        let lines = span_lines(function);
        if lines > MAX_FN_LINES {
            let line = function.span().start().line;
            self.found.push((signature.ident.to_string(), line, lines));
        }
    }
}

impl<'ast> Visit<'ast> for LongFunctions {
    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        if !is_test_only(&module.attrs) {
            syn::visit::visit_item_mod(self, module);
        }
    }
    fn visit_item_fn(&mut self, function: &'ast syn::ItemFn) {
        if !is_test_only(&function.attrs) {
            self.measure(&function.sig, function);
            syn::visit::visit_item_fn(self, function);
        }
    }
    fn visit_impl_item_fn(&mut self, function: &'ast syn::ImplItemFn) {
        if !is_test_only(&function.attrs) {
            self.measure(&function.sig, function);
            syn::visit::visit_impl_item_fn(self, function);
        }
    }
}

#[test]
fn rooms_are_small() {
    let files = read_sources();
    let mut problems = Vec::new();
    for file in &files {
        let lines = code_lines(file);
        if lines > MAX_FILE_LINES {
            problems.push(format!(
                "src/{}: {lines} lines (at most {MAX_FILE_LINES})",
                file.path.display()
            ));
        }
        let mut long = LongFunctions::default();
        long.visit_file(&file.syntax);
        for (function, line, lines) in long.found {
            problems.push(format!(
                "src/{}:{line}: fn {function} is {lines} lines (at most {MAX_FN_LINES})",
                file.path.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The measure sees line numbers (syn built with span locations).
    let longest = files.iter().map(code_lines).max().unwrap_or(0);
    assert!(
        longest > 100,
        "line counting is broken: longest file has {longest} lines"
    );
}
