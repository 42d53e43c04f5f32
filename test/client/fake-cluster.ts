// Fake Catena nodes for client tests: small in-process TCP servers that speak the native
// protocol (frame.ts + codec.ts) over one shared, made-up cluster state. By default they behave
// like cluster nodes: topology answers the current configuration, writes are served only by the
// head (else ERR_NOT_HEAD), reads only by the tail (else ERR_NOT_TAIL), and a write whose
// (client id, client sequence) was already applied is answered with its first result, as the
// real replicated client table does. A test changes the configuration with `setChain` and
// injects faults with `node.intercept` (fail, close the connection, stay silent).

import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { createServer, type Server, type Socket } from 'node:net';
import type { ErrorCode } from '../../src/core/errors.js';
import {
  decodeRequest,
  encodeResponseFrame,
  type Request,
  type ResponseResult,
} from '../../src/protocol/native/codec.js';
import { FrameDecoder } from '../../src/protocol/native/frame.js';
import { ResponseSchema } from '../../src/protocol/native/gen/catena_pb.js';

type ResultInit = NonNullable<MessageInitShape<typeof ResponseSchema>['result']>;
type TopologyInit = Extract<ResultInit, { case: 'topology' }>;

/** A request as a node saw it. */
export interface Seen {
  nodeId: string;
  command: string;
  key: string | undefined;
  clientId: string;
  clientSequence: bigint;
}

/** What to do with a request instead of (or after) the default handling. */
export type Action =
  | { kind: 'reply'; result: ResultInit }
  | { kind: 'error'; code: ErrorCode; message?: string }
  /** Close the connection without answering. */
  | { kind: 'close' }
  /** Never answer. */
  | { kind: 'silent' }
  /** Default handling. */
  | { kind: 'serve' };

export type Interceptor = (request: Request, node: FakeNode) => Action;

const frameBytesMax = 1 << 20;

export const result = (init: ResultInit): ResponseResult => create(ResponseSchema, { result: init }).result;

export class FakeNode {
  intercept: Interceptor | undefined;
  /** Overrides the topology this node reports (a stale node). */
  topologyOverride: TopologyInit | undefined;
  readonly sockets = new Set<Socket>();
  connectionsTotal = 0;

  constructor(
    readonly nodeId: string,
    readonly server: Server,
    readonly port: number,
    private readonly cluster: FakeCluster,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Runs the default handling of a request (applies a write) and returns its result. */
  serve(request: Request): ResponseResult {
    return this.cluster.serve(this, request);
  }

  accept(socket: Socket): void {
    this.sockets.add(socket);
    this.connectionsTotal += 1;
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const decoder = new FrameDecoder(frameBytesMax);
    socket.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        if (event.kind !== 'frame') throw new Error('fake node: frame too large');
        const decoded = decodeRequest(event.body);
        if (!decoded.ok) throw new Error(`fake node: ${decoded.reason}`);
        this.handle(socket, decoded.message);
      }
    });
  }

  private handle(socket: Socket, request: Request): void {
    const command = request.command;
    const key =
      command.value !== undefined && 'key' in command.value ? Buffer.from(command.value.key).toString() : undefined;
    this.cluster.seen.push({
      nodeId: this.nodeId,
      command: command.case ?? '',
      key,
      clientId: request.clientId,
      clientSequence: request.clientSequence,
    });
    const action = this.intercept?.(request, this) ?? { kind: 'serve' };
    switch (action.kind) {
      case 'close':
        socket.destroy();
        return;
      case 'silent':
        return;
      case 'serve':
        socket.write(encodeResponseFrame(request.id, this.serve(request)));
        return;
      case 'reply':
        socket.write(encodeResponseFrame(request.id, result(action.result)));
        return;
      case 'error':
        socket.write(encodeResponseFrame(request.id, errorResult(action.code, action.message)));
        return;
    }
  }
}

const errorResult = (code: ErrorCode, message: string = code): ResponseResult =>
  result({ case: 'error', value: { code, message } });

export class FakeCluster {
  readonly nodes = new Map<string, FakeNode>();
  readonly seen: Seen[] = [];
  readonly data = new Map<string, Buffer>();
  /** The replicated exactly-once table: client id → last applied sequence and its result. */
  readonly applied = new Map<string, { clientSequence: bigint; result: ResponseResult }>();
  members: string[] = [];
  joining = '';
  epoch = 1n;
  manager = '';
  version = 0n;
  /** Nodes left out of the topology's node list (deregistered). */
  readonly unregistered = new Set<string>();

  private constructor(readonly cluster: string) {}

  /** Starts one node per id; `cluster` '' makes them standalone nodes. */
  static async start(ids: readonly string[], options: { cluster?: string } = {}): Promise<FakeCluster> {
    const cluster = new FakeCluster(options.cluster ?? 'test');
    for (const id of ids) await cluster.addNode(id);
    cluster.members = [...ids];
    cluster.manager = ids[0] ?? '';
    return cluster;
  }

  node(id: string): FakeNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no fake node ${id}`);
    return node;
  }

  /** A new configuration (head first); the epoch goes up by one unless given. */
  setChain(members: readonly string[], options: { epoch?: bigint; joining?: string } = {}): void {
    this.members = [...members];
    this.joining = options.joining ?? '';
    this.epoch = options.epoch ?? this.epoch + 1n;
  }

  /** Requests seen by the nodes for one command, in arrival order. */
  seenFor(command: string): Seen[] {
    return this.seen.filter((s) => s.command === command);
  }

  /** The topology reply: the current configuration, or `chain` instead (what a stale node says). */
  topologyResult(chain?: { epoch: bigint; members: readonly string[] }): TopologyInit {
    const { epoch, members } = chain ?? this;
    return {
      case: 'topology',
      value: {
        cluster: this.cluster,
        manager: this.manager,
        chains: this.cluster === '' ? [] : [{ chainId: 'c0', epoch, members: [...members], joining: this.joining }],
        nodes:
          this.cluster === ''
            ? []
            : [...this.nodes.values()]
                .filter((n) => !this.unregistered.has(n.nodeId))
                .map((n) => ({ nodeId: n.nodeId, native: n.address })),
      },
    };
  }

  /** Stops a node: closes its listener and every connection to it. */
  async kill(id: string): Promise<void> {
    const node = this.node(id);
    for (const socket of node.sockets) socket.destroy();
    await new Promise<void>((resolve) => node.server.close(() => resolve()));
  }

  async close(): Promise<void> {
    for (const node of this.nodes.values()) if (node.server.listening) await this.kill(node.nodeId);
  }

  serve(node: FakeNode, request: Request): ResponseResult {
    const name = request.command.case;
    if (name === 'topology') return result(node.topologyOverride ?? this.topologyResult());
    if (name === 'nodestatus') return result({ case: 'nodestatus', value: this.nodeStatusOf(node) });
    if (name === 'ping') return result({ case: 'ping', value: { message: request.command.value.message } });
    if (name === 'stats') return result({ case: 'stats', value: { nodeId: node.nodeId } });
    const standalone = this.cluster === '';
    if (name === 'put' || name === 'incr') {
      if (!standalone && this.members[0] !== node.nodeId) return errorResult('ERR_NOT_HEAD');
      return this.applyOnce(request);
    }
    if (name === 'get' || name === 'size') {
      if (!standalone && this.members.at(-1) !== node.nodeId) return errorResult('ERR_NOT_TAIL');
      if (name === 'size') return result({ case: 'size', value: { keys: BigInt(this.data.size) } });
      const value = this.data.get(Buffer.from(request.command.value.key).toString());
      return result({
        case: 'get',
        value: value === undefined ? { found: false } : { found: true, value, version: 1n },
      });
    }
    return errorResult('ERR_UNKNOWN_COMMAND');
  }

  /** A healthy node's state: its session connected (in a cluster), reads served where they are. */
  private nodeStatusOf(node: FakeNode): {
    nodeId: string;
    role: string;
    sessionConnected: boolean;
    servingReads: boolean;
  } {
    const role = this.roleOf(node);
    const servingReads = role === 'tail' || role === 'head-and-tail' || role === 'standalone';
    return { nodeId: node.nodeId, role, sessionConnected: this.cluster !== '', servingReads };
  }

  private roleOf(node: FakeNode): string {
    if (this.cluster === '') return 'standalone';
    const index = this.members.indexOf(node.nodeId);
    if (index < 0) return node.nodeId === this.joining ? 'joining' : 'outside';
    if (this.members.length === 1) return 'head-and-tail';
    return index === 0 ? 'head' : index === this.members.length - 1 ? 'tail' : 'middle';
  }

  private applyOnce(request: Request): ResponseResult {
    const previous = request.clientId === '' ? undefined : this.applied.get(request.clientId);
    if (previous !== undefined && previous.clientSequence === request.clientSequence) return previous.result;
    const outcome = this.apply(request);
    if (request.clientId !== '') {
      this.applied.set(request.clientId, { clientSequence: request.clientSequence, result: outcome });
    }
    return outcome;
  }

  private apply(request: Request): ResponseResult {
    const command = request.command;
    if (command.case === 'put') {
      this.data.set(Buffer.from(command.value.key).toString(), Buffer.from(command.value.value));
      this.version += 1n;
      return result({ case: 'put', value: { version: this.version } });
    }
    if (command.case !== 'incr') throw new Error('fake node: only put and incr are writes');
    const key = Buffer.from(command.value.key).toString();
    const text = this.data.get(key)?.toString() ?? '0';
    if (!/^-?\d+$/.test(text)) return errorResult('ERR_NOT_AN_INTEGER');
    const value = BigInt(text) + command.value.delta;
    this.data.set(key, Buffer.from(String(value)));
    return result({ case: 'incr', value: { value } });
  }

  private async addNode(id: string): Promise<void> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address !== 'object') throw new Error('fake node: no port');
    const node = new FakeNode(id, server, address.port, this);
    server.on('connection', (socket) => node.accept(socket));
    this.nodes.set(id, node);
  }
}
