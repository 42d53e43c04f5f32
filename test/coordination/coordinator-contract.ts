// The coordinator contract, run against every backend (embedded, ZooKeeper). A backend passes
// only if it behaves as src/coordination/coordinator.ts documents — ZooKeeper's semantics.
// Faults are injected with a TcpProxy between one client and the server, the same way for
// both backends. Timing: waits poll until a deadline; no test asserts a duration.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectCoordinator } from '../../src/coordination/connect.js';
import {
  anyVersion,
  CoordinatorError,
  type Coordinator,
  type CoordinatorErrorCode,
  type SessionState,
  type WatchEvent,
} from '../../src/coordination/coordinator.js';
import { TcpProxy } from '../../src/testing/tcp-proxy.js';
import { bytes, text } from '../helpers/tmp.js';

export interface CoordinatorEnv {
  /** Where the server listens (a TcpProxy forwards here). */
  readonly address: { readonly host: string; readonly port: number };
  /** The URL a client uses to reach a server (or a proxy) at this address. */
  urlFor(address: { readonly host: string; readonly port: number }): string;
  stop(): Promise<void>;
}

/** Session timeout for most tests, and for the short-partition test (which needs more slack). */
export const contractSessionTimeoutMs = 1_000;
const shortPartitionSessionTimeoutMs = 2_000;
const eventuallyDeadlineMs = 15_000;
const pollIntervalMs = 20;

export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  deadlineMs = eventuallyDeadlineMs,
) {
  const deadline = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${deadlineMs} ms waiting until ${what}`);
    await sleep(pollIntervalMs);
  }
}

export async function rejectsWith(promise: Promise<unknown>, code: CoordinatorErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CoordinatorError, `expected a CoordinatorError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

export function coordinatorContract(
  name: string,
  makeEnv: () => Promise<CoordinatorEnv>,
  options: { skip?: string } = {},
) {
  describe(`coordinator contract: ${name}`, { skip: options.skip }, () => {
    let env: CoordinatorEnv;
    const open: Coordinator[] = [];
    const proxies: TcpProxy[] = [];

    before(async () => {
      env = await makeEnv();
    });
    after(async () => {
      await Promise.all(open.map((coordinator) => coordinator.close()));
      await Promise.all(proxies.map((proxy) => proxy.stop()));
      await env?.stop();
    });

    const connect = async (sessionTimeoutMs = contractSessionTimeoutMs, url = env.urlFor(env.address)) => {
      const coordinator = await connectCoordinator(url, { sessionTimeoutMs, connectTimeoutMs: 10_000 });
      open.push(coordinator);
      return coordinator;
    };
    const connectThroughProxy = async (sessionTimeoutMs = contractSessionTimeoutMs) => {
      const proxy = await TcpProxy.start({ target: env.address });
      proxies.push(proxy);
      return { proxy, coordinator: await connect(sessionTimeoutMs, env.urlFor(proxy)) };
    };
    /** A fresh subtree per test, so tests never see each other's znodes. */
    const freshRoot = async (coordinator: Coordinator) => {
      const root = `/contract-${randomBytes(4).toString('hex')}`;
      await coordinator.ensurePath(root);
      return root;
    };
    const recorder = () => {
      const events: WatchEvent[] = [];
      return { events, watcher: (event: WatchEvent) => void events.push(event) };
    };

    it('creates, reads, sets and deletes znodes with versions', async () => {
      const c = await connect();
      const root = await freshRoot(c);
      assert.equal(await c.create(`${root}/a`, bytes('one'), 'persistent'), `${root}/a`);
      const read = await c.get(`${root}/a`);
      assert.equal(text(read?.data), 'one');
      assert.equal(read?.version, 0);
      assert.equal(await c.exists(`${root}/a`), 0);
      assert.equal(await c.set(`${root}/a`, bytes('two'), 0), 1);
      assert.equal(await c.set(`${root}/a`, bytes('three'), anyVersion), 2);
      assert.deepEqual(await c.get(`${root}/a`), { data: bytes('three'), version: 2 });
      await c.create(`${root}/empty`, new Uint8Array(0), 'persistent');
      assert.equal((await c.get(`${root}/empty`))?.data.length, 0);
      await c.delete(`${root}/a`, 2);
      assert.equal(await c.get(`${root}/a`), undefined);
      assert.equal(await c.exists(`${root}/a`), undefined);
      assert.ok(c.sessionTimeoutMs > 0);
      assert.equal(c.state, 'connected');
    });

    it('fails with the documented error codes', async () => {
      const c = await connect();
      const root = await freshRoot(c);
      await c.create(`${root}/a`, bytes('x'), 'persistent');
      await rejectsWith(c.create(`${root}/a`, bytes('y'), 'persistent'), 'node-exists');
      await rejectsWith(c.create(`${root}/missing/child`, bytes('y'), 'persistent'), 'no-node');
      await rejectsWith(c.set(`${root}/a`, bytes('y'), 5), 'bad-version');
      await rejectsWith(c.set(`${root}/missing`, bytes('y'), anyVersion), 'no-node');
      await rejectsWith(c.delete(`${root}/a`, 3), 'bad-version');
      await rejectsWith(c.delete(`${root}/missing`, anyVersion), 'no-node');
      await c.create(`${root}/a/child`, bytes('z'), 'persistent');
      await rejectsWith(c.delete(`${root}/a`, anyVersion), 'not-empty');
      await rejectsWith(c.get('no-slash'), 'bad-arguments');
      await rejectsWith(c.create(`${root}/trailing/`, bytes(''), 'persistent'), 'bad-arguments');
      await rejectsWith(c.create(`${root}//double`, bytes(''), 'persistent'), 'bad-arguments');
      assert.equal(text((await c.get(`${root}/a`))?.data), 'x', 'failed calls changed nothing');
    });

    it('ensurePath creates every missing znode and leaves existing ones alone', async () => {
      const c = await connect();
      const root = await freshRoot(c);
      await c.create(`${root}/x`, bytes('keep'), 'persistent');
      await c.ensurePath(`${root}/x/y/z`);
      await c.ensurePath(`${root}/x/y/z`);
      await c.ensurePath('/');
      assert.deepEqual(await c.get(`${root}/x`), { data: bytes('keep'), version: 0 });
      assert.equal(await c.exists(`${root}/x/y/z`), 0);
      assert.deepEqual(await c.children(`${root}/x`), ['y']);
    });

    it('lists children by name, sorted; no-node for a missing parent', async () => {
      const c = await connect();
      const root = await freshRoot(c);
      for (const name of ['m', 'b', 'z', 'a10', 'a2']) await c.create(`${root}/${name}`, bytes(''), 'persistent');
      assert.deepEqual(await c.children(root), ['a10', 'a2', 'b', 'm', 'z']);
      assert.deepEqual(await c.children(`${root}/m`), []);
      await rejectsWith(c.children(`${root}/missing`), 'no-node');
    });

    it('numbers sequential znodes with a 10-digit per-parent counter that never goes back', async () => {
      const c = await connect();
      const root = await freshRoot(c);
      await c.ensurePath(`${root}/p`);
      await c.ensurePath(`${root}/q`);
      const first = await c.create(`${root}/p/lock-`, bytes(''), 'ephemeral-sequential');
      assert.equal(first, `${root}/p/lock-0000000000`);
      const second = await c.create(`${root}/p/lock-`, bytes(''), 'persistent-sequential');
      assert.equal(second, `${root}/p/lock-0000000001`);
      assert.equal(await c.create(`${root}/q/n-`, bytes(''), 'persistent-sequential'), `${root}/q/n-0000000000`);
      await c.delete(second, anyVersion);
      const third = await c.create(`${root}/p/other-`, bytes(''), 'persistent-sequential');
      const suffix = (path: string) => Number(/(\d{10})$/.exec(path)?.[1]);
      assert.match(third, /\/other-\d{10}$/);
      assert.ok(suffix(third) > suffix(second), `${third} comes after ${second}`);
      const names = await c.children(`${root}/p`);
      assert.deepEqual(names, ['lock-0000000000', third.slice(third.lastIndexOf('/') + 1)]);
    });

    it('refuses children under an ephemeral znode', async () => {
      const c = await connect();
      const root = await freshRoot(c);
      await c.create(`${root}/e`, bytes(''), 'ephemeral');
      await rejectsWith(c.create(`${root}/e/child`, bytes(''), 'persistent'), 'no-children-for-ephemerals');
      await rejectsWith(c.ensurePath(`${root}/e/child`), 'no-children-for-ephemerals');
    });

    it('deletes a session’s ephemerals when it closes, and refuses calls afterwards', async () => {
      const owner = await connect();
      const observer = await connect();
      const root = await freshRoot(observer);
      await owner.create(`${root}/e`, bytes('mine'), 'ephemeral');
      await owner.create(`${root}/s-`, bytes(''), 'ephemeral-sequential');
      await owner.create(`${root}/p`, bytes(''), 'persistent');
      assert.deepEqual(await observer.children(root), ['e', 'p', 's-0000000001']);
      await owner.close();
      assert.deepEqual(await observer.children(root), ['p'], 'ephemerals are gone as soon as close() resolves');
      await rejectsWith(owner.get(`${root}/p`), 'closed');
    });

    it('fires a data watch once, on data-changed', async () => {
      const watching = await connect();
      const writer = await connect();
      const root = await freshRoot(writer);
      await writer.create(`${root}/w`, bytes('0'), 'persistent');
      const { events, watcher } = recorder();
      await watching.get(`${root}/w`, watcher);
      await writer.set(`${root}/w`, bytes('1'), anyVersion);
      await eventually(() => events.length > 0, 'the watch fires');
      await writer.set(`${root}/w`, bytes('2'), anyVersion);
      await watching.get(`${root}/w`); // a read after the change: any event for it came before
      assert.deepEqual(events, [{ type: 'data-changed', path: `${root}/w` }]);
    });

    it('fires a watch on a missing znode once, on created (exists and get)', async () => {
      const watching = await connect();
      const writer = await connect();
      const root = await freshRoot(writer);
      const viaExists = recorder();
      const viaGet = recorder();
      assert.equal(await watching.exists(`${root}/later`, viaExists.watcher), undefined);
      assert.equal(await watching.get(`${root}/later`, viaGet.watcher), undefined);
      await writer.create(`${root}/later`, bytes('hi'), 'persistent');
      await eventually(() => viaExists.events.length > 0 && viaGet.events.length > 0, 'both watches fire');
      await writer.set(`${root}/later`, bytes('again'), anyVersion);
      await writer.delete(`${root}/later`, anyVersion);
      await watching.exists(`${root}/later`);
      assert.deepEqual(viaExists.events, [{ type: 'created', path: `${root}/later` }]);
      assert.deepEqual(viaGet.events, [{ type: 'created', path: `${root}/later` }]);
    });

    it('fires deleted and children-changed watches once each', async () => {
      const watching = await connect();
      const writer = await connect();
      const root = await freshRoot(writer);
      await writer.create(`${root}/gone`, bytes(''), 'persistent');
      const onNode = recorder();
      const onParent = recorder();
      await watching.get(`${root}/gone`, onNode.watcher);
      assert.deepEqual(await watching.children(root, onParent.watcher), ['gone']);
      await writer.delete(`${root}/gone`, anyVersion);
      await eventually(() => onNode.events.length > 0 && onParent.events.length > 0, 'both watches fire');
      await writer.create(`${root}/gone`, bytes(''), 'persistent');
      await writer.create(`${root}/another`, bytes(''), 'persistent');
      await watching.children(root);
      assert.deepEqual(onNode.events, [{ type: 'deleted', path: `${root}/gone` }]);
      assert.deepEqual(onParent.events, [{ type: 'children-changed', path: root }]);
    });

    it('applies multi all or nothing, with check ops (version 0 is a real version)', async () => {
      const c = await connect();
      const root = await freshRoot(c);
      await c.create(`${root}/config`, bytes('v0'), 'persistent');
      await c.set(`${root}/config`, bytes('v1'), 0);
      const { events, watcher } = recorder();
      await c.exists(`${root}/new`, watcher);
      await rejectsWith(
        c.multi([
          { kind: 'create', path: `${root}/new`, data: bytes('n'), mode: 'persistent' },
          { kind: 'set', path: `${root}/config`, data: bytes('v2'), version: 1 },
          { kind: 'check', path: `${root}/config`, version: 0 },
        ]),
        'bad-version',
      );
      assert.equal(await c.exists(`${root}/new`), undefined, 'the create was rolled back');
      assert.equal(text((await c.get(`${root}/config`))?.data), 'v1', 'the set was rolled back');
      await rejectsWith(
        c.multi([{ kind: 'set', path: `${root}/config`, data: bytes('x'), version: 0 }]),
        'bad-version',
      );
      await rejectsWith(c.multi([{ kind: 'delete', path: `${root}/config`, version: 0 }]), 'bad-version');
      await c.multi([
        { kind: 'check', path: `${root}/config`, version: 1 },
        { kind: 'create', path: `${root}/new`, data: bytes('n'), mode: 'persistent' },
        { kind: 'set', path: `${root}/config`, data: bytes('v2'), version: 1 },
        { kind: 'delete', path: `${root}/new`, version: 0 },
      ]);
      assert.deepEqual(await c.get(`${root}/config`), { data: bytes('v2'), version: 2 });
      assert.equal(await c.exists(`${root}/new`), undefined);
      await c.exists(`${root}/config`);
      assert.deepEqual(events, [{ type: 'created', path: `${root}/new` }], 'only the successful multi fired the watch');
    });

    it('fences a deposed manager: multi([check(lock), set(config)]) fails once the lock is gone', async () => {
      const manager = await connect();
      const lockHolder = await connect();
      const root = await freshRoot(manager);
      await manager.ensurePath(`${root}/manager`);
      const lock = await lockHolder.create(`${root}/manager/lock-`, bytes('n1'), 'ephemeral-sequential');
      await manager.create(`${root}/config`, bytes('epoch 1'), 'persistent');
      const fencedWrite = (data: string, version: number) =>
        manager.multi([
          { kind: 'check', path: lock, version: anyVersion },
          { kind: 'set', path: `${root}/config`, data: bytes(data), version },
        ]);
      await fencedWrite('epoch 2', 0);
      await lockHolder.close();
      await rejectsWith(fencedWrite('epoch 3', 1), 'no-node');
      assert.deepEqual(await manager.get(`${root}/config`), { data: bytes('epoch 2'), version: 1 });
    });

    it('expires a session partitioned past its timeout: disconnected, ephemerals and watches fire, then expired', async () => {
      const { proxy, coordinator: client } = await connectThroughProxy();
      const observer = await connect();
      const root = await freshRoot(observer);
      const states: SessionState[] = [];
      client.onStateChange((state) => states.push(state));
      const ephemeral = await client.create(`${root}/member`, bytes('alive'), 'ephemeral');
      const { events, watcher } = recorder();
      await observer.get(ephemeral, watcher);

      proxy.blackhole(true);
      await eventually(() => client.state === 'disconnected', 'the client notices the silence');
      await rejectsWith(client.get(ephemeral), 'connection-loss');
      await eventually(async () => (await observer.exists(ephemeral)) === undefined, 'the server expires the session');
      await eventually(() => events.length > 0, 'the watch on the ephemeral fires');
      assert.deepEqual(events, [{ type: 'deleted', path: ephemeral }]);
      assert.equal(client.state, 'disconnected', 'a client learns of expiry only when it reaches the server');

      proxy.blackhole(false);
      await eventually(() => client.state === 'expired', 'the client learns its session expired');
      assert.deepEqual(states, ['disconnected', 'expired']);
      await rejectsWith(client.get(ephemeral), 'session-expired');
      await rejectsWith(client.create(`${root}/x`, bytes(''), 'persistent'), 'session-expired');
    });

    it('keeps a session partitioned for less than its timeout: connected again, ephemerals and watches intact', async () => {
      const { proxy, coordinator: client } = await connectThroughProxy(shortPartitionSessionTimeoutMs);
      const observer = await connect();
      const root = await freshRoot(observer);
      const ephemeral = await client.create(`${root}/member`, bytes('alive'), 'ephemeral');
      await observer.create(`${root}/config`, bytes('1'), 'persistent');
      const { events, watcher } = recorder();
      await client.get(`${root}/config`, watcher);
      const states: SessionState[] = [];
      // Heal the moment the client notices, well before the server's timeout runs out.
      client.onStateChange((state) => {
        states.push(state);
        if (state === 'disconnected') proxy.blackhole(false);
      });

      proxy.blackhole(true);
      await observer.set(`${root}/config`, bytes('2'), anyVersion); // its event is stuck in the partition
      await eventually(() => states.includes('disconnected') && client.state === 'connected', 'the client reconnects');
      assert.equal(await observer.exists(ephemeral), 0, 'the ephemeral survived');
      await eventually(() => events.length > 0, 'the watch set before the partition fires');
      assert.deepEqual(events, [{ type: 'data-changed', path: `${root}/config` }]);
      assert.deepEqual(states.slice(0, 2), ['disconnected', 'connected']);
      await client.delete(ephemeral, anyVersion);
      assert.equal(await observer.exists(ephemeral), undefined);
    });
  });
}
