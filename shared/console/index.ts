export { CONSOLE_ASSETS, consoleAnswer, renderConsolePage } from './page.js';
export type { ConsoleAnswer, ConsolePageOptions, ConsoleRequest } from './page.js';
