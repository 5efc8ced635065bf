//! The generator of `bindings/`: typed builders for every resource, data
//! source and provider configuration in a directory of provider schemas
//! (the JSON `terraform providers schema -json` prints), read through
//! synth's own schema model. Nothing here knows a provider: names come from
//! the schemas (`registry.terraform.io/hashicorp/aws` → module `aws`, type
//! `aws_vpc` → module `aws::vpc`, struct `Vpc`).
//!
//! [`generate`] returns the files in memory, so the same call writes them
//! (`bindings-gen`, `just bindings`) and checks the committed ones are current.

pub mod emit;
pub mod model;
mod names;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use synth::schema::ProviderSchema;
use synth::Schemas;

use crate::model::{Module, ModuleKind};

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a provider schema (terraform providers schema -json): {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no provider schema (*.json) in {0}")]
    NoSchemas(PathBuf),
    #[error("`{path}`: {reason}")]
    Schema { path: String, reason: String },
    #[error("provider `{provider}`: `{first}` and `{second}` would both be module `{module}`")]
    NameClash {
        provider: String,
        module: String,
        first: String,
        second: String,
    },
}

/// Loads every `*.json` schema of a directory, in file name order.
pub fn load_schemas(dir: &Path) -> Result<Schemas, GenError> {
    let io = |source| GenError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()).map_err(io))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    if paths.is_empty() {
        return Err(GenError::NoSchemas(dir.to_owned()));
    }
    let mut schemas = Schemas::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| GenError::Io {
            path: path.clone(),
            source,
        })?;
        schemas
            .add_json(&text)
            .map_err(|source| GenError::Parse { path, source })?;
    }
    Ok(schemas)
}

/// The modules of one provider: its configuration, then resources and data
/// sources, each named after its type without the provider's prefix.
pub fn plan_provider(provider: &str, schema: &ProviderSchema) -> Result<Vec<Module>, GenError> {
    let prefix = format!("{provider}_");
    let short = |ty: &str| names::ident(ty.strip_prefix(&prefix).unwrap_or(ty));
    let mut modules = Vec::new();
    if let Some(config) = &schema.provider {
        modules.push(Module::plan(
            "provider".to_owned(),
            ModuleKind::Provider,
            provider,
            &config.block,
        )?);
    }
    for (ty, block) in &schema.resource_schemas {
        modules.push(Module::plan(
            short(ty),
            ModuleKind::Resource,
            ty,
            &block.block,
        )?);
    }
    for (ty, block) in &schema.data_source_schemas {
        modules.push(Module::plan(
            format!("data_{}", short(ty)),
            ModuleKind::DataSource,
            ty,
            &block.block,
        )?);
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for module in &modules {
        if let Some(first) = seen.insert(&module.name, &module.tf_type) {
            return Err(GenError::NameClash {
                provider: provider.to_owned(),
                module: module.name.clone(),
                first: first.to_owned(),
                second: module.tf_type.clone(),
            });
        }
    }
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(modules)
}

/// Every file of the bindings crate's `src/`, by path relative to it.
pub fn generate(schemas: &Schemas) -> Result<BTreeMap<PathBuf, String>, GenError> {
    let mut files = BTreeMap::new();
    let mut providers = Vec::new();
    for (provider, schema) in schemas.providers() {
        let modules = plan_provider(provider, schema)?;
        let dir = PathBuf::from(names::ident(provider));
        for module in &modules {
            files.insert(
                dir.join(format!("{}.rs", module.name)),
                emit::module_source(provider, module),
            );
        }
        files.insert(
            dir.join("mod.rs"),
            emit::provider_source(provider, &modules),
        );
        providers.push(provider);
    }
    files.insert(PathBuf::from("lib.rs"), emit::lib_source(&providers));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_schema_file_is_named() {
        let dir = std::env::temp_dir().join(format!("bindings-gen-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("broken.json"), "{\"provider_schemas\": [").expect("write");
        let err = load_schemas(&dir).expect_err("broken JSON").to_string();
        std::fs::remove_dir_all(&dir).expect("clean up");
        assert!(
            err.contains("broken.json is not a provider schema"),
            "{err}"
        );
        let err = load_schemas(&dir).expect_err("no directory").to_string();
        assert!(err.contains("reading"), "{err}");
    }
}
