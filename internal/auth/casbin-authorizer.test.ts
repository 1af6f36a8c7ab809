import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CasbinAuthorizer, PermissionDeniedError, PolicyLoadError } from './index.js';

const policyDir = fileURLToPath(new URL('../../policy/', import.meta.url));
const modelFile = join(policyDir, 'model.conf');
const policyFile = join(policyDir, 'policy.csv');

describe('CasbinAuthorizer with policy/model.conf and policy/policy.csv', () => {
  let authorizer: CasbinAuthorizer;
  beforeAll(async () => {
    authorizer = await CasbinAuthorizer.fromFiles(modelFile, policyFile);
  });

  it('lets root produce and consume any topic, the default log included (the book policy)', async () => {
    for (const topic of ['', 'orders', 'tenant-a.orders']) {
      await expect(authorizer.authorize('root', topic, 'produce')).resolves.toBeUndefined();
      await expect(authorizer.authorize('root', topic, 'consume')).resolves.toBeUndefined();
    }
  });

  it('refuses nobody everything with a PermissionDeniedError naming subject, topic and action', async () => {
    const refusal = authorizer.authorize('nobody', 'orders', 'produce');
    await expect(refusal).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(refusal).rejects.toMatchObject({ subject: 'nobody', topic: 'orders', action: 'produce' });
    expect(await authorizer.can('nobody', '', 'consume')).toBe(false);
  });

  it('confines a tenant to the topics under its prefix', async () => {
    expect(await authorizer.can('tenant-a', 'tenant-a.orders', 'produce')).toBe(true);
    expect(await authorizer.can('tenant-a', 'tenant-a.orders', 'consume')).toBe(true);
    expect(await authorizer.can('tenant-a', 'tenant-b.orders', 'produce')).toBe(false);
    expect(await authorizer.can('tenant-a', 'tenant-b.orders', 'consume')).toBe(false);
    expect(await authorizer.can('tenant-a', '', 'consume')).toBe(false);
    expect(await authorizer.can('tenant-a', 'tenant-a', 'consume')).toBe(false);
    expect(await authorizer.can('tenant-b', 'tenant-a.orders', 'consume')).toBe(false);
  });

  it('grants a role to the identities holding it, and only what the role has', async () => {
    expect(await authorizer.can('auditor-1', 'tenant-a.audit', 'consume')).toBe(true);
    expect(await authorizer.can('auditor-1', 'tenant-a.audit', 'produce')).toBe(false);
    expect(await authorizer.can('auditor-1', 'tenant-b.audit', 'consume')).toBe(false);
  });
});

describe('CasbinAuthorizer loading', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proglog-auth-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the missing file in a PolicyLoadError', async () => {
    const missing = join(dir, 'absent.csv');
    const loading = CasbinAuthorizer.fromFiles(modelFile, missing);
    await expect(loading).rejects.toBeInstanceOf(PolicyLoadError);
    await expect(loading).rejects.toThrow(missing);
  });

  it('names a malformed model file in a PolicyLoadError', async () => {
    const broken = join(dir, 'model.conf');
    await writeFile(broken, '[request_definition]\nr = sub, obj, act\n[matchers]\nm = r.sub == p.sub\n');
    await expect(CasbinAuthorizer.fromFiles(broken, policyFile)).rejects.toThrow(broken);
  });

  it('allows an action granted with "*" in a policy written inline', async () => {
    const model = await readFile(modelFile, 'utf8');
    const authorizer = await CasbinAuthorizer.fromText(model, 'p, ops, metrics.*, *\n');
    expect(await authorizer.can('ops', 'metrics.cpu', 'produce')).toBe(true);
    expect(await authorizer.can('ops', 'metrics.cpu', 'consume')).toBe(true);
    expect(await authorizer.can('ops', 'orders', 'consume')).toBe(false);
  });

  it('gives the same answers when asked again (remembered decisions) and past the bound on remembered ones', async () => {
    const authorizer = await CasbinAuthorizer.fromFiles(modelFile, policyFile);
    for (let round = 0; round < 2; round++) {
      expect(await authorizer.can('tenant-a', 'tenant-a.orders', 'produce')).toBe(true);
      expect(await authorizer.can('tenant-a', 'tenant-b.orders', 'produce')).toBe(false);
      expect(await authorizer.can('nobody', 'tenant-a.orders', 'produce')).toBe(false);
    }
    // More distinct questions than are remembered: old answers are dropped, never confused with new ones.
    for (let i = 0; i < 5000; i++) {
      expect(await authorizer.can('tenant-a', `tenant-${i % 2 === 0 ? 'a' : 'b'}.t${i}`, 'consume')).toBe(i % 2 === 0);
    }
    expect(await authorizer.can('tenant-a', 'tenant-b.orders', 'produce')).toBe(false);
    expect(await authorizer.can('tenant-a', 'tenant-a.orders', 'produce')).toBe(true);
  });
});
