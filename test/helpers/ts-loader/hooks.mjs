// Module hooks for register.mjs: a relative "./x.js" import resolves to "./x.ts" when only the source exists,
// and .ts files are transpiled (types erased) with the project's ESM settings. Output is cached by content hash
// in node_modules/.cache (where build tools keep caches), so the second process to load a file pays nothing.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cacheDir = fileURLToPath(new URL('../../../node_modules/.cache/proglog-ts-loader/', import.meta.url));
let typescript;

export async function resolve(specifier, context, nextResolve) {
  if (context.parentURL?.startsWith('file:') && /^\.{1,2}\//.test(specifier) && specifier.endsWith('.js')) {
    const jsUrl = new URL(specifier, context.parentURL);
    const tsUrl = new URL(jsUrl.href.slice(0, -3) + '.ts');
    if (!existsSync(fileURLToPath(jsUrl)) && existsSync(fileURLToPath(tsUrl))) {
      return { url: tsUrl.href, format: 'module', shortCircuit: true };
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const fileName = fileURLToPath(url);
  const source = await readFile(fileName, 'utf8');
  const cached = path.join(cacheDir, `${createHash('sha256').update(fileName).update('\0').update(source).digest('hex')}.js`);
  try {
    return { format: 'module', source: await readFile(cached, 'utf8'), shortCircuit: true };
  } catch {
    // Not transpiled yet.
  }
  typescript ??= (await import('typescript')).default;
  const ts = typescript;
  const { outputText } = ts.transpileModule(source, {
    fileName,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      isolatedModules: true,
      inlineSourceMap: true,
    },
  });
  await mkdir(cacheDir, { recursive: true });
  // Write then rename, so a process never reads another's half-written file.
  const tmp = `${cached}.${process.pid}.tmp`;
  await writeFile(tmp, outputText);
  await rename(tmp, cached);
  return { format: 'module', source: outputText, shortCircuit: true };
}
