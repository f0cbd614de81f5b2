#!/usr/bin/env node
'use strict';
let cli;
try {
  cli = require('../dist/src/cli/main.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND') {
    process.stderr.write('lfp-bms: not built yet: run "npm install" (or "npm run build") in the package folder\n');
    process.exit(1);
  }
  throw err;
}
cli.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`lfp-bms: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
