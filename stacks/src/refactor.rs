//! The config's `[[state.import]]` and `[[state.moved]]` entries applied to
//! the construct tree: each must name a resource the environment has (a
//! mistyped address would otherwise be an `import` terraform rejects, or a
//! move that silently does nothing), and becomes `import_from` or
//! `moved_from` on it. Problems are reported at the config field.

use synth::{did_you_mean, Address, App, Diagnostic, Mode};

use crate::config::{ConfigError, Environment};

/// Applies the environment's import and moved entries to `app`.
pub fn apply(app: &mut App, env: &Environment) -> Result<(), ConfigError> {
    let state = &env.config.state;
    let mut problems = Vec::new();
    for (i, entry) in state.import.iter().enumerate() {
        let at = format!("state.import[{i}].to");
        match declared(app, &entry.to, &env.name) {
            Ok(resource) => {
                resource.import_from(entry.id.as_str());
            }
            Err(problem) => problems.push(Diagnostic::new(at, problem)),
        }
    }
    for (i, entry) in state.moved.iter().enumerate() {
        if let Some(from) = Address::parse(&entry.from).filter(|a| find(app, a).is_some()) {
            problems.push(Diagnostic::new(
                format!("state.moved[{i}].from"),
                format!(
                    "`{from}` is still declared in environment `{}`; a move is from an address \
                     no resource has any more",
                    env.name
                ),
            ));
            continue;
        }
        let Some((ty, name)) = entry.from.split_once('.') else {
            continue; // reported by the section's own check
        };
        match declared(app, &entry.to, &env.name) {
            Ok(resource) => {
                resource.moved_from(ty, name);
            }
            Err(problem) => problems.push(Diagnostic::new(format!("state.moved[{i}].to"), problem)),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            path: env.source.clone(),
            problems,
        })
    }
}

fn find<'a>(app: &'a mut App, address: &Address) -> Option<&'a mut synth::Resource> {
    app.stacks_mut()
        .iter_mut()
        .find_map(|s| s.find_mut(address))
}

/// The managed resource at `text`, or why there is none.
fn declared<'a>(
    app: &'a mut App,
    text: &str,
    env: &str,
) -> Result<&'a mut synth::Resource, String> {
    let address =
        Address::parse(text).ok_or_else(|| format!("`{text}` is not a resource address"))?;
    let known: Vec<String> = app
        .stacks()
        .iter()
        .flat_map(|s| s.resources())
        .filter(|r| r.mode() == Mode::Managed)
        .map(|r| r.address().to_string())
        .collect();
    let hint = did_you_mean(text, known.iter().map(String::as_str));
    find(app, &address)
        .filter(|r| r.mode() == Mode::Managed)
        .ok_or_else(|| format!("environment `{env}` has no resource `{text}`{hint}"))
}
