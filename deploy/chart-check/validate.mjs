// Validates rendered Kubernetes manifests (multi-document YAML on stdin or in the files given) against the
// kubernetes-models schemas: core Kubernetes, prometheus-operator (ServiceMonitor) and KEDA (ScaledObject).
// Fails on YAML errors, objects without apiVersion/kind, kinds it does not know, schema violations and
// duplicate apiVersion/kind/name triples. Prints one line per object and a count.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const groups = {
  "monitoring.coreos.com/": "@kubernetes-models/prometheus-operator/",
  "keda.sh/": "@kubernetes-models/keda/",
};

async function modelFor(apiVersion, kind) {
  const prefix = Object.keys(groups).find((g) => apiVersion.startsWith(g));
  const module = prefix ? groups[prefix] + apiVersion : "kubernetes-models/" + apiVersion;
  let exports;
  try {
    exports = await import(module);
  } catch {
    return undefined;
  }
  const model = exports[kind];
  return typeof model === "function" && typeof model.prototype?.validate === "function" ? model : undefined;
}

const sources = process.argv.length > 2
  ? process.argv.slice(2).map((f) => ({ name: f, text: readFileSync(f, "utf8") }))
  : [{ name: "<stdin>", text: readFileSync(0, "utf8") }];

let objects = 0;
const failures = [];
const seen = new Set();
for (const { name, text } of sources) {
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      failures.push(`${name}: YAML error: ${doc.errors[0].message}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    objects++;
    const id = `${obj.apiVersion ?? "?"} ${obj.kind ?? "?"} ${obj.metadata?.name ?? "?"}`;
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) {
      failures.push(`${id}: apiVersion, kind and metadata.name are required`);
      continue;
    }
    if (seen.has(id)) failures.push(`${id}: rendered twice`);
    seen.add(id);
    const Model = await modelFor(obj.apiVersion, obj.kind);
    if (!Model) {
      failures.push(`${id}: unknown apiVersion/kind`);
      continue;
    }
    try {
      new Model(obj).validate();
      console.log(`  ok   ${id}`);
    } catch (e) {
      failures.push(`${id}: ${String(e.message ?? e).split("\n").slice(0, 5).join("; ")}`);
    }
  }
}
for (const f of failures) console.log(`  FAIL ${f}`);
if (objects === 0) failures.push("no objects rendered");
console.log(`${objects} objects, ${failures.length} invalid`);
process.exit(failures.length === 0 ? 0 : 1);
