// Copies each node's editor HTML, locales and icons beside its compiled .js in dist/nodes
// (Node-RED looks for them next to the runtime file).
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
for (const node of readdirSync(path.join(root, 'nodes'), { withFileTypes: true })) {
  if (!node.isDirectory() || node.name === 'shared') continue;
  const from = path.join(root, 'nodes', node.name);
  const to = path.join(root, 'dist', 'nodes', node.name);
  for (const entry of readdirSync(from)) {
    if (entry.endsWith('.html') || entry === 'locales' || entry === 'icons') {
      cpSync(path.join(from, entry), path.join(to, entry), { recursive: true });
    }
  }
  if (!existsSync(path.join(to, `${node.name}.js`)))
    throw new Error(`dist/nodes/${node.name}/${node.name}.js is missing: run tsc first`);
}

// The runtime's ranges into the editor (one source of truth: nodes/shared/ranges.ts).
const { RANGES } = createRequire(import.meta.url)(path.join(root, 'dist', 'nodes', 'shared', 'ranges.js'));
const linkHtml = path.join(root, 'dist', 'nodes', 'bms-link', 'bms-link.html');
const html = readFileSync(linkHtml, 'utf8');
if (!html.includes('/*LFP_BMS_RANGES*/{}')) throw new Error('bms-link.html has no place for the ranges');
writeFileSync(linkHtml, html.replace('/*LFP_BMS_RANGES*/{}', JSON.stringify(RANGES)));
