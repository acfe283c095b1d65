// Writes src/openapi/plugin-metadata.ts: what @nestjs/swagger's CLI plugin reads from the
// TypeScript types of the DTOs, the wire payload classes and the controllers (property types,
// optional fields, enums from string unions, class-validator limits, return types). The plugin
// is a TypeScript transformer, which neither `tsc` nor the tests' SWC can run, so its read-only
// visitor runs here instead and the app loads the result (SwaggerModule.loadPluginMetadata):
// the build and the tests see the same description. The `//` comment above a property (this
// codebase writes no JSDoc) becomes its description.
//
//   node scripts/openapi-metadata.mjs          regenerate (npm run build does it too)
//   node scripts/openapi-metadata.mjs --check  fail when the committed file is out of date
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'src', 'openapi');
const FILENAME = 'plugin-metadata.ts';

// Files whose classes describe the wire: request DTOs, and the payloads of the event maps.
const MODEL_FILES = ['.dto.ts', '/stream-events.ts', '/socket-events.ts', '/usage-info.ts', '/chat-view.ts', '/error-envelope.ts', '/docs-payloads.ts', '/document-view.ts', '/project-view.ts'];

export async function generate(targetDir = outDir) {
  const [{ ReadonlyVisitor }, generator] = await Promise.all([
    import('@nestjs/swagger/plugin'),
    // The printer ships with the Nest CLI, a development dependency.
    import('@nestjs/cli/lib/compiler/plugins/plugin-metadata-generator.js').catch(() => undefined),
  ]);
  if (!generator) return false;
  const program = ReadonlyVisitor.createTsProgram(path.join(root, 'tsconfig.build.json'));
  const visitor = new ReadonlyVisitor({
    pathToSource: outDir,
    dtoFileNameSuffix: MODEL_FILES,
    controllerFileNameSuffix: ['.controller.ts'],
    classValidatorShim: true,
    introspectComments: false,
  });
  const withComments = {
    key: visitor.key,
    visit: (p, sf) => visitor.visit(p, sf),
    get typeImports() {
      return visitor.typeImports;
    },
    collect: () => refineModels(visitor.collect(), program),
  };
  new generator.PluginMetadataGenerator().generate({ visitors: [withComments], outputDir: targetDir, filename: FILENAME, tsProgramRef: program, printDiagnostics: false });
  return true;
}

// models: [import("…"), {ClassName: {property: {…}}}]: each property's `//` comment becomes its
// `description` (unless it has one), and an @IsInt() property is an integer, not a number.
function refineModels(collected, program) {
  const f = ts.factory;
  collected.models = collected.models.map(([importExpr, classes]) => {
    const specifier = importExpr.arguments[0].text;
    const source = program.getSourceFile(path.resolve(outDir, specifier).replace(/\.js$/, '.ts'));
    if (!source) return [importExpr, classes];
    const described = {};
    for (const [className, props] of Object.entries(classes)) {
      const declaration = source.statements.find((s) => ts.isClassDeclaration(s) && s.name?.text === className);
      described[className] = f.updateObjectLiteralExpression(
        props,
        props.properties.map((prop) => {
          const member = declaration?.members.find((m) => m.name && ts.isIdentifier(m.name) && m.name.text === prop.name.text);
          if (!member || !ts.isObjectLiteralExpression(prop.initializer)) return prop;
          let fields = prop.initializer.properties;
          if (decoratorNames(member).includes('IsInt')) {
            fields = fields.map((p) => (p.name?.text === 'type' ? f.createPropertyAssignment('type', f.createStringLiteral('integer')) : p));
          }
          const comment = lineComment(source.text, member.getFullStart());
          if (comment && !fields.some((p) => p.name?.text === 'description')) fields = [...fields, f.createPropertyAssignment('description', f.createStringLiteral(comment))];
          return f.updatePropertyAssignment(prop, prop.name, f.updateObjectLiteralExpression(prop.initializer, fields));
        }),
      );
    }
    return [importExpr, described];
  });
  return collected;
}

function decoratorNames(member) {
  return (ts.getDecorators(member) ?? []).map((d) => (ts.isCallExpression(d.expression) ? d.expression.expression.getText() : d.expression.getText()));
}

function lineComment(text, position) {
  const ranges = ts.getLeadingCommentRanges(text, position) ?? [];
  const lines = ranges.filter((r) => r.kind === ts.SyntaxKind.SingleLineCommentTrivia).map((r) => text.slice(r.pos + 2, r.end).trim());
  return lines.length ? lines.join(' ') : undefined;
}

async function check() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'openapi-metadata-'));
  try {
    if (!(await generate(dir))) throw new Error('@nestjs/cli is not installed: cannot check');
    const [fresh, committed] = await Promise.all([readFile(path.join(dir, FILENAME), 'utf8'), readFile(path.join(outDir, FILENAME), 'utf8').catch(() => '')]);
    if (fresh !== committed) {
      console.error(`src/openapi/${FILENAME} is out of date with the DTOs and controllers: run \`npm run openapi:metadata\` and commit it.`);
      process.exitCode = 1;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const run = process.argv.includes('--check')
    ? check()
    : generate().then((written) => {
        // A production install (npm ci --omit=dev) has no Nest CLI: the committed file is used.
        if (!written) console.warn(`openapi: @nestjs/cli is not installed; src/openapi/${FILENAME} is used as committed`);
      });
  run.catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
