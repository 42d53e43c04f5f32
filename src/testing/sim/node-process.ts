// What a node process does around its replica in the simulated cluster (simulation.ts), as
// src/server/node.ts does it: it keeps its own copy of the slot map (learned late, possibly
// stale) and the chain it is placed in, admits or refuses each request with the node's own
// admission checks (src/server/admission.ts), and runs what it admits on the real replica
// (sim-node.ts): writes, and the manager's freeze, import and drop, through the log; reads, the
// manager's export included, at the tail.

import { commandByName } from '../../commands/index.js';
import { assert } from '../../core/assert.js';
import type { Request, ResponseResult } from '../../protocol/native/codec.js';
import { admissionRefusal, type AdmissionFaults } from '../../server/admission.js';
import type { SlotTable } from '../../sharding/slot-map.js';
import type { SimNode } from './sim-node.js';

export class NodeProcess {
  /** This process's copy of the slot map; undefined until it has read one (a restart forgets it). */
  slots: SlotTable | undefined;
  /** True once this process has learned its chain's configuration (a restart forgets it). */
  placed = false;

  constructor(
    readonly node: SimNode,
    readonly chainId: string,
    private readonly faults: AdmissionFaults = {},
  ) {}

  get id(): string {
    return this.node.id;
  }

  /** A newer slot map reached this node (an older one is ignored, as a watch would). */
  learnMap(map: SlotTable): boolean {
    if (this.slots !== undefined && map.version <= this.slots.version) return false;
    this.slots = map;
    return true;
  }

  /** A new process on the same durable state: it knows nothing of the coordinator's documents yet. */
  restarted(): void {
    this.slots = undefined;
    this.placed = false;
  }

  /** A request as node.ts executes it; `reply` is called once, unless the process dies first. */
  execute(request: Request, reply: (result: ResponseResult) => void): void {
    const node = this.node;
    const name = request.command.case;
    assert(name !== undefined, 'a simulated request names a command');
    const view = { slots: this.slots, chainId: this.placed ? this.chainId : undefined, replica: node.replica };
    const refused = admissionRefusal(view, name, request.command.value, this.faults);
    if (refused !== undefined) return reply(refused);
    const incarnation = node.incarnation;
    const live = (): boolean => node.alive && node.incarnation === incarnation;
    if (commandByName(name).mutates) {
      node.replica.submit(request, (result) => {
        if (live()) reply(result); // else the process that would answer is gone
      });
      return;
    }
    const execution = node.replica.read(request);
    switch (execution.kind) {
      case 'now':
        return reply(execution.result);
      case 'after-sync':
        node.store.whenDurable((error) => {
          if (error === undefined && live()) reply(execution.result);
        });
        return;
      case 'later':
        assert(false, 'a read is answered from the store');
    }
  }
}
