//! A stack: one named group of blocks, synthesized into `<stack>.tf.json`.
//!
//! Stacks of one [`crate::App`] share a single Terraform root module, so they
//! reference each other's blocks directly; the split into files keeps each
//! stack reviewable and lets a subset be synthesized on its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::asset::Asset;
use crate::block::{Mode, Output, Provider, RequiredProvider, Resource, Variable};
use crate::expr::{Address, Expr};

/// A named group of blocks.
#[derive(Debug, Clone)]
pub struct Stack {
    name: String,
    description: String,
    pub(crate) resources: Vec<Resource>,
    pub(crate) variables: Vec<(String, Variable)>,
    pub(crate) locals: Vec<(String, Expr)>,
    pub(crate) outputs: Vec<(String, Output)>,
    pub(crate) providers: Vec<Provider>,
    pub(crate) required_providers: BTreeMap<String, RequiredProvider>,
    pub(crate) assets: Vec<Asset>,
}

impl Stack {
    pub(crate) fn new(name: &str, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            resources: Vec::new(),
            variables: Vec::new(),
            locals: Vec::new(),
            outputs: Vec::new(),
            providers: Vec::new(),
            required_providers: BTreeMap::new(),
            assets: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Adds a managed resource and returns it for configuration; finish with
    /// [`Resource::handle`] to keep a reference to it.
    pub fn resource(&mut self, ty: &str, name: &str) -> &mut Resource {
        self.resources.push(Resource::new(Mode::Managed, ty, name));
        self.resources.last_mut().expect("just pushed")
    }

    /// Adds a data source.
    pub fn data(&mut self, ty: &str, name: &str) -> &mut Resource {
        self.resources.push(Resource::new(Mode::Data, ty, name));
        self.resources.last_mut().expect("just pushed")
    }

    /// Declares an input variable and returns a reference to it.
    pub fn variable(&mut self, name: &str, variable: Variable) -> Expr {
        self.variables.push((name.to_owned(), variable));
        Expr::reference(Address::Var(name.to_owned()))
    }

    /// Declares a local value and returns a reference to it.
    pub fn local(&mut self, name: &str, value: impl Into<Expr>) -> Expr {
        self.locals.push((name.to_owned(), value.into()));
        Expr::reference(Address::Local(name.to_owned()))
    }

    pub fn output(&mut self, name: &str, output: Output) -> &mut Self {
        self.outputs.push((name.to_owned(), output));
        self
    }

    /// Declares an output of `value` and returns `value`, so a component
    /// exports a value and hands it to the others in one step.
    pub fn export(&mut self, name: &str, value: Expr, description: &str) -> Expr {
        self.outputs.push((
            name.to_owned(),
            Output::new(value.clone()).description(description),
        ));
        value
    }

    /// Declares a provider configuration. Declarations from all stacks are
    /// merged; a synthesized module keeps only those its blocks use.
    pub fn provider(&mut self, provider: Provider) -> &mut Self {
        self.providers.push(provider);
        self
    }

    pub fn require_provider(&mut self, name: &str, requirement: RequiredProvider) -> &mut Self {
        self.required_providers.insert(name.to_owned(), requirement);
        self
    }

    /// Copies a directory into the output (`<out>/<dest>/`), and returns its
    /// location relative to the module and a content hash, so a change to
    /// the directory becomes a change terraform sees.
    pub fn asset_dir(&mut self, dest: &str, source: &Path) -> std::io::Result<AssetInfo> {
        let asset = Asset::from_dir(dest, source)?;
        let info = AssetInfo {
            path: PathBuf::from(dest),
            hash: asset.hash.clone(),
        };
        self.assets.push(asset);
        Ok(info)
    }

    /// Puts files the program made into the output (`<out>/<dest>/<name>`),
    /// with the same location and hash as [`Stack::asset_dir`] returns.
    pub fn asset_files(&mut self, dest: &str, files: Vec<(String, Vec<u8>)>) -> AssetInfo {
        let asset = Asset::from_files(dest, files);
        let info = AssetInfo {
            path: PathBuf::from(dest),
            hash: asset.hash.clone(),
        };
        self.assets.push(asset);
        info
    }

    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// The provider blocks this stack declares, for overlays that re-point
    /// them (the end-to-end emulator overlay).
    pub fn providers_mut(&mut self) -> &mut [Provider] {
        &mut self.providers
    }

    pub fn resources_mut(&mut self) -> &mut [Resource] {
        &mut self.resources
    }

    /// Finds a resource or data source by its address, for aspects and overlays.
    pub fn find_mut(&mut self, address: &Address) -> Option<&mut Resource> {
        self.resources.iter_mut().find(|r| &r.address() == address)
    }

    /// Removes a block (used by overlays that switch a resource off).
    pub fn remove(&mut self, address: &Address) -> Option<Resource> {
        let i = self
            .resources
            .iter()
            .position(|r| &r.address() == address)?;
        Some(self.resources.remove(i))
    }

    /// Removes a local value and returns it (a step that moves a block
    /// elsewhere takes the values only that block used along).
    pub fn remove_local(&mut self, name: &str) -> Option<Expr> {
        let i = self.locals.iter().position(|(n, _)| n == name)?;
        Some(self.locals.remove(i).1)
    }

    /// Removes the asset copied to `dest` and returns its files, sorted by
    /// relative path (a step that delivers a chart another way takes it).
    pub fn take_asset(&mut self, dest: &str) -> Option<Vec<(String, Vec<u8>)>> {
        let dest = dest.trim_end_matches('/');
        let i = self.assets.iter().position(|a| a.dest == dest)?;
        Some(self.assets.remove(i).files)
    }

    pub fn locals(&self) -> impl Iterator<Item = (&str, &Expr)> {
        self.locals.iter().map(|(n, v)| (n.as_str(), v))
    }

    pub fn outputs(&self) -> impl Iterator<Item = (&str, &Output)> {
        self.outputs.iter().map(|(n, o)| (n.as_str(), o))
    }
}

/// Where an asset lands in the output, and its content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetInfo {
    /// Relative to the module directory (use `${path.module}/<path>` in HCL).
    pub path: PathBuf,
    /// Hex sha256 over the asset's file names and contents.
    pub hash: String,
}
