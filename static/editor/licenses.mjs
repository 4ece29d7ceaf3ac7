// Prints the licence header of static/editor.js: the name, version and
// licence of every npm package esbuild put into the bundle (read from its
// metafile), then each distinct licence text once, naming the packages it
// covers. MIT asks for its notice in every copy; this is how it ships.
// Usage: node licenses.mjs build/meta.json > build/licenses.js
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const meta = JSON.parse(readFileSync(process.argv[2], "utf8"));
const roots = new Set();
for (const out of Object.values(meta.outputs)) {
  for (const [file, info] of Object.entries(out.inputs)) {
    if (info.bytesInOutput === 0) continue; // imported, but tree-shaken away
    const m = file.match(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (m) roots.add(m[1]);
  }
}

const packages = [...roots].sort().map((name) => {
  const dir = join("node_modules", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).sort().find((f) => /^(licen[cs]e|copying)/i.test(f));
  if (!file) throw new Error(`${name}: no licence file`);
  const text = readFileSync(join(dir, file), "utf8").trim().replaceAll("*/", "* /");
  return { name, version: pkg.version, license: pkg.license || "see below", text };
});

const byText = new Map();
for (const p of packages) {
  if (!byText.has(p.text)) byText.set(p.text, []);
  byText.get(p.text).push(p.name);
}

let out = "/*! static/editor.js: the lab workspace's code editor (CodeMirror 6), built by\n";
out += " * `make editor` from static/editor/src. Bundled packages:\n";
for (const p of packages) out += ` *   ${p.name} ${p.version} (${p.license})\n`;
out += " */\n";
for (const [text, names] of byText) {
  out += `/*! Licence of ${names.join(", ")}:\n\n${text}\n*/\n`;
}
process.stdout.write(out);
