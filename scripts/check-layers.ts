// `npm run check:layers`: the source tree's structure rules, which the compiler does not check.
//  1. Dependencies point one way: a file in src/ imports only from its own layer or a lower one
//     (the table below). Static imports, `export ... from`, `import()` and `import('...')` types
//     all count: a type-only import is a dependency too.
//  2. A package imported from src/ is declared in package.json `dependencies`: src/ is compiled
//     into dist/src and published, so a package that is only a devDependency (or only installed
//     because another package depends on it) is missing where Catena is installed. src/testing is
//     not shipped (tsconfig.build.json leaves it out), so it may also use devDependencies.
//  3. Every limit lives in src/core/limits.ts: a top-level `const` whose name says it is a limit
//     (a unit such as Ms or Bytes, or a bound such as Max) and whose value is a number written
//     here is refused anywhere else in src/.
// It prints one line per finding (file:line, the import or constant, and the rule) and exits 1
// if there is any. `checkLayers(root)` returns the findings, for the test.

import { readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The layers, lowest first. A file may import from its own layer and from layers of a lower rank;
 * layers of one rank are peers and import neither each other nor anything above. The order is
 * what src/ does, written down so it stays that way: the core needs nothing; the native
 * protocol's messages and codec are the vocabulary the command table is written in, so they sit
 * below the commands, beside the store, the replication core and the slot arithmetic, which need
 * only the core; the commands run on a store; the protocol sessions (RESP, memcached, native)
 * turn connections into commands; the coordination layer (membership, the manager, slot moves)
 * and the cluster client send commands; a node (server) wires all of these together, and the
 * benchmark library sits beside it; the CLI and the package entry point sit on top. src/testing
 * (simulators, checkers, external test servers) may import anything, and so nothing else may
 * import it: it is the highest layer.
 *
 * A file's layer is that of the longest path prefix that matches it; a file under src/ that none
 * matches is a finding (place a new directory here on purpose).
 */
export const layers: readonly { readonly name: string; readonly rank: number; readonly paths: readonly string[] }[] = [
  { name: 'core', rank: 0, paths: ['src/core/'] },
  { name: 'wire', rank: 1, paths: ['src/protocol/native/'] },
  { name: 'storage', rank: 1, paths: ['src/storage/'] },
  { name: 'replication', rank: 1, paths: ['src/replication/'] },
  { name: 'sharding', rank: 1, paths: ['src/sharding/'] },
  { name: 'commands', rank: 2, paths: ['src/commands/'] },
  { name: 'protocol', rank: 3, paths: ['src/protocol/', 'src/protocol/native/session.ts'] },
  { name: 'coordination', rank: 4, paths: ['src/coordination/'] },
  { name: 'client', rank: 4, paths: ['src/client/'] },
  { name: 'server', rank: 5, paths: ['src/server/'] },
  { name: 'bench', rank: 5, paths: ['src/bench/'] },
  { name: 'cli', rank: 6, paths: ['src/cli/'] },
  { name: 'index', rank: 6, paths: ['src/index.ts'] },
  { name: 'testing', rank: 7, paths: ['src/testing/'] },
];

/** Not shipped in the package (tsconfig.build.json excludes it): it may import devDependencies too. */
const devDependenciesAllowed = ['src/testing/'];

/** Where limits live. */
const limitsFile = 'src/core/limits.ts';
/** Rule 3 is about the product: test harness timings (src/testing, like test/) are not Catena's limits. */
const limitsRuleExempt = ['src/testing/'];
/**
 * TEMPORARY (issue #14, item 6): src/storage/ is being converted by another change right now (its
 * record header sizes and int64 bounds still match rule 3). Delete the entry when that lands; add
 * nothing to this list.
 */
const limitsAllowlistTemporary = ['src/storage/'];

/** A limit's name: a unit, then any qualifiers (timeoutMsDefault, sessionTimeoutMsMinDefault), or a bound (multiKeysMax). */
const limitName =
  /(?:Ms|Us|Seconds|Bytes|Chars|Records|Entries|Keys|Lines)(?:Max|Min|Default|Initial|Target|Ceiling)*$|(?:Max|Min|Ceiling|Kept|PerTimeout)$/;

export interface Finding {
  readonly file: string;
  readonly line: number;
  /** The import or declaration, on one line. */
  readonly code: string;
  readonly message: string;
}

type Layer = (typeof layers)[number];

function layerOf(path: string): Layer | undefined {
  let best: Layer | undefined;
  let bestLength = -1;
  for (const layer of layers) {
    for (const prefix of layer.paths) {
      if ((path === prefix || path.startsWith(prefix)) && prefix.length > bestLength) {
        best = layer;
        bestLength = prefix.length;
      }
    }
  }
  return best;
}

const under = (path: string, prefixes: readonly string[]): boolean =>
  prefixes.some((prefix) => path === prefix || path.startsWith(prefix));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

interface ImportSite {
  readonly node: ts.Node;
  /** undefined: not a string literal (an `import(expression)`), which cannot be checked. */
  readonly specifier: string | undefined;
}

function importsOf(source: ts.SourceFile): ImportSite[] {
  const sites: ImportSite[] = [];
  const literal = (node: ts.Node | undefined): string | undefined =>
    node !== undefined && ts.isStringLiteralLike(node) ? node.text : undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      if (node.moduleSpecifier !== undefined) sites.push({ node, specifier: literal(node.moduleSpecifier) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      sites.push({ node, specifier: literal(node.moduleReference.expression) });
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      sites.push({
        node,
        specifier: ts.isLiteralTypeNode(argument) ? literal(argument.literal) : undefined,
      });
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      sites.push({ node, specifier: literal(node.arguments[0]) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sites;
}

/** A number written in the code: literals combined by arithmetic, other constants allowed beside them. */
function writesNumber(node: ts.Expression): boolean {
  let literal = false;
  const numeric = (node: ts.Expression): boolean => {
    if (ts.isNumericLiteral(node) || ts.isBigIntLiteral(node)) return (literal = true);
    if (ts.isIdentifier(node) || ts.isPropertyAccessExpression(node)) return true;
    if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isSatisfiesExpression(node)) {
      return numeric(node.expression);
    }
    if (ts.isPrefixUnaryExpression(node)) return numeric(node.operand);
    if (ts.isBinaryExpression(node)) {
      const arithmetic = [
        ts.SyntaxKind.PlusToken,
        ts.SyntaxKind.MinusToken,
        ts.SyntaxKind.AsteriskToken,
        ts.SyntaxKind.SlashToken,
        ts.SyntaxKind.PercentToken,
        ts.SyntaxKind.AsteriskAsteriskToken,
        ts.SyntaxKind.LessThanLessThanToken,
        ts.SyntaxKind.GreaterThanGreaterThanToken,
        ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken,
        ts.SyntaxKind.AmpersandToken,
        ts.SyntaxKind.BarToken,
        ts.SyntaxKind.CaretToken,
      ];
      return arithmetic.includes(node.operatorToken.kind) && numeric(node.left) && numeric(node.right);
    }
    return false;
  };
  return numeric(node) && literal;
}

function limitsOf(source: ts.SourceFile): { node: ts.Node; name: string }[] {
  const found: { node: ts.Node; name: string }[] = [];
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    if ((statement.declarationList.flags & ts.NodeFlags.Const) === 0) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (!ts.isIdentifier(declaration.name) || declaration.initializer === undefined) continue;
      if (limitName.test(declaration.name.text) && writesNumber(declaration.initializer)) {
        found.push({ node: statement, name: declaration.name.text });
      }
    }
  }
  return found;
}

/** The findings for the project at `root` (a directory with package.json and src/). */
export function checkLayers(root: string): Finding[] {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const dependencies = new Set(Object.keys(manifest.dependencies ?? {}));
  const devDependencies = new Set(Object.keys(manifest.devDependencies ?? {}));
  const findings: Finding[] = [];
  const posix = (path: string): string => relative(root, path).split(sep).join('/');

  for (const path of sourceFiles(join(root, 'src')).sort()) {
    const file = posix(path);
    const text = readFileSync(path, 'utf8');
    const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const at = (node: ts.Node, message: string): void => {
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      const code = node.getText(source).replace(/\s+/g, ' ');
      findings.push({ file, line, code: code.length > 160 ? `${code.slice(0, 157)}...` : code, message });
    };
    const from = layerOf(file);
    if (from === undefined) {
      findings.push({ file, line: 1, code: '', message: 'this file is in no layer: add its directory to the table' });
      continue;
    }

    for (const { node, specifier } of importsOf(source)) {
      if (specifier === undefined) {
        at(node, 'the module is not a string literal, so its layer cannot be checked');
      } else if (specifier.startsWith('.')) {
        const target = posix(resolve(dirname(path), specifier)).replace(/\.js$/, '.ts');
        const to = layerOf(target);
        if (to === undefined) {
          at(node, `imports ${target}, which is in no layer (outside src/, or in no directory of the table)`);
        } else if (to.name === 'testing' && from.name !== 'testing') {
          at(node, `${from.name} imports src/testing: only src/testing may import src/testing`);
        } else if (to.rank > from.rank) {
          at(
            node,
            `${from.name} (rank ${from.rank}) imports ${to.name} (rank ${to.rank}): a layer imports only lower layers`,
          );
        } else if (to.rank === from.rank && to.name !== from.name) {
          at(node, `${from.name} imports ${to.name}: peers of rank ${to.rank} import neither each other`);
        }
      } else if (!specifier.startsWith('node:') && !isBuiltin(specifier)) {
        const name = packageName(specifier);
        const declared = dependencies.has(name) || (under(file, devDependenciesAllowed) && devDependencies.has(name));
        if (!declared) at(node, `imports the package ${name}, which is not in package.json "dependencies"`);
      }
    }

    if (file !== limitsFile && !under(file, limitsRuleExempt) && !under(file, limitsAllowlistTemporary)) {
      for (const { node, name } of limitsOf(source)) {
        at(node, `the limit ${name} is defined here: every limit lives in ${limitsFile}, with its unit and reason`);
      }
    }
  }
  return findings;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url));
  const findings = checkLayers(root);
  for (const finding of findings) {
    console.error(`${finding.file}:${finding.line}: ${finding.code}\n    ${finding.message}`);
  }
  if (findings.length > 0) {
    console.error(`check-layers: ${findings.length} finding(s); the layer table is in scripts/check-layers.ts`);
    process.exit(1);
  }
  console.log('check-layers: imports follow the layers, packages are declared, limits live in limits.ts');
}
