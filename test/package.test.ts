import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { helper, startServer, stopServer } from './helpers/red';

/**
 * The checks of the Flow Library scorecard (node-red-dev validate) that can run offline, against
 * the built package as it would be published: P01, P03–P07, D01, N02, html beside js, and the
 * literal registerType calls the scorecard parses.
 */
const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  license?: string;
  repository?: { url?: string };
  bugs?: { url?: string };
  keywords?: string[];
  engines?: { node?: string };
  files?: string[];
  dependencies?: Record<string, string>;
  'node-red': { version?: string; nodes: Record<string, string> };
};
const nodes = Object.entries(pkg['node-red'].nodes);

function scripts(html: string, type: string): string[] {
  const re = new RegExp(`<script[^>]*type="${type.replace('/', '\\/')}"[^>]*>([\\s\\S]*?)<\\/script>`, 'g');
  return [...html.matchAll(re)].map((m) => m[1] ?? '');
}

describe('package (scorecard checks)', () => {
  it('P01 licence, P03 repository and bugs, P04 name, P05 keyword, P06 Node-RED range, P07 Node range', () => {
    assert.ok(pkg.license && fs.existsSync(path.join(root, 'LICENSE')));
    assert.match(pkg.repository?.url ?? '', /^https:\/\//);
    assert.match(pkg.bugs?.url ?? '', /^https:\/\//);
    assert.match(pkg.name, /^node-red-contrib-/);
    assert.ok(pkg.keywords?.includes('node-red'));
    assert.equal(pkg['node-red'].version, '>=3.1.0');
    // Node.js 20 as on Venus OS; the only Node.js the nodes are tested on.
    assert.equal(pkg.engines?.node, '>=20');
  });

  it('D01 few runtime dependencies, none of them node-red; only what ships is in files', () => {
    const deps = Object.keys(pkg.dependencies ?? {});
    assert.ok(deps.length <= 6, deps.join(', '));
    assert.ok(!deps.includes('node-red'));
    assert.deepEqual([...(pkg.files ?? [])].sort(), ['LICENSE', 'README.md', 'bin', 'dist', 'examples']);
  });

  for (const [type, file] of nodes) {
    describe(type, () => {
      const js = path.join(root, file);
      const dir = path.dirname(js);
      const html = js.replace(/\.js$/, '.html');

      it('runtime file exports the (RED) => void function and the HTML sits beside it', () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the built file as Node-RED does
        assert.equal(typeof require(js), 'function');
        assert.ok(fs.existsSync(html), `${path.relative(root, html)} is missing`);
      });

      it('registers its type with inline literals the scorecard can read, in valid JavaScript', () => {
        const source = fs.readFileSync(html, 'utf8');
        const [editor, ...more] = scripts(source, 'text/javascript');
        assert.ok(editor !== undefined && more.length === 0, 'one <script type="text/javascript"> block');
        assert.doesNotThrow(() => new vm.Script(editor), 'the editor script parses');
        assert.match(editor, new RegExp(`RED\\.nodes\\.registerType\\('${type}',\\s*\\{`));
        const config = /category:\s*'config'/.test(editor);
        assert.match(editor, /category:\s*'[^']+'/);
        assert.match(editor, /defaults:\s*\{/);
        if (!config) {
          assert.match(editor, /category:\s*'LiFePO4 BMS'/);
          assert.match(editor, /color:\s*'#9CCC65'/);
          assert.match(editor, /inputs:\s*\d/);
          assert.match(editor, /outputs:\s*\d/);
          const icon = /icon:\s*'([^']+)'/.exec(editor)?.[1];
          assert.ok(icon && fs.existsSync(path.join(dir, 'icons', icon)), `icon ${icon ?? '?'} beside the node`);
        }
        assert.equal(scripts(source, 'text/html').filter((t) => t.includes('form-row')).length, 1, 'an edit template');
      });

      it('has an en-US message catalogue and help text', () => {
        const catalogue = JSON.parse(
          fs.readFileSync(path.join(dir, 'locales', 'en-US', `${type}.json`), 'utf8'),
        ) as Record<string, unknown>;
        assert.ok(catalogue[type], `catalogue keys under "${type}"`);
        const help = fs.readFileSync(path.join(dir, 'locales', 'en-US', `${type}.html`), 'utf8');
        assert.match(help, new RegExp(`data-help-name="${type}"`));
        assert.ok(help.replace(/<[^>]+>/g, '').trim().length > 200, 'help says something');
      });
    });
  }

  it('N02 every non-config node type is used in an example, and examples are valid flows', () => {
    const used = new Set<string>();
    for (const file of fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.json'))) {
      const flow = JSON.parse(fs.readFileSync(path.join(root, 'examples', file), 'utf8')) as {
        id: string;
        type: string;
        z?: string;
        wires?: string[][];
      }[];
      const ids = new Set(flow.map((n) => n.id));
      assert.equal(ids.size, flow.length, `${file}: ids are unique`);
      for (const n of flow) {
        used.add(n.type);
        for (const target of (n.wires ?? []).flat())
          assert.ok(ids.has(target), `${file}: ${n.id} is wired to a missing ${target}`);
      }
      assert.ok(
        flow.some((n) => n.type === 'comment'),
        `${file} explains itself in a comment node`,
      );
    }
    for (const [type] of nodes.filter(([t]) => t !== 'bms-link'))
      assert.ok(used.has(type), `${type} appears in no example`);
  });

  it('examples stay apart when imported together: each link named for its port, the demo says what it needs and is quiet', () => {
    const links: { file: string; name: string; port: string }[] = [];
    for (const file of fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.json'))) {
      const flow = JSON.parse(fs.readFileSync(path.join(root, 'examples', file), 'utf8')) as {
        type: string;
        name?: string;
        port?: string;
      }[];
      for (const n of flow.filter((x) => x.type === 'bms-link'))
        links.push({ file, name: n.name ?? '', port: n.port ?? '' });
    }
    assert.equal(
      new Set(links.map((l) => l.name)).size,
      links.length,
      `link names are unique: ${links.map((l) => l.name).join(', ')}`,
    );
    for (const l of links) {
      if (l.port.startsWith('/dev/'))
        assert.ok(l.name.includes(l.port), `${l.file}: "${l.name}" names its port ${l.port}`);
      else assert.match(l.name, /simulated/, `${l.file}: the simulator's link says so`);
    }
    const demo = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'flows.json'), 'utf8')) as {
      type: string;
      info?: string;
      active?: boolean;
      name?: string;
    }[];
    assert.match(demo.find((n) => n.type === 'tab')?.info ?? '', /Dashboard 2/);
    assert.deepEqual(
      demo.filter((n) => n.type === 'debug' && n.active).map((n) => n.name),
      ['alarm changes'],
      'only the debug node that matters is on',
    );
  });

  it('the built runtime files load through the test helper', async () => {
    await startServer();
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the built files, as Node-RED loads them
      const modules = nodes.map(([, file]) => require(path.join(root, file)) as unknown);
      await helper.load(modules, [
        { id: 'f', type: 'tab' },
        {
          id: 'l',
          type: 'bms-link',
          port: '',
          baud: '9600',
          dialect: 'auto',
          mode: 'auto',
          packs: 'discover',
          interval: '5',
          timeout: '1000',
          gap: '50',
        },
        { id: 'p', type: 'bms-pack', z: 'f', link: 'l', pack: '1', wires: [[]] },
        { id: 'b', type: 'bms-parallel', z: 'f', source: 'input', stale: '30', wires: [[]] },
        { id: 'a', type: 'bms-alarms', z: 'f', raise: '0', clear: '0', minLevel: 'warning', wires: [[], []] },
      ]);
      for (const id of ['l', 'p', 'b', 'a']) assert.ok(helper.getNode(id), `node ${id} created`);
    } finally {
      await helper.unload();
      await stopServer();
    }
  });
});
