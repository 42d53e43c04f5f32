// The fault suite on the embedded coordinator (the one `catena up` runs).
import { faultSuite } from './fault-suite.js';

faultSuite('embedded', false);
