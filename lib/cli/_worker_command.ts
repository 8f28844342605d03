/**
 * The `spool worker` command once its flags are parsed: runs the worker until
 * SIGINT or SIGTERM, handing its running jobs back to the queue. Loaded only
 * when `worker` is the command.
 *
 * @module
 */

import type { TextSink } from "../report/plain.ts";
import { runWorker } from "../remote/worker.ts";
import { ExitCode } from "./_exit_code.ts";

/** The flags of `spool worker`, as parsed. */
export interface WorkerFlags {
  nats: string;
  workers: number;
  isolation: "process" | "worker";
  ackWait: number;
  maxDeliveries: number;
  prefetch?: number;
  natsCreds?: string;
  natsCa?: string;
  quiet: boolean;
}

/**
 * Runs `spool worker`.
 *
 * @param file The task file.
 * @param flags The parsed flags.
 * @param context Where the log goes, and what stops it besides signals.
 * @returns The exit code: 130 after SIGINT, 143 after SIGTERM, 0 when `signal` stopped it.
 */
export async function workerCommand(
  file: string,
  flags: WorkerFlags,
  context: { stderr: TextSink; signal?: AbortSignal; handleSignals?: boolean },
): Promise<number> {
  const controller = new AbortController();
  let exitCode: number = ExitCode.Ok;
  const forward = () => controller.abort();
  context.signal?.addEventListener("abort", forward, { once: true });
  const added: [Deno.Signal, () => void][] = [];
  if (context.handleSignals ?? true) {
    for (
      const [signal, code] of [["SIGINT", ExitCode.Interrupted], [
        "SIGTERM",
        ExitCode.Terminated,
      ]] as const
    ) {
      const handler = () => {
        exitCode = code;
        context.stderr.write(`\n${signal}: stopping, running jobs go back to the queue\n`);
        controller.abort();
      };
      try {
        Deno.addSignalListener(signal, handler);
        added.push([signal, handler]);
      } catch {
        // Not every platform has every signal.
      }
    }
  }
  try {
    await runWorker({
      file,
      url: flags.nats,
      workers: flags.workers,
      isolation: flags.isolation,
      ackWaitMs: flags.ackWait,
      maxDeliveries: flags.maxDeliveries,
      prefetch: flags.prefetch,
      credsFile: flags.natsCreds,
      tlsCaFile: flags.natsCa,
      quiet: flags.quiet,
      stderr: context.stderr,
      signal: controller.signal,
    });
  } finally {
    for (const [signal, handler] of added) Deno.removeSignalListener(signal, handler);
    context.signal?.removeEventListener("abort", forward);
  }
  return exitCode;
}
