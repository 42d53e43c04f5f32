// A raw TCP test client for the text protocols (RESP, memcached): sends bytes as they are and
// collects everything the server sends (as a list of chunks, joined when read), noticing when the
// server closes the connection.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';

/** A connection that collects everything the server sends, and notices when it closes. */
export class Conn {
  private received: Buffer[] = [];
  private receivedBytes = 0;
  private waiters: (() => void)[] = [];
  closed = false;
  readonly socket: Socket;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => {
      this.received.push(chunk);
      this.receivedBytes += chunk.length;
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => undefined);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Sends `data` (a string as latin1: one byte per character). */
  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Waits until `expected` bytes have arrived (or 5 s), then returns them all as latin1. */
  async read(expected: number): Promise<string> {
    const deadline = Date.now() + 5_000;
    while (this.receivedBytes < expected && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    const out = Buffer.concat(this.received, this.receivedBytes).toString('latin1');
    this.received = [];
    this.receivedBytes = 0;
    return out;
  }

  /** Sends, then reads exactly the expected text. */
  async expect(request: string | Buffer, reply: string): Promise<void> {
    this.send(request);
    assert.equal(await this.read(Buffer.byteLength(reply, 'latin1')), reply);
  }

  /** Waits (up to 5 s) for the server to close the connection; returns what it sent before. */
  async waitClosed(): Promise<string> {
    const deadline = Date.now() + 5_000;
    while (!this.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(this.closed, 'the server closed the connection');
    return this.read(0);
  }

  end(): void {
    this.socket.destroy();
  }
}
