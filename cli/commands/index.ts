import type { RegisterCommands } from '../router.js';
import { registerAuditCommands } from './audit.js';
import { registerConfigCommands } from './config.js';
import { registerFleetCommands } from './fleet.js';

/** Every command group of `secret-relay`, in help order. Registering a group is one line here. */
export const COMMAND_GROUPS: readonly RegisterCommands[] = [registerConfigCommands, registerAuditCommands, registerFleetCommands];
