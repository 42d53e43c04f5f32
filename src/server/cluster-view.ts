// The dashboard's one document (GET /cluster, docs/dashboard.md): what `catena status` reports
// (gathered the same way: client/cluster-status.ts), the slot map and a move's progress, every
// node's admin address (so a page can follow to another node when this one dies), every node's
// throughput series and this node's event log. A page polls one node; that node fans out.
//
// Many pages polling many times a second cost one fan-out per clusterViewCacheMs: requests
// meanwhile share the document being gathered or the last one. Other nodes' series are read from
// their /series and kept here, so each gather asks each node only for the seconds it lacks.

import { create } from '@bufbuild/protobuf';
import type { ClusterClient, Topology } from '../client/cluster-client.js';
import {
  askEveryNode,
  buildReport,
  standaloneReport,
  statusDocument,
  type StatusDocument,
} from '../client/cluster-status.js';
import type { ReplyInit } from '../commands/index.js';
import { CatenaError } from '../core/errors.js';
import {
  clusterViewCacheMs,
  clusterViewNodeTimeoutMs,
  seriesBodyBytesMax,
  seriesSampleIntervalMs,
  seriesSamplesKept,
} from '../core/limits.js';
import { NodeStatusReplySchema } from '../protocol/native/gen/catena_pb.js';
import { fetchAdminJson, type AdminFetchOptions } from './admin-fetch.js';
import type { ClusterEvent, ClusterEventLog, MoveProgress } from './cluster-events.js';
import type { SeriesSample, ThroughputSeries } from './throughput-series.js';

/** GET /series: one node's samples. */
export interface SeriesDocument {
  nodeId: string;
  intervalMs: number;
  samples: SeriesSample[];
}

/** One node's series in /cluster: null error when it was read now, else why not (the samples are the last read). */
export interface NodeSeries {
  samples: SeriesSample[];
  error: string | null;
}

/** GET /cluster. Keys are always present; see docs/dashboard.md for each. */
export interface ClusterDocument {
  version: 1;
  generatedAtMs: number;
  servedBy: string;
  status: StatusDocument;
  slotMap: { version: number; ranges: { first: number; last: number; chainId: string }[] };
  move: MoveProgress | null;
  nodes: { nodeId: string; admin: string; native: string }[];
  seriesIntervalMs: number;
  series: Record<string, NodeSeries>;
  events: ClusterEvent[];
}

export interface ClusterViewSources {
  readonly nodeId: string;
  readonly series: ThroughputSeries;
  /** This node's event log; absent on a standalone node. */
  readonly events?: ClusterEventLog;
  /** A cluster client whose requests to this node run in-process (router.ts); absent on a standalone node. */
  readonly client?: () => Promise<ClusterClient>;
  /** This node's status, for a standalone node. */
  readonly localStatus: () => ReplyInit<'nodestatus'>;
  readonly nativeAddress: () => string;
  /** How to read other nodes' admin ports (their token and TLS are this node's). */
  readonly fetch: Omit<AdminFetchOptions, 'timeoutMs' | 'bytesMax'>;
  readonly nowMs?: () => number;
}

/** Gathers /cluster (shared by the requests of one clusterViewCacheMs) and serves /series. */
export class ClusterView {
  private gathered: { atMs: number; document: Promise<ClusterDocument> } | undefined;
  private client: Promise<ClusterClient> | undefined;
  private readonly peerSeries = new Map<string, { samples: SeriesSample[]; readAtMs: number }>();
  private closed = false;

  constructor(private readonly sources: ClusterViewSources) {}

  /** This node's own series, the newest `seconds` samples. */
  ownSeries(seconds: number): SeriesDocument {
    return {
      nodeId: this.sources.nodeId,
      intervalMs: seriesSampleIntervalMs,
      samples: this.sources.series.samples(seconds),
    };
  }

  /** The cluster document with each node's newest `seconds` samples. */
  async document(seconds: number): Promise<ClusterDocument> {
    const nowMs = this.now();
    let gathered = this.gathered;
    if (gathered === undefined || nowMs - gathered.atMs >= clusterViewCacheMs) {
      const fresh = { atMs: nowMs, document: this.gather() };
      gathered = fresh;
      this.gathered = fresh;
      // A failed gather is not kept: the next request tries again.
      fresh.document.catch(() => {
        if (this.gathered === fresh) this.gathered = undefined;
      });
    }
    const full = await gathered.document;
    const series: Record<string, NodeSeries> = {};
    for (const [nodeId, one] of Object.entries(full.series)) {
      series[nodeId] = { samples: one.samples.slice(Math.max(0, one.samples.length - seconds)), error: one.error };
    }
    return { ...full, series };
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    await client?.then(
      (c) => c.close(),
      () => undefined,
    );
  }

  private now(): number {
    return (this.sources.nowMs ?? Date.now)();
  }

  private async gather(): Promise<ClusterDocument> {
    if (this.sources.client === undefined) return this.standalone();
    const client = await this.connected();
    const topology = await client.topology();
    const [answers, series] = await Promise.all([
      askEveryNode(client, topology, { nodeTimeoutMs: clusterViewNodeTimeoutMs }),
      this.everySeries(topology),
    ]);
    const migration = topology.migration;
    return {
      version: 1,
      generatedAtMs: this.now(),
      servedBy: this.sources.nodeId,
      status: statusDocument(buildReport(topology, answers)),
      slotMap: {
        version: Number(topology.slotsVersion),
        ranges: topology.slots.map((range) => ({ first: range.first, last: range.last, chainId: range.chainId })),
      },
      move:
        this.sources.events?.progress() ??
        (migration === undefined
          ? null
          : {
              first: migration.first,
              last: migration.last,
              from: migration.fromChain,
              to: migration.toChain,
              stage: migration.stage === 'drop' ? 'drop' : 'copy',
              remaining: migration.remaining,
              planned: migration.planned,
              startedAtMs: null,
            }),
      nodes: topology.nodes.map((node) => ({ nodeId: node.nodeId, admin: node.admin, native: node.native })),
      seriesIntervalMs: seriesSampleIntervalMs,
      series,
      events: this.sources.events?.events() ?? [],
    };
  }

  private standalone(): ClusterDocument {
    const status = create(NodeStatusReplySchema, this.sources.localStatus());
    const native = this.sources.nativeAddress();
    const report = standaloneReport({
      nodeId: status.nodeId,
      role: 'standalone',
      native,
      answer: { ok: true, status },
    });
    return {
      version: 1,
      generatedAtMs: this.now(),
      servedBy: this.sources.nodeId,
      status: statusDocument(report),
      slotMap: { version: 0, ranges: [] },
      move: null,
      nodes: [{ nodeId: this.sources.nodeId, admin: '', native }],
      seriesIntervalMs: seriesSampleIntervalMs,
      series: { [this.sources.nodeId]: { samples: this.sources.series.samples(), error: null } },
      events: [],
    };
  }

  /** The cluster client, made on first use and again after it could not be made (the node may not have joined yet). */
  private connected(): Promise<ClusterClient> {
    if (this.closed) return Promise.reject(new CatenaError('ERR_SHUTTING_DOWN'));
    const factory = this.sources.client;
    if (factory === undefined) return Promise.reject(new CatenaError('ERR_UNAVAILABLE', 'a standalone node'));
    if (this.client === undefined) {
      const made = factory();
      this.client = made;
      made.catch(() => {
        if (this.client === made) this.client = undefined;
      });
    }
    return this.client;
  }

  /** Every registered node's series: this node's from memory, the others' read from their /series. */
  private async everySeries(topology: Topology): Promise<Record<string, NodeSeries>> {
    const registered = new Set(topology.nodes.map((node) => node.nodeId));
    for (const nodeId of this.peerSeries.keys()) if (!registered.has(nodeId)) this.peerSeries.delete(nodeId);
    const entries = await Promise.all(
      topology.nodes.map(async (node): Promise<[string, NodeSeries]> => {
        if (node.nodeId === this.sources.nodeId)
          return [node.nodeId, { samples: this.sources.series.samples(), error: null }];
        return [node.nodeId, await this.peer(node.nodeId, node.admin)];
      }),
    );
    return Object.fromEntries(entries);
  }

  /** Reads the seconds of `nodeId`'s series this node lacks and adds them to what it kept. */
  private async peer(nodeId: string, admin: string): Promise<NodeSeries> {
    const kept = this.peerSeries.get(nodeId);
    const nowMs = this.now();
    const lacking =
      kept === undefined || kept.samples.length === 0
        ? seriesSamplesKept
        : Math.min(seriesSamplesKept, Math.ceil((nowMs - kept.readAtMs) / seriesSampleIntervalMs) + 2);
    if (admin === '') return { samples: kept?.samples ?? [], error: 'no admin address registered' };
    try {
      const body = await fetchAdminJson(admin, `/series?seconds=${lacking}`, {
        ...this.sources.fetch,
        timeoutMs: clusterViewNodeTimeoutMs,
        bytesMax: seriesBodyBytesMax,
      });
      const fresh = samplesIn(body, nodeId);
      const before = kept?.samples ?? [];
      const newest = before.at(-1)?.atMs ?? -Infinity;
      const samples = [...before, ...fresh.filter((sample) => sample.atMs > newest)].slice(-seriesSamplesKept);
      this.peerSeries.set(nodeId, { samples, readAtMs: nowMs });
      return { samples, error: null };
    } catch (error) {
      return { samples: kept?.samples ?? [], error: error instanceof Error ? error.message : String(error) };
    }
  }
}

/** The samples of a /series body, checked: a node answering for another id, or malformed samples, is refused. */
export function samplesIn(body: unknown, nodeId: string): SeriesSample[] {
  const document = body as Partial<SeriesDocument> | null;
  if (typeof document !== 'object' || document === null || !Array.isArray(document.samples)) {
    throw new CatenaError('ERR_UNAVAILABLE', 'its /series has no samples');
  }
  if (document.nodeId !== nodeId) {
    throw new CatenaError('ERR_UNAVAILABLE', `its /series is node ${String(document.nodeId)}'s, not ${nodeId}'s`);
  }
  const numeric = (value: unknown): value is number =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0;
  return document.samples
    .slice(-seriesSamplesKept)
    .filter(
      (s: Partial<SeriesSample> | null) =>
        typeof s === 'object' &&
        s !== null &&
        numeric(s.atMs) &&
        numeric(s.ops) &&
        numeric(s.errors) &&
        numeric(s.p50Us) &&
        numeric(s.p99Us),
    )
    .map((s) => ({ atMs: s.atMs, ops: s.ops, errors: s.errors, p50Us: s.p50Us, p99Us: s.p99Us }));
}
