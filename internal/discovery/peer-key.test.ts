import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MembershipConfigError } from './errors.js';
import { loadOrCreatePeerKey, nextIncarnation, saveIncarnation } from './peer-key.js';

describe('state persisted in the data dir', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proglog-discovery-key-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the libp2p key is created once and survives restarts, so the peer id does too', async () => {
    const first = await loadOrCreatePeerKey(dir);
    const again = await loadOrCreatePeerKey(dir);
    expect(again.publicKey.toString()).toBe(first.publicKey.toString());
  });

  test('a corrupt key file is a configuration error, never silently replaced', async () => {
    await writeFile(join(dir, 'libp2p.key'), 'garbage');
    await expect(loadOrCreatePeerKey(dir)).rejects.toBeInstanceOf(MembershipConfigError);
  });

  test('every start gets a higher incarnation, above any refutation saved before', async () => {
    expect(await nextIncarnation(dir)).toBe(1);
    expect(await nextIncarnation(dir)).toBe(2);
    await saveIncarnation(dir, 10);
    expect(await nextIncarnation(dir)).toBe(11);
  });
});
