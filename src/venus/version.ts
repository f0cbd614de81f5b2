import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** This package's version for `/Mgmt/ProcessVersion`, from source and from dist/ alike. */
export function packageVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'node-red-contrib-lifepo4-bms' && pkg.version) return pkg.version;
    } catch {
      // Not here: look one directory up.
    }
    dir = dirname(dir);
  }
  return 'unknown';
}
