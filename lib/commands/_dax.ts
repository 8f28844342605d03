/**
 * The one file that imports the shell library, dax (npm `dax-sh`): it parses
 * and runs command text with the syntax of `deno task`. Only the shell process
 * (`_shell_main.ts`) loads it, so a task file that declares commands does not
 * pay for it.
 *
 * @module
 */

export { $ } from "npm:dax-sh@0.44.1";
