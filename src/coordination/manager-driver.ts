// The manager's thin driver: when this node holds the manager lock, read what the coordinator
// says, ask the pure `decide` (manager.ts) for the next configuration, and write it — one change
// at a time, each inside a `multi` that also checks this node's lock znode still exists (a
// deposed manager cannot write: fencing, DESIGN.md §2) and that the chain znode is still at the
// version read (compare-and-set). A failed write is not an error: the next evaluation reads again.
//
// Starting a chain: when no configuration exists, the manager creates one whose only member is
// the live node with the longest log (so a cluster whose coordinator state was lost restarts
// from its most complete replica); every other node then joins through the tail (§3.8).

import type { Logger } from '../core/log.js';
import { decide, type ClusterView } from './manager.js';
import type { ChainConfig } from './chain-config.js';
import {
  chainIdDefault,
  decodeChainConfig,
  decodeNodeInfo,
  encodeChainConfig,
  type ClusterPaths,
  type NodeInfo,
} from './cluster-paths.js';
import { anyVersion, CoordinatorError, type Coordinator } from './coordinator.js';

/** Changes made in one evaluation at most (each is one epoch); the next evaluation goes on. */
const changesPerEvaluationMax = 8;

export class ManagerDriver {
  private evaluating = false;
  private again = false;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly paths: ClusterPaths,
    private readonly lockPath: string,
    private readonly log: Logger,
  ) {}

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
        for (let i = 0; i < changesPerEvaluationMax; i++) {
          if (!(await this.step())) break;
        }
      } while (this.again);
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
    const chainPath = this.paths.chain(chainIdDefault);
    const current = await this.coordinator.get(chainPath);
    if (current === undefined) return this.startChain(nodes, chainPath);
    const config = decodeChainConfig(current.data);
    if (config === undefined) {
      this.log.log('error', 'the chain configuration in the coordinator is unreadable', { path: chainPath });
      return false;
    }
    const decision = decide(config, this.view(config, nodes));
    if (decision.kind === 'none') return false;
    try {
      await this.coordinator.multi([
        { kind: 'check', path: this.lockPath, version: anyVersion },
        { kind: 'set', path: chainPath, data: encodeChainConfig(decision.config), version: current.version },
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

  private view(config: ChainConfig, nodes: readonly NodeInfo[]): ClusterView {
    const tail = config.members[config.members.length - 1];
    const caughtUp = new Set<string>();
    const live = new Set<string>();
    const restarted = new Set<string>();
    for (const node of nodes) {
      if (!node.awaitingRemoval) live.add(node.nodeId);
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
      candidates: nodes.map((n) => n.nodeId).filter((id) => live.has(id) && !config.members.includes(id)),
      nowMs: Date.now(),
      sessionTimeoutMs: this.coordinator.sessionTimeoutMs,
      restartedNodes: restarted,
    };
  }

  private async startChain(nodes: readonly NodeInfo[], chainPath: string): Promise<boolean> {
    const first = [...nodes].sort(
      (a, b) => b.lastEpoch - a.lastEpoch || b.lastSequence - a.lastSequence || a.nodeId.localeCompare(b.nodeId),
    )[0];
    if (first === undefined) return false;
    const config: ChainConfig = {
      chainId: chainIdDefault,
      epoch: 1,
      members: [first.nodeId],
      joining: undefined,
      readsAllowedAtMs: 0,
    };
    try {
      await this.coordinator.multi([
        { kind: 'check', path: this.lockPath, version: anyVersion },
        { kind: 'create', path: chainPath, data: encodeChainConfig(config), mode: 'persistent' },
      ]);
    } catch (error) {
      if (error instanceof CoordinatorError && (error.code === 'node-exists' || error.code === 'no-node')) return false;
      throw error;
    }
    this.log.log('info', 'chain started', { chain: config.chainId, members: config.members });
    return true;
  }

  /** Every registered node, in the order they registered (by creation is not known: by id). */
  private async readNodes(): Promise<NodeInfo[]> {
    const names = await this.coordinator.children(this.paths.nodes);
    const infos = await Promise.all(names.map((name) => this.coordinator.get(this.paths.node(name))));
    const nodes: NodeInfo[] = [];
    for (const found of infos) {
      const info = found === undefined ? undefined : decodeNodeInfo(found.data);
      if (info !== undefined) nodes.push(info);
    }
    return nodes;
  }
}
