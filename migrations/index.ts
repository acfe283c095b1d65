import { UsageLedger1795305920321 } from './1795305920321-UsageLedger.js';
import { Init1795305385121 } from './1795305385121-Init.js';
// Every migration, in order. `npm run migration:generate -- <Name>` appends to this list.
export const MIGRATIONS: Function[] = [
  Init1795305385121,
  UsageLedger1795305920321,
];
