// Builds the typed client into dist/client: one ES module per source file (what browsers load as
// /client/*.js) and one self-contained index.d.ts in which the server's wire types are inlined,
// from a type check of client/tsconfig.json that fails the build on any error. The server's files
// are only read for their types: none of them is emitted here. `--js-only` skips the declarations
// and the check (the test setup, which only needs the modules).
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.join(here, 'src');
const outDir = path.resolve(here, '../dist/client');
const configPath = path.join(here, 'tsconfig.json');

export async function buildClient({ declarations = true } = {}) {
  const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, here, undefined, configPath);

  // A full build starts from an empty folder; the test setup's modules-only build keeps the rest.
  if (declarations) await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  for (const name of await readdir(srcDir)) {
    if (!name.endsWith('.ts') || name.endsWith('.d.ts')) continue;
    const fileName = path.join(srcDir, name);
    const { outputText, sourceMapText } = ts.transpileModule(await readFile(fileName, 'utf8'), {
      fileName,
      // ES modules whatever the package's "type" (transpileModule does not read package.json).
      compilerOptions: {
        ...parsed.options,
        module: ts.ModuleKind.ES2022,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        noEmit: false,
        declaration: false,
        sourceMap: true,
        inlineSources: true,
        outDir: undefined,
        rootDir: undefined,
      },
    });
    const base = name.replace(/\.ts$/, '.js');
    await writeFile(path.join(outDir, base), outputText);
    const map = JSON.parse(sourceMapText);
    map.file = base;
    map.sources = [`../../client/src/${name}`];
    await writeFile(path.join(outDir, `${base}.map`), JSON.stringify(map));
  }

  // The declaration bundle's program is also the type check: errors fail the build. A
  // production install (npm ci --omit=dev) has no dts-bundle-generator and needs only the modules.
  if (declarations) {
    const generator = await import('dts-bundle-generator').catch(() => undefined);
    if (!generator) {
      console.warn('client: dts-bundle-generator is not installed (a production install?): index.d.ts not written');
      return;
    }
    const { generateDtsBundle } = generator;
    const [dts] = generateDtsBundle(
      [{ filePath: path.join(srcDir, 'index.ts'), output: { noBanner: true, exportReferencedTypes: false } }],
      { preferredConfigPath: configPath },
    );
    await writeFile(path.join(outDir, 'index.d.ts'), dts);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildClient({ declarations: !process.argv.includes('--js-only') }).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
