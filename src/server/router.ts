// How a node's RESP and memcached sessions run native commands (docs/design.md §6: any node answers
// any request). A standalone node runs them on its own store. A cluster node runs them where
// they can be served: at itself when it is the head (a write) or the tail (a read) of the
// owning chain, else on the right node over an internal connection, with the cluster client's
// routing, retries and exactly-once writer ids, so a RESP or memcached reply is as linearizable
// as a native one and a write retried across a failover is applied once.
//
// Client authentication (docs/security.md): the session that read a command has already checked
// its user's permissions; the internal connections to other nodes authenticate once as the
// node's relay user (NodeAuth.relay, which has every category), so a relayed command is not
// checked again where it runs.

import { create, type DescMessage } from '@bufbuild/protobuf';
import type { ClientTls, Credentials } from '../client/client.js';
import { ClusterClient } from '../client/cluster-client.js';
import { type CommandName, type RequestInit } from '../commands/index.js';
import type { Execution } from '../commands/execute.js';
import { CatenaError, isErrorCode } from '../core/errors.js';
import { relayLanesMax } from '../core/limits.js';
import type { CommandRouter } from '../protocol/command-router.js';
import type { ReplyOf, Request, ResponseResult, WriterIds } from '../protocol/native/codec.js';
import { RequestSchema, ResponseSchema } from '../protocol/native/gen/catena_pb.js';

/** Runs a request on this node: what the native session does, without the frame. */
export type Executor = (request: Request) => Execution;

/** A request message for the command table, with the writer's ids when it has them. */
export function requestFor(name: CommandName, init: object, writer?: WriterIds): Request {
  return create(RequestSchema, { command: { case: name, value: init }, ...writer } as never);
}

/** Each reply's message type, by its oneof case. */
const replySchemas: ReadonlyMap<string, DescMessage> = new Map(
  ResponseSchema.fields.flatMap((field) =>
    field.oneof !== undefined && field.message !== undefined ? [[field.localName, field.message] as const] : [],
  ),
);

/**
 * The reply of a result, with every field present (a command executed here returns only the
 * fields it set; one decoded from the wire has them all), or its error thrown as a CatenaError.
 */
export function replyOf(result: ResponseResult): unknown {
  if (result.case === 'error') {
    const code = isErrorCode(result.value.code) ? result.value.code : 'ERR_INTERNAL';
    throw new CatenaError(code, result.value.message);
  }
  const value = result.value as object;
  if ('$typeName' in value) return value;
  const schema = replySchemas.get(result.case ?? '');
  return schema === undefined ? value : create(schema, value as never);
}

/** The result of an execution, once it may leave (after its sync, or once the chain answers). */
export function settle(execution: Execution): Promise<ResponseResult> {
  switch (execution.kind) {
    case 'now':
      return Promise.resolve(execution.result);
    case 'after-sync':
      return execution.sync.then(() => execution.result);
    case 'later':
      return execution.result;
  }
}

/** A standalone node: every command runs here, in the order sent. */
export function localRouter(execute: Executor): CommandRouter {
  return {
    inOrder: true,
    send<C extends CommandName>(name: C, request: RequestInit<C>): Promise<ReplyOf<C>> {
      let execution: Execution;
      try {
        execution = execute(requestFor(name, request));
      } catch (error) {
        return Promise.reject(error instanceof CatenaError ? error : new CatenaError('ERR_INTERNAL', String(error)));
      }
      return settle(execution).then(replyOf) as Promise<ReplyOf<C>>;
    },
    close: () => Promise.resolve(),
  };
}

/**
 * A cluster client inside a node: requests for the node's own address run in-process (no
 * connection to itself), the rest go over internal connections.
 */
export function nodeClusterClient(options: {
  address: string;
  execute: Executor;
  writeLanesMax?: number;
  timeoutMs?: number;
  /** Other nodes' native ports may require authentication (docs/security.md): the relay's user. */
  auth?: Credentials;
  /** Other nodes serve TLS (this node was started with --tls-cert): how to check them. */
  tls?: ClientTls;
}): Promise<ClusterClient> {
  return ClusterClient.connect({
    seeds: [options.address],
    ...(options.auth === undefined ? {} : { auth: options.auth }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(options.writeLanesMax === undefined ? {} : { writeLanesMax: options.writeLanesMax }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    local: {
      address: options.address,
      send(name, init, writer, timeoutMs) {
        const execution = options.execute(requestFor(name, init, writer));
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_resolve, reject) => {
          timer = setTimeout(
            () => reject(new CatenaError('ERR_TIMEOUT', `no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        });
        // A write that times out here may still commit: the retry carries the same writer ids.
        return Promise.race([settle(execution), timeout])
          .then(replyOf)
          .finally(() => clearTimeout(timer));
      },
    },
  });
}

/** A cluster node: commands go where the topology says, this node included (in-process). */
export async function clusterRouter(options: {
  address: string;
  execute: Executor;
  auth?: Credentials;
  tls?: ClientTls;
}): Promise<CommandRouter> {
  const client = await nodeClusterClient({ ...options, writeLanesMax: relayLanesMax });
  return {
    inOrder: false,
    send: (name, request) => client.send(name, request),
    close: () => client.close(),
  };
}
