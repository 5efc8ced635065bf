#!/usr/bin/env node
// Rebuilds a compact provider schema, in the format of `terraform providers schema -json`,
// from a published CDKTF provider binding package (npm @cdktf/provider-*), for the few block
// types the app stack uses. No provider binary can run offline here; the bindings were
// generated from the provider's own schema and keep what validation needs:
//
// - argument names and types: each generated `synthesizeHclAttributes` / `<struct>ToHclTerraform`
//   lists every argument with its terraform name, storage type ("string", "stringList",
//   "stringMap", struct lists ...) and whether it is a block;
// - required vs optional: the jsii assembly (`.jsii`) marks every config property `optional`;
// - read-only attributes: getters without a config property carry a generated comment
//   `// name - computed: true, optional: false, required: false`;
// - block vs nested attribute: `listMapperHcl(fn, isBlock)` says it for lists; a list typed value
//   mapped without listMapper is a block with max_items 1; a "struct" value is nesting "single",
//   an attribute in plugin-framework providers and a block in SDKv2 ones (--single-nested).
//
// What the bindings do not carry is left out rather than guessed: descriptions, sensitivity, and
// `computed` on optional arguments (the checker treats optional and optional+computed alike).
//
// Usage: helm-k8s.mjs --package DIR --source ADDR --single-nested attribute|block
//                      [--provider] [--resource TYPE]... [--data TYPE]...

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

function fail(message) {
  process.stderr.write(`helm-k8s.mjs: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = { resources: [], data: [], provider: false };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = () => {
      i += 1;
      if (i >= argv.length) fail(`${flag} needs a value`);
      return argv[i];
    };
    switch (flag) {
      case "--package": args.package = value(); break;
      case "--source": args.source = value(); break;
      case "--single-nested": args.singleNested = value(); break;
      case "--provider": args.provider = true; break;
      case "--resource": args.resources.push(value()); break;
      case "--data": args.data.push(value()); break;
      default: fail(`unknown argument ${flag}`);
    }
  }
  for (const required of ["package", "source", "singleNested"]) {
    if (!args[required]) fail(`--${required.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is required`);
  }
  if (!["attribute", "block"].includes(args.singleNested)) {
    fail(`--single-nested must be "attribute" or "block", not "${args.singleNested}"`);
  }
  return args;
}

const SIMPLE_TYPES = {
  string: "string",
  number: "number",
  boolean: "bool",
};

// cty type of a primitive or collection argument from its generated storage class and HCL kind.
function ctyType(storageClassType, hclType, where) {
  if (SIMPLE_TYPES[storageClassType] && hclType === "simple") return SIMPLE_TYPES[storageClassType];
  const collection = /^(string|number|boolean)(List|Map)$/.exec(storageClassType);
  if (collection) {
    const element = SIMPLE_TYPES[collection[1]];
    if (collection[2] === "Map" && hclType === "map") return ["map", element];
    if (collection[2] === "List" && (hclType === "list" || hclType === "set")) return [hclType, element];
  }
  return fail(`${where}: unsupported storage type ${storageClassType} (${hclType})`);
}

// Getter kinds used for read-only attributes, by the cdktf accessor the getter calls.
const GETTER_TYPES = {
  getStringAttribute: "string",
  getNumberAttribute: "number",
  getBooleanAttribute: "bool",
  getListAttribute: ["list", "string"],
  getNumberListAttribute: ["list", "number"],
  getStringMapAttribute: ["map", "string"],
  getNumberMapAttribute: ["map", "number"],
  getBooleanMapAttribute: ["map", "bool"],
};

class Module {
  constructor(path, jsii) {
    this.path = path;
    this.source = readFileSync(path, "utf8");
    this.jsii = jsii;
  }

  // Text of a top-level function or class, up to the next top-level declaration.
  section(startPattern, what) {
    const start = this.source.search(startPattern);
    if (start < 0) fail(`${this.path}: ${what} not found`);
    const rest = this.source.slice(start + 1);
    const next = rest.search(/\n(function |class |exports\.)/);
    return next < 0 ? rest : rest.slice(0, next);
  }

  // The attrs literal of an HCL synthesizer: terraform name -> {prop, isBlock, hclType, storage, mapper}.
  hclArguments(body, where) {
    const entry = /\n\s+([a-z0-9_]+): \{\n\s+value: (.*),\n\s+isBlock: (true|false),\n\s+type: "(\w+)",\n\s+storageClassType: "(\w+)",\n\s+\}/g;
    const args = new Map();
    for (const m of body.matchAll(entry)) {
      const [, name, value, isBlock, hclType, storage] = m;
      const prop = [...value.matchAll(/(?:this\._|struct\.)(\w+)/g)].pop();
      if (!prop) fail(`${where}.${name}: cannot find the property in ${value}`);
      const listMapper = /listMapperHcl\((\w+)ToHclTerraform, (true|false)\)/.exec(value);
      const direct = /^(\w+)ToHclTerraform\(/.exec(value);
      let struct = null;
      if (listMapper && !value.includes("cdktf.listMapperHcl(cdktf.")) {
        struct = { fn: listMapper[1], list: true, isBlock: listMapper[2] === "true" };
      } else if (direct) {
        struct = { fn: direct[1], list: false };
      } else if (!value.startsWith("cdktf.")) {
        fail(`${where}.${name}: unrecognised value mapping ${value}`);
      }
      args.set(name, { prop: prop[1], isBlock: isBlock === "true", hclType, storage, struct });
    }
    if (args.size === 0) fail(`${where}: no arguments found`);
    return args;
  }

  // Generated `// name - computed: C, optional: O, required: R` comments in a class body.
  flagComments(body) {
    const flags = new Map();
    const comment = /\/\/ ([a-z0-9_]+) - computed: (true|false), optional: (true|false), required: (true|false)\n\s+(.*)/g;
    for (const m of body.matchAll(comment)) {
      flags.set(m[1], {
        computed: m[2] === "true",
        optional: m[3] === "true",
        required: m[4] === "true",
        next: m[5],
      });
    }
    return flags;
  }

  jsiiType(name) {
    const type = Object.values(this.jsii.types).find((t) => t.name === name && this.path.includes(`/lib/${kebab(t.namespace)}/`));
    if (!type) fail(`${this.path}: jsii type ${name} not found`);
    return type;
  }
}

function kebab(namespace) {
  return namespace.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function upperFirst(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// Read-only attributes (and read-only nested objects) found through the flag comments of a class.
function computedAttributes(module, classBody, known, where, singleNested) {
  const attributes = {};
  for (const [name, flag] of module.flagComments(classBody)) {
    if (known.has(name) || !flag.computed || flag.optional || flag.required) continue;
    const getter = new RegExp(`return (?:cdktf\\.Fn\\.tolist\\()?this\\.(\\w+)\\('${name}'\\)`).exec(classBody);
    const nested = /new (\w+)OutputReference\(this, "(\w+)"/.exec(flag.next);
    const map = /new cdktf\.(String|Number|Boolean)Map\(this, "(\w+)"/.exec(flag.next);
    if (getter && GETTER_TYPES[getter[1]]) {
      attributes[name] = { type: GETTER_TYPES[getter[1]], computed: true };
    } else if (map) {
      attributes[name] = { type: ["map", { String: "string", Number: "number", Boolean: "bool" }[map[1]]], computed: true };
    } else if (nested) {
      const body = module.section(new RegExp(`\\nclass ${nested[1]}OutputReference `), `class ${nested[1]}OutputReference`);
      const inner = computedAttributes(module, body, new Set(), `${where}.${name}`, singleNested);
      attributes[name] = { nested_type: { attributes: inner, nesting_mode: "single" }, computed: true };
    } else if (/new (\w+)List\(this, "(\w+)"/.test(flag.next)) {
      const list = /new (\w+)List\(this, "(\w+)"/.exec(flag.next);
      const element = module.section(new RegExp(`\\nclass ${list[1]}OutputReference `), `class ${list[1]}OutputReference`);
      const inner = computedAttributes(module, element, new Set(), `${where}.${name}`, singleNested);
      attributes[name] = { type: ["list", ["object", objectType(inner)]], computed: true };
    } else {
      fail(`${where}.${name}: cannot tell the type of this read-only attribute`);
    }
  }
  return attributes;
}

function objectType(attributes) {
  const fields = {};
  for (const [name, attribute] of Object.entries(sortKeys(attributes))) {
    fields[name] = attribute.type ?? ["object", objectType(attribute.nested_type.attributes)];
  }
  return fields;
}

// Schema block of a struct (a nested block or the object of a nested attribute).
function structBlock(module, fn, where, singleNested, asAttributes) {
  const structName = upperFirst(fn);
  const hcl = module.section(new RegExp(`\\nfunction ${fn}ToHclTerraform\\(`), `function ${fn}ToHclTerraform`);
  const args = module.hclArguments(hcl, where);
  const props = new Map(module.jsiiType(structName).properties?.map((p) => [p.name, p]) ?? []);
  const classBody = module.source.includes(`\nclass ${structName}OutputReference `)
    ? module.section(new RegExp(`\\nclass ${structName}OutputReference `), `class ${structName}OutputReference`)
    : "";
  return buildBlock(module, args, props, classBody, where, singleNested, asAttributes);
}

function buildBlock(module, args, props, classBody, where, singleNested, asAttributes) {
  const attributes = {};
  const blockTypes = {};
  const flags = module.flagComments(classBody);
  for (const [name, arg] of args) {
    const prop = props.get(arg.prop);
    if (!prop) fail(`${where}.${name}: no jsii property ${arg.prop}`);
    const required = !prop.optional;
    const presence = required ? { required: true } : { optional: true };
    if (flags.get(name)?.computed && !required) presence.computed = true;
    const path = `${where}.${name}`;
    if (!arg.struct) {
      attributes[name] = { type: ctyType(arg.storage, arg.hclType, path), ...presence };
      continue;
    }
    const { fn, list } = arg.struct;
    let asBlock;
    let nesting;
    let maxOne = false;
    if (list) {
      asBlock = arg.struct.isBlock;
      nesting = arg.hclType;
    } else if (arg.hclType === "struct") {
      asBlock = singleNested === "block";
      nesting = "single";
    } else if (arg.hclType === "list" || arg.hclType === "set") {
      asBlock = true;
      nesting = arg.hclType;
      maxOne = true;
    } else {
      fail(`${path}: unsupported nested kind ${arg.hclType}`);
    }
    if (asAttributes && asBlock) fail(`${path}: a block inside a nested attribute`);
    const inner = structBlock(module, fn, path, singleNested, !asBlock);
    if (asBlock) {
      const blockType = { nesting_mode: nesting, block: inner };
      if (maxOne) blockType.max_items = 1;
      if (required && nesting !== "single") blockType.min_items = 1;
      blockTypes[name] = blockType;
    } else {
      attributes[name] = { nested_type: { attributes: inner.attributes, nesting_mode: nesting }, ...presence };
    }
  }
  Object.assign(attributes, computedAttributes(module, classBody, new Set(args.keys()), where, singleNested));
  const block = { attributes: sortKeys(attributes) };
  if (Object.keys(blockTypes).length > 0) block.block_types = sortKeys(blockTypes);
  return block;
}

function sortKeys(object) {
  return Object.fromEntries(Object.keys(object).sort().map((k) => [k, object[k]]));
}

// Keys sorted at every level, as terraform prints schemas, so regenerating gives the same bytes.
function sortDeep(value) {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortDeep(value[k])]));
  }
  return value;
}

// The module (lib/<dir>/index.js) whose main class declares `tfResourceType = "<type>"`.
function findModule(pkg, jsii, type, kind) {
  const lib = join(pkg, "lib");
  for (const dir of readdirSync(lib).sort()) {
    const isData = dir.startsWith("data-");
    if ((kind === "data") !== isData) continue;
    const path = join(lib, dir, "index.js");
    let source;
    try {
      source = readFileSync(path, "utf8");
    } catch {
      continue;
    }
    const declared = new RegExp(`\\n(\\w+)\\.tfResourceType = "${type}";`).exec(source);
    if (declared) return { module: new Module(path, jsii), className: declared[1] };
  }
  return fail(`${pkg}: no ${kind} class declares tfResourceType "${type}"`);
}

function topBlock(pkg, jsii, type, kind, singleNested) {
  const { module, className } = findModule(pkg, jsii, type, kind);
  const classBody = module.section(new RegExp(`\\nclass ${className} `), `class ${className}`);
  const synth = /synthesizeHclAttributes\(\) \{([\s\S]*?)\n {4}\}/.exec(classBody);
  if (!synth) fail(`${module.path}: synthesizeHclAttributes not found`);
  const args = module.hclArguments(synth[1], type);
  // The provider meta-argument `alias` is terraform's, not the provider's schema.
  if (kind === "provider") args.delete("alias");
  const config = module.jsiiType(`${className}Config`);
  const props = new Map(config.properties.map((p) => [p.name, p]));
  return buildBlock(module, args, props, classBody, type, singleNested, false);
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const jsii = JSON.parse(readFileSync(join(args.package, ".jsii"), "utf8"));
  const schema = {};
  if (args.provider) {
    const name = args.source.split("/").pop();
    schema.provider = { block: topBlock(args.package, jsii, name, "provider", args.singleNested) };
  }
  if (args.resources.length > 0) {
    schema.resource_schemas = Object.fromEntries(
      args.resources.sort().map((t) => [t, { block: topBlock(args.package, jsii, t, "resource", args.singleNested) }]),
    );
  }
  if (args.data.length > 0) {
    schema.data_source_schemas = Object.fromEntries(
      args.data.sort().map((t) => [t, { block: topBlock(args.package, jsii, t, "data", args.singleNested) }]),
    );
  }
  const document = { format_version: "1.0", provider_schemas: { [args.source]: schema } };
  process.stdout.write(`${JSON.stringify(sortDeep(document), null, 2)}\n`);
}

main();
