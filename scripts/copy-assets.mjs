// Copies each node's editor HTML, locales and icons beside its compiled .js in dist/nodes
// (Node-RED looks for them next to the runtime file).
import { cpSync, existsSync, readdirSync } from 'node:fs';
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
  if (!existsSync(path.join(to, `${node.name}.js`))) throw new Error(`dist/nodes/${node.name}/${node.name}.js is missing: run tsc first`);
}
