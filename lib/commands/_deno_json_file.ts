/**
 * The task file of `spool run --deno-json`: the tasks of the `deno.json` or
 * `deno.jsonc` in the working directory, with no task file of the user's.
 *
 * @module
 */

import { defineTasks } from "../declare/define.ts";
import { denoTasks } from "./deno_tasks.ts";

export default defineTasks(denoTasks({ path: Deno.cwd() }));
