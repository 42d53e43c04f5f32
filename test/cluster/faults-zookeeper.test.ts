// The fault suite on a real ZooKeeper, started by the harness from Debian's package. Without
// ZooKeeper it is skipped (loudly) outside CI; in CI it is required (.ci/run installs it).
import { zookeeperAvailable } from '../../src/testing/zookeeper.js';
import { faultSuite } from './fault-suite.js';

const available = zookeeperAvailable();
if (!available && process.env['CI'] !== undefined) {
  throw new Error('ZooKeeper is required in CI: run scripts/install-system-packages.sh');
}
if (!available) {
  process.stderr.write(
    '\n*** ZooKeeper is not installed: the ZooKeeper fault suite is SKIPPED (sudo scripts/install-system-packages.sh) ***\n\n',
  );
}
faultSuite('zookeeper', available ? false : 'ZooKeeper is not installed (scripts/install-system-packages.sh)');
