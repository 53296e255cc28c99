#!/usr/bin/env node
// Compile contracts/*.sol with the pinned solc-js (offline, no viaIR) into src/trimtab/chain/build/<Name>.json.
// Usage: node scripts/compile_contracts.js [outDir]. Output is byte-identical across runs (committed artifacts).
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const ROOT = path.resolve(__dirname, "..");
const SRC_DIR = path.join(ROOT, "contracts");
const OUT_DIR = path.resolve(process.argv[2] || path.join(ROOT, "src", "trimtab", "chain", "build"));
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "paris",
  metadata: { bytecodeHash: "ipfs" },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function findImport(importPath) {
  // Imports such as "@openzeppelin/contracts/..." resolve from the project's node_modules.
  try {
    const file = require.resolve(importPath, { paths: [ROOT] });
    return { contents: fs.readFileSync(file, "utf8") };
  } catch (err) {
    return { error: `import not found: ${importPath} (${err.code || err.message})` };
  }
}

function main() {
  const files = fs.readdirSync(SRC_DIR).filter((f) => f.endsWith(".sol")).sort();
  const sources = {};
  for (const f of files) sources[`contracts/${f}`] = { content: fs.readFileSync(path.join(SRC_DIR, f), "utf8") };
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
  if (errors.length) process.exit(1);

  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (const sourceName of Object.keys(sources)) {
    const contracts = output.contracts[sourceName] || {};
    for (const name of Object.keys(contracts).sort()) {
      const c = contracts[name];
      if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
      const artifact = {
        contractName: name,
        sourceName,
        compiler: { name: "solc-js", version: solc.version(), settings: SETTINGS },
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      };
      fs.writeFileSync(path.join(OUT_DIR, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
      process.stdout.write(`${name}: ${c.evm.deployedBytecode.object.length / 2} bytes runtime\n`);
    }
  }
}

main();
