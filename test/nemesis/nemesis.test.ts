// The nemesis judges whether a fault that cut the leader off took effect: against a stand-in cluster whose
// leadership the test scripts, so that each verdict is reached on purpose.
import type { Cluster } from './cluster.js';
import { FAULT_WITHOUT_EFFECT, History } from './history.js';
import { LinkTable } from './link-table.js';
import { Nemesis } from './nemesis.js';
import type { NemesisStep } from './schedule.js';

const ELECTION_MS = 40;
const SLACK_MS = 40;
// What a fault must last for a new leader to be required: two election timeouts and the slack.
const REQUIRED_MS = 2 * ELECTION_MS + SLACK_MS;

/**
 * Three nodes, all running. `leads(name)` says whether that node reports itself leader at that moment, or
 * undefined if it does not answer (still starting); `learners` do not vote yet.
 */
function fakeCluster(leads: (name: string) => boolean | undefined, learners: readonly string[] = []): Cluster {
  const links = new LinkTable();
  const nodes = ['n1', 'n2', 'n3'].map((name) => ({
    name,
    rpcAddr: `127.0.0.1:${name}`,
    proc: { running: true, paused: false, pause() {}, resume() {} },
  }));
  const leader = (): string | undefined => nodes.find((n) => leads(n.name))?.name;
  const fake = {
    links,
    nodes,
    names: () => nodes.map((n) => n.name),
    node: (name: string) => nodes.find((n) => n.name === name)!,
    currentLeader: async () => leader(),
    waitForLeader: async () => {
      const l = leader();
      if (l === undefined) throw new Error('no leader');
      return l;
    },
    getServers: async (name: string) => {
      const l = leads(name);
      if (l === undefined) throw new Error(`${name} is not up`);
      return nodes.map((n) => ({ id: n.name, rpcAddr: n.rpcAddr, isLeader: n.name === name && l, isLearner: learners.includes(n.name) }));
    },
  };
  return fake as unknown as Cluster;
}

async function runOne(cluster: Cluster, step: NemesisStep): Promise<{ nemesis: Nemesis; infos: string[] }> {
  const history = new History();
  const nemesis = new Nemesis(cluster, history, { electionTimeoutMs: ELECTION_MS, electionSlackMs: SLACK_MS });
  await nemesis.run([step], Date.now());
  return { nemesis, infos: history.events.map((e) => e.info ?? '') };
}

const isolate = (durationMs: number): NemesisStep => ({ at: 0, durationMs, fault: { kind: 'isolate-leader' } });

describe('Nemesis: did a fault that cut the leader off take effect', () => {
  it('sees the majority elect another leader', async () => {
    let isolated = false;
    const cluster = fakeCluster((name) => (isolated ? name !== 'n3' : name === 'n1'));
    cluster.links.onChange(() => (isolated = cluster.links.describe().length > 0));
    const { nemesis, infos } = await runOne(cluster, isolate(REQUIRED_MS + 60));
    expect(infos.some((i) => i.startsWith('effect: n1 cut off from n2,n3; n2 led the majority'))).toBe(true);
    expect(infos.some((i) => i.startsWith(FAULT_WITHOUT_EFFECT))).toBe(false);
    expect([nemesis.leaderCutOffs, nemesis.leaderChangesSeen]).toEqual([1, 1]);
  });

  it('records a fault without effect when the majority, all up, keeps no other leader for two election timeouts and the slack', async () => {
    // The "partition" let traffic through: everyone still follows n1.
    const { nemesis, infos } = await runOne(fakeCluster((name) => name === 'n1'), isolate(REQUIRED_MS + 60));
    expect(infos.filter((i) => i.startsWith(`${FAULT_WITHOUT_EFFECT}: n1 cut off from n2,n3, the majority up for`))).toHaveLength(1);
    expect([nemesis.leaderCutOffs, nemesis.leaderChangesSeen]).toEqual([1, 0]);
  });

  it('does not require a new leader within a fault shorter than two election timeouts and the slack', async () => {
    const { nemesis, infos } = await runOne(fakeCluster((name) => name === 'n1'), isolate(REQUIRED_MS - 80));
    expect(infos.some((i) => i.startsWith('no new leader seen: n1 cut off from n2,n3') && i.endsWith('(too short to require one)'))).toBe(true);
    expect(infos.some((i) => i.startsWith(FAULT_WITHOUT_EFFECT))).toBe(false);
    expect([nemesis.leaderCutOffs, nemesis.leaderChangesSeen]).toEqual([1, 0]);
  });

  it('does not require one while part of the majority is still starting (no majority to elect with)', async () => {
    // n3 was restarted a moment ago and does not answer yet; n2 alone cannot elect.
    const { nemesis, infos } = await runOne(fakeCluster((name) => (name === 'n3' ? undefined : name === 'n1')), isolate(REQUIRED_MS + 60));
    expect(infos.some((i) => i.startsWith('no new leader seen: n1 cut off from n2,n3, the majority up for 0 ms'))).toBe(true);
    expect(infos.some((i) => i.startsWith(FAULT_WITHOUT_EFFECT))).toBe(false);
    expect([nemesis.leaderCutOffs, nemesis.leaderChangesSeen]).toEqual([1, 0]);
  });

  it('expects nothing when the nodes cut off from the leader are no majority of the voters (one is still a learner)', async () => {
    const { nemesis, infos } = await runOne(fakeCluster((name) => name === 'n1', ['n3']), isolate(REQUIRED_MS + 60));
    expect(infos.some((i) => i.startsWith(FAULT_WITHOUT_EFFECT) || i.startsWith('effect') || i.startsWith('no new leader'))).toBe(false);
    expect(nemesis.leaderCutOffs).toBe(0);
  });

  it('expects nothing of a fault that leaves the leader a majority (one-way loss, a split it is on the big side of)', async () => {
    const oneWay: NemesisStep = { at: 0, durationMs: 4 * ELECTION_MS, fault: { kind: 'one-way', from: { role: 'leader' }, toPick: 0 } };
    const a = await runOne(fakeCluster((name) => name === 'n1'), oneWay);
    // n1 | n2,n3 when picks land so; 1 picks n2 out of [n1,n2,n3], leaving the leader n1 with n3.
    const split: NemesisStep = { at: 0, durationMs: 4 * ELECTION_MS, fault: { kind: 'split', minorityPicks: [1] } };
    const b = await runOne(fakeCluster((name) => name === 'n1'), split);
    for (const { nemesis, infos } of [a, b]) {
      expect(infos.some((i) => i.startsWith(FAULT_WITHOUT_EFFECT) || i.startsWith('effect') || i.startsWith('no new leader'))).toBe(false);
      expect(nemesis.leaderCutOffs).toBe(0);
    }
  });
});
