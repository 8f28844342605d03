/**
 * Shell completion for `spool`, from @bomb.sh/tab (kept behind this one
 * file): `spool completions <shell>` prints the script a shell loads, and the
 * script asks `spool complete -- <words>` for candidates, which come from
 * the command tree (commands, flags, flag choices) and, for task names, from
 * the task file named by `--file` (or `./tasks.ts`).
 *
 * Loaded only for those two commands, so that other commands never load it.
 *
 * @module
 */

import type { Command } from "npm:@commander-js/extra-typings@^14.0.0";

/** The shells `spool completions` writes a script for. */
export const SHELLS = ["bash", "zsh", "fish", "powershell"] as const;

/**
 * Prints the completion script of a shell on stdout.
 *
 * @param shell One of {@linkcode SHELLS}.
 */
export async function printCompletionScript(shell: string): Promise<void> {
  const { default: root } = await import("npm:@bomb.sh/tab@0.0.22");
  root.setup("spool", "spool", shell);
}

/**
 * Prints the candidates for the word being completed, one a line, as the
 * completion scripts expect.
 *
 * @param program The `spool` command tree, without the completion commands.
 * @param words The words typed after `spool`, the last one being completed.
 * @param tasks Task names and descriptions from the task file, if it loaded.
 */
export async function printCandidates(
  // deno-lint-ignore no-explicit-any -- any commander program; tab takes the untyped one
  program: Command<any, any, any>,
  words: readonly string[],
  tasks: ReadonlyMap<string, string>,
): Promise<void> {
  const { default: tab } = await import("npm:@bomb.sh/tab@0.0.22/commander");
  // deno-lint-ignore no-explicit-any -- extra-typings' Command is commander's at run time
  const completion = tab(program as any, { completionCommandName: "completions" });
  const offerTasks = (complete: (value: string, description: string) => void) => {
    for (const [name, description] of tasks) complete(name, description);
  };
  for (const command of ["run", "graph"]) {
    const argument = completion.commands.get(command)?.arguments.get("tasks");
    if (argument !== undefined) argument.handler = offerTasks;
  }
  completion.parse([...words]);
}
