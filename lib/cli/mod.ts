/**
 * The `spool` command line: `runCli()` and `main()`, which lets a task file run itself.
 *
 * @module
 */

export { main } from "./main.ts";
