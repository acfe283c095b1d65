import { transformFile } from '@swc/core';
import { mkdir, mkdtemp, readdir, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const ROOT = process.cwd();

// The service's sources compiled with SWC (as vitest compiles them, with decorator metadata) into a
// temporary folder, for tests that run a command or the service as operators run them: `node
// <folder>/src/...` in a child process. Neither a stale dist/ nor a rebuild (which would briefly
// delete the dist/ other processes may be using) is involved. Returns the folder.
export async function compileSources(prefix: string): Promise<string> {
  const outDir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await writeFile(path.join(outDir, 'package.json'), JSON.stringify({ type: 'module' }));
  await symlink(path.join(ROOT, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
  for (const folder of ['src', 'migrations']) {
    const files = (await readdir(path.join(ROOT, folder), { recursive: true })).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
    for (const file of files) {
      const { code } = await transformFile(path.join(ROOT, folder, file), {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
          target: 'es2022',
          keepClassNames: true,
        },
        module: { type: 'es6' },
        sourceMaps: false,
        swcrc: false,
      });
      const target = path.join(outDir, folder, file.replace(/\.ts$/, '.js'));
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, code);
    }
  }
  return outDir;
}
