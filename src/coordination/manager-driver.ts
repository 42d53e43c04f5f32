// The manager's thin driver: when this node holds the manager lock, read what the coordinator
// says, ask the pure `decide` (manager.ts) for the next configuration, and write it — one change
// at a time, each inside a `multi` that also checks this node's lock znode still exists (a
// deposed manager cannot write: fencing, docs/design.md §2) and that the chain znode is still at the
// version read (compare-and-set). A failed write is not an error: the next evaluation reads again.
//
// Each step, in order: create the slot map if there is none (every slot spread over the chains
// the layout asks for); start a missing chain with one spare node (placement.ts: preferably one
// whose store holds that chain, so a cluster whose coordinator state was lost restarts from its
// most complete replica); else let `decide` make the next change of some chain, with the spare
// nodes placement gives that chain as its candidates. Every other node joins through a tail (§3.8).

import type { Logger } from '../core/log.js';
import { managerChangesPerEvaluationMax } from '../core/limits.js';
import { decide, type ClusterView, type Decision, type MemberReport } from './manager.js';
import type { ChainConfig } from '../replication/chain-config.js';
import {
  decodeChainConfig,
  decodeNodeInfo,
  encodeChainConfig,
  type ClusterPaths,
  type NodeInfo,
} from './cluster-paths.js';
import { anyVersion, CoordinatorError, type Coordinator, type MultiOp } from './coordinator.js';
import {
  candidatesByChain,
  chainToStart,
  decodeLayout,
  encodeLayout,
  grownLayout,
  layoutDefault,
  wantedChains,
  type Layout,
  type PlacementNode,
} from './placement.js';
import { decodeSlotMap, encodeSlotMap, evenSlotMap } from '../sharding/slot-map.js';
import { MigrationRunner, type ChainTransport, type MigrationOptions } from './migration-runner.js';

export class ManagerDriver {
  private evaluating = false;
  private again = false;
  private readonly migration: MigrationRunner | undefined;
  /** The version of each node's znode as last read (a change made on a node's report checks it). */
  private readonly nodeVersions = new Map<string, number>();

  constructor(
    private readonly coordinator: Coordinator,
    private readonly paths: ClusterPaths,
    private readonly lockPath: string,
    private readonly log: Logger,
    transport?: () => Promise<ChainTransport>,
    migrationOptions?: MigrationOptions,
  ) {
    this.migration =
      transport === undefined
        ? undefined
        : new MigrationRunner(
            coordinator,
            paths,
            lockPath,
            log,
            transport,
            async () => {
              const [layout, chains] = await Promise.all([this.readLayout(), this.readChains()]);
              return { layout, chains: chains.map((chain) => chain.config) };
            },
            migrationOptions,
          );
  }

  /** No longer manager: stops moving slots (the next manager resumes from the slot map). */
  async stop(): Promise<void> {
    await this.migration?.stop();
  }

  /** Runs one evaluation (coalescing calls that arrive while one runs). */
  async evaluate(): Promise<void> {
    if (this.evaluating) {
      this.again = true;
      return;
    }
    this.evaluating = true;
    try {
      do {
        this.again = false;
        for (let i = 0; i < managerChangesPerEvaluationMax; i++) {
          if (!(await this.step())) break;
        }
      } while (this.again);
      this.migration?.poke();
    } catch (error) {
      if (!(error instanceof CoordinatorError)) throw error;
      this.log.log('debug', 'manager evaluation interrupted', { error: error.message });
    } finally {
      this.evaluating = false;
    }
  }

  /** One decision; true when it changed something. */
  private async step(): Promise<boolean> {
    const nodes = await this.readNodes();
    const layout = await this.readLayout();
    const chains = await this.readChains();
    if ((await this.coordinator.exists(this.paths.slots)) === undefined) return this.createSlotMap(layout, chains);
    const configs = chains.map((chain) => chain.config);
    // A restarted node waits to be removed from its chain before it may rejoin; one in no chain
    // (its chain was retired meanwhile) has nothing to wait for.
    const placed = new Set(configs.flatMap((c) => (c.joining === undefined ? c.members : [...c.members, c.joining])));
    const placement = nodes.map((node) => placementNode(node, placed));
    const start = chainToStart(layout, configs, placement);
    if (start !== undefined) return this.startChain(start.chainId, start.first, nodes);
    const candidates = candidatesByChain(layout, configs, placement);
    const grown = grownLayout(layout, configs, placement);
    if (grown !== undefined) return this.growLayout(grown);
    for (const { config, version } of chains) {
      const decision = decide(config, this.view(config, nodes, candidates.get(config.chainId) ?? []));
      if (decision.kind === 'none') continue;
      return this.reconfigure(config, version, decision, this.reporterCheck(config, decision, nodes));
    }
    return this.retireChain(layout, chains);
  }

  /**
   * A chain the layout no longer asks for, once it owns no slot and no move involves it: its
   * configuration is deleted and its nodes become spare (they join other chains, or stand by).
   */
  private async retireChain(
    layout: Layout,
    chains: readonly { config: ChainConfig; version: number }[],
  ): Promise<boolean> {
    const wanted = new Set(wantedChains(layout));
    const leaving = chains.filter((chain) => !wanted.has(chain.config.chainId));
    if (leaving.length === 0) return false;
    const found = await this.coordinator.get(this.paths.slots);
    const map = found === undefined ? undefined : decodeSlotMap(found.data);
    if (map === undefined) return false;
    const owners = new Set(map.ranges.map((range) => range[2]));
    const moving = new Set([map.migration?.from, map.migration?.to]);
    const idle = leaving.find((chain) => !owners.has(chain.config.chainId) && !moving.has(chain.config.chainId));
    if (idle === undefined) return false;
    try {
      await this.coordinator.multi([
        { kind: 'check', path: this.lockPath, version: anyVersion },
        { kind: 'check', path: this.paths.slots, version: found!.version },
        { kind: 'delete', path: this.paths.chain(idle.config.chainId), version: idle.version },
      ]);
    } catch (error) {
      if (error instanceof CoordinatorError && (error.code === 'bad-version' || error.code === 'no-node')) return false;
      throw error;
    }
    this.log.log('info', 'chain retired: it owns no slots', {
      chain: idle.config.chainId,
      members: idle.config.members,
    });
    return true;
  }

  /**
   * A joiner appended on its tail's report, or a member removed on its judge's report, is so on
   * what that node's znode said when it was read: the change checks that znode is still at that
   * version. A node that restarted since has a new znode (and has forgotten what it reported:
   * a restarted tail no longer holds its commits for the joiner).
   */
  private reporterCheck(
    config: ChainConfig,
    decision: Extract<Decision, { kind: 'change' }>,
    nodes: readonly NodeInfo[],
  ): MultiOp[] {
    const next = decision.config;
    const reporters: string[] = [];
    const appended = next.members.find((member) => !config.members.includes(member));
    if (appended !== undefined) reporters.push(config.members[config.members.length - 1]!);
    const removed = config.members.find((member) => !next.members.includes(member));
    if (removed !== undefined && next.reportRemovals !== config.reportRemovals) {
      for (const node of nodes) if (node.report?.suspects.includes(removed) === true) reporters.push(node.nodeId);
    }
    return reporters.flatMap((nodeId) => {
      const version = this.nodeVersions.get(nodeId);
      return version === undefined ? [] : [{ kind: 'check' as const, path: this.paths.node(nodeId), version }];
    });
  }

  private async reconfigure(
    config: ChainConfig,
    version: number,
    decision: Extract<Decision, { kind: 'change' }>,
    checks: readonly MultiOp[] = [],
  ): Promise<boolean> {
    const chainPath = this.paths.chain(config.chainId);
    try {
      await this.coordinator.multi([
        { kind: 'check', path: this.lockPath, version: anyVersion },
        ...checks,
        { kind: 'set', path: chainPath, data: encodeChainConfig(decision.config), version },
      ]);
    } catch (error) {
      if (error instanceof CoordinatorError && (error.code === 'bad-version' || error.code === 'no-node')) return false;
      throw error;
    }
    this.log.log('info', 'chain reconfigured', {
      chain: config.chainId,
      epoch: decision.config.epoch,
      members: decision.config.members,
      joining: decision.config.joining ?? null,
      why: decision.why,
    });
    return true;
  }

  /** Nodes were added and `auto` is on: one chain more (written like an operator's `catena chain add`). */
  private async growLayout(layout: Layout): Promise<boolean> {
    const found = await this.coordinator.get(this.paths.layout);
    if (found === undefined) return false;
    try {
      await this.coordinator.multi([
        { kind: 'check', path: this.lockPath, version: anyVersion },
        { kind: 'set', path: this.paths.layout, data: encodeLayout(layout), version: found.version },
      ]);
    } catch (error) {
      if (error instanceof CoordinatorError && (error.code === 'bad-version' || error.code === 'no-node')) return false;
      throw error;
    }
    this.log.log('info', 'enough spare nodes for another chain: layout grown', { chains: layout.chains });
    return true;
  }

  /** The layout asked for, or the default (one chain of every node) when none is stored or it is unreadable. */
  private async readLayout(): Promise<Layout> {
    const found = await this.coordinator.get(this.paths.layout);
    if (found === undefined) return layoutDefault;
    const layout = decodeLayout(found.data);
    if (layout === undefined) {
      this.log.log('error', 'the layout in the coordinator is unreadable: using one chain', {
        path: this.paths.layout,
      });
      return layoutDefault;
    }
    return layout;
  }

  /** Every chain's configuration and znode version, in id order (unreadable ones reported and left out). */
  private async readChains(): Promise<{ config: ChainConfig; version: number }[]> {
    const names = await this.coordinator.children(this.paths.chains);
    const found = await Promise.all(names.map((name) => this.coordinator.get(this.paths.chain(name))));
    const chains: { config: ChainConfig; version: number }[] = [];
    found.forEach((znode, i) => {
      if (znode === undefined) return;
      const config = decodeChainConfig(znode.data);
      if (config === undefined || config.chainId !== names[i]) {
        this.log.log('error', 'a chain configuration in the coordinator is unreadable', {
          path: this.paths.chain(names[i]!),
        });
        return;
      }
      chains.push({ config, version: znode.version });
    });
    return chains.sort((a, b) => chainOrder(a.config.chainId, b.config.chainId));
  }

  /**
   * The first slot map: every slot spread evenly over the chains the layout asks for (or the one
   * chain a cluster from before sharding already has), before any of them has started.
   */
  private async createSlotMap(layout: Layout, chains: readonly { config: ChainConfig }[]): Promise<boolean> {
    const wanted = wantedChains(layout);
    const owners = layout === layoutDefault && chains.length > 0 ? [chains[0]!.config.chainId] : wanted;
    const map = evenSlotMap(owners, 1);
    try {
      await this.coordinator.multi([
        { kind: 'check', path: this.lockPath, version: anyVersion },
        { kind: 'create', path: this.paths.slots, data: encodeSlotMap(map), mode: 'persistent' },
      ]);
    } catch (error) {
      if (error instanceof CoordinatorError && (error.code === 'node-exists' || error.code === 'no-node')) return false;
      throw error;
    }
    this.log.log('info', 'slot map created', { version: map.version, chains: owners });
    return true;
  }

  private view(config: ChainConfig, nodes: readonly NodeInfo[], candidates: readonly string[]): ClusterView {
    const tail = config.members[config.members.length - 1];
    const caughtUp = new Set<string>();
    const live = new Set<string>();
    const restarted = new Set<string>();
    const reports = chainReports(nodes, config.chainId);
    for (const node of nodes) {
      // Awaiting removal matters only for a member of this chain (a restarted node of a retired
      // chain is simply spare).
      if (!node.awaitingRemoval || !config.members.includes(node.nodeId)) live.add(node.nodeId);
      else restarted.add(node.nodeId);
      const report = node.caughtUp;
      if (node.nodeId === tail && report?.chainId === config.chainId && report.epoch === config.epoch) {
        caughtUp.add(report.joiner);
      }
    }
    return {
      liveNodes: live,
      suspectedNodes: new Set(),
      caughtUp,
      candidates,
      nowMs: Date.now(),
      sessionTimeoutMs: this.coordinator.sessionTimeoutMs,
      restartedNodes: restarted,
      reports,
    };
  }

  /**
   * A chain starts at epoch 1, or above every epoch a registered node logged for a chain of that
   * id (a chain removed and added again, whose old data a spare node holds): epochs never go down
   * along a node's log (recovery.ts).
   */
  private async startChain(chainId: string, first: string, nodes: readonly NodeInfo[]): Promise<boolean> {
    const logged = nodes.filter((node) => node.chainId === chainId).map((node) => node.lastEpoch);
    const epoch = Math.max(0, ...logged) + 1;
    const config: ChainConfig = { chainId, epoch, members: [first], joining: undefined, readsAllowedAtMs: 0 };
    try {
      await this.coordinator.multi([
        { kind: 'check', path: this.lockPath, version: anyVersion },
        { kind: 'create', path: this.paths.chain(chainId), data: encodeChainConfig(config), mode: 'persistent' },
      ]);
    } catch (error) {
      if (error instanceof CoordinatorError && (error.code === 'node-exists' || error.code === 'no-node')) return false;
      throw error;
    }
    this.log.log('info', 'chain started', { chain: config.chainId, epoch, members: config.members });
    return true;
  }

  /** Every registered node, in the order they registered (by creation is not known: by id). */
  private async readNodes(): Promise<NodeInfo[]> {
    const names = await this.coordinator.children(this.paths.nodes);
    const infos = await Promise.all(names.map((name) => this.coordinator.get(this.paths.node(name))));
    const nodes: NodeInfo[] = [];
    this.nodeVersions.clear();
    for (const found of infos) {
      const info = found === undefined ? undefined : decodeNodeInfo(found.data);
      if (info === undefined) continue;
      nodes.push(info);
      this.nodeVersions.set(info.nodeId, found!.version);
    }
    return nodes;
  }
}

function placementNode(node: NodeInfo, placed: ReadonlySet<string>): PlacementNode {
  return {
    nodeId: node.nodeId,
    live: !node.awaitingRemoval || !placed.has(node.nodeId),
    lastChain: node.chainId,
    lastSequence: node.lastSequence,
    lastEpoch: node.lastEpoch,
  };
}

/** What the nodes published about one chain (their reports), by node. */
export function chainReports(nodes: Iterable<NodeInfo>, chainId: string): Map<string, MemberReport> {
  const reports = new Map<string, MemberReport>();
  for (const node of nodes) if (node.report?.chainId === chainId) reports.set(node.nodeId, node.report);
  return reports;
}

/** c2 before c10: chains in the order they were numbered. */
export function chainOrder(a: string, b: string): number {
  const number = (id: string) => (/^c\d+$/.test(id) ? Number(id.slice(1)) : Number.MAX_SAFE_INTEGER);
  return number(a) - number(b) || a.localeCompare(b);
}
