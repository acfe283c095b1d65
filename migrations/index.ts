import { ClientChats1796228737244 } from './1796228737244-ClientChats.js';
import { LeanerUsageIndexes1796227610273 } from './1796227610273-LeanerUsageIndexes.js';
import { LeanerMessageIndexes1796227451424 } from './1796227451424-LeanerMessageIndexes.js';
import { Documents1796226914454 } from './1796226914454-Documents.js';
import { GenerationIndexes1796224766498 } from './1796224766498-GenerationIndexes.js';
import { UsageLedger1795305920321 } from './1795305920321-UsageLedger.js';
import { Init1795305385121 } from './1795305385121-Init.js';
// Every migration, in order. `npm run migration:generate -- <Name>` appends to this list.
export const MIGRATIONS: Function[] = [
  Init1795305385121,
  UsageLedger1795305920321,
  GenerationIndexes1796224766498,
  Documents1796226914454,
  LeanerMessageIndexes1796227451424,
  LeanerUsageIndexes1796227610273,
  ClientChats1796228737244,
];
