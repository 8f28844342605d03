/**
 * One run's execution: which tasks wait, run and are done, each task's
 * attempts under their deadlines and retries, fail-fast and cancellation,
 * and the task reports. `run()` in scheduler.ts plans a run and hands it
 * here.
 *
 * @module
 */

import { CommandSlots } from "../commands/_command_slots.ts";
import type { Task } from "../declare/define.ts";
import { ABORT_GRACE_MS, Deadline, timeoutError } from "./_deadline.ts";
import { backoffDelay, DEFAULT_BACKOFF, sleep } from "./_retry.ts";
import { enterLane, type IoLane, type LaneEntrant, leaveLane } from "./io_lane.ts";
import {
  type AttemptReport,
  type ReportedError,
  roundMs,
  skippedReport,
  type TaskReport,
} from "../report/report.ts";
import type { Reporter } from "../report/reporter.ts";
import { withTaskOutput } from "./_io_console.ts";
import { runShard } from "./shard.ts";
import { IoContext } from "./_io_context.ts";
import type { CpuLane } from "./scheduler.ts";
import type { AbortSource, IoJobOptions, IoResult, Isolation } from "../pool/worker_pool.ts";
import type { MainGuard } from "./_main_guard.ts";
import { serializeError } from "../pool/_protocol.ts";
import { isThenable } from "../pool/_thenable.ts";
import { canParkOnOperation, parkOnOperation } from "../pool/_park.ts";
import type { CacheDecision } from "../cache/task_cache.ts";
import type { RunCache } from "../cache/open_run_cache.ts";
import { type TaskShell, taskShell } from "../commands/task_shell.ts";
import { Services } from "./_services.ts";
import { runTaskCommand } from "../commands/_task_commands.ts";
import type { Permissions } from "../declare/permissions.ts";

/**
 * How long starting ready tasks may hold the event loop before it yields to
 * timers and I/O, in ms.
 */
const START_SLICE_MS = 1;

/**
 * Runs an io body in the sandbox host for its permission set; its outcome
 * goes to `options`. Returns the job, which the attempt hands to
 * `ioHostAbort` when its deadline aborts (the job does not watch `abort`
 * itself); `undefined` when it was refused at once.
 */
export type IoHostRun = (
  task: string,
  deps: Record<string, unknown>,
  abort: AbortSource,
  options: IoJobOptions,
) => unknown;

/** What one run needs: its lanes, failure policy, signal and reporter. */
export interface ExecutionOptions {
  ioLane: IoLane;
  cpuLane: CpuLane | undefined;
  /** Where sandboxed io bodies run; io tasks run on this thread without it. */
  ioHost: IoHostRun | undefined;
  /** Cancels a job `ioHost` returned, once its attempt's deadline aborts. */
  ioHostAbort?: (job: unknown) => void;
  /** The run's arguments, for every task's context. */
  args: readonly string[];
  /** The task module's URL: `$` commands of tasks on this thread run in its folder. */
  module?: string;
  /** Contains the faults of trusted io tasks, when the run has any. */
  mainGuard: MainGuard | undefined;
  keepGoing: boolean;
  /** The time limit of tasks that set none. */
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  reporter: Required<Reporter>;
  /** Route task console output to the reporter (it has `taskOutput`). */
  captureOutput: boolean;
  /** The run's cache: a task it has is not run, and what a task produced is stored. */
  cache?: RunCache;
  t0: number;
}

/** How one attempt of a task ended. */
interface Attempt {
  status: "ok" | "failed" | "cancelled";
  startMs: number;
  endMs: number;
  worker?: number;
  value?: unknown;
  error?: unknown;
  /** A sharded task's chunk time in workers, and the workers used. */
  work?: ShardWork;
  /** Its task has ended or will retry: what follows from it is decided. */
  handled?: true;
  /** It ended with its body still running, past its grace. */
  leftBehind?: true;
}

interface ShardWork {
  ms: number;
  workers: Set<number>;
}

/** When an attempt ran, as far as it is known. */
interface AttemptSpan {
  startMs: number | undefined;
  /** Set when its body settled. */
  endMs: number | undefined;
  worker?: number;
  work?: ShardWork;
}

/** Steps of an io attempt that need the execution's private state. */
let ioSteps: {
  enter(execution: Execution, attempt: IoAttempt): void;
  graceOver(execution: Execution, attempt: IoAttempt): void;
  started(execution: Execution, attempt: IoAttempt): void;
  output(execution: Execution, name: string): (stream: "stdout" | "stderr", text: string) => void;
  fault(execution: Execution, task: Task, error: Error): void;
  settled(execution: Execution, attempt: IoAttempt, ok: boolean, value: unknown): void;
  abortJob(execution: Execution, job: unknown): void;
};

/**
 * One run's mutable state: what is waiting, running, done. Each task runs as
 * a series of attempts (one, unless it has `retries`), each under its own
 * deadline; when the run stops (fail-fast or cancel), nothing new starts,
 * running attempts are aborted, and tasks waiting for a retry give up.
 */
export class Execution {
  readonly done: Promise<{ reports: TaskReport[]; cancelled?: string }>;
  #tasks: Task[];
  #options: ExecutionOptions;
  #waitingOn = new Map<string, number>();
  #dependants = new Map<string, Task[]>();
  #reports = new Map<string, TaskReport>();
  #results = new Map<string, unknown>();
  /** The root failure behind each task that failed or was skipped for one. */
  #rootFailure = new Map<string, string>();
  #running = 0;
  #runningNames = new Set<string>();
  #controller = new AbortController();
  #stopReason: string | undefined;
  #cancelled: string | undefined;
  /** Errors a task's code raised after the task had finished, by task. */
  #lateFaults = new Map<string, Error>();
  /** What the cache decided for each task that started. */
  #decisions = new Map<string, CacheDecision>();
  /** The services of the run, when it has any. */
  #services: Services | undefined;
  #finish!: () => void;

  constructor(tasks: Task[], options: ExecutionOptions) {
    this.#tasks = tasks;
    this.#options = options;
    const { signal } = options;
    const onCancel = () => this.#cancel(signal!.reason);
    this.done = new Promise<void>((resolve) => this.#finish = resolve).then(async () => {
      // Every task has ended: no service is needed any more.
      await this.#services?.stopAll();
      signal?.removeEventListener("abort", onCancel);
      return {
        reports: this.#tasks.map((task) => this.#withLateFault(this.#reports.get(task.name)!)),
        cancelled: this.#cancelled,
      };
    });
    const selected = new Set(tasks.map((task) => task.name));
    for (const task of tasks) {
      this.#waitingOn.set(task.name, task.deps.length);
      for (const dep of task.deps) {
        if (!selected.has(dep)) continue;
        let list = this.#dependants.get(dep);
        if (list === undefined) this.#dependants.set(dep, list = []);
        list.push(task);
      }
    }
    if (tasks.some((task) => task.service === true)) {
      this.#services = new Services(
        tasks,
        (name) => (this.#dependants.get(name) ?? []).map((task) => task.name),
      );
    }
    if (signal?.aborted) this.#cancel(signal.reason);
    else signal?.addEventListener("abort", onCancel, { once: true });
    for (const task of tasks) {
      if (task.deps.length === 0 && !this.#reports.has(task.name)) this.#ready(task);
    }
    this.#pump();
    this.#checkDone();
  }

  /** Tasks whose dependencies are done, in the order they became ready. */
  /** cpu tasks ready to start: their lane queues them itself. */
  #readyCpu = new TaskQueue();
  /** io tasks ready to start, holding nothing until the io lane has a slot for them. */
  #readyIo = new TaskQueue();
  #pumping = false;

  /**
   * Starts the ready tasks that can start, yielding to the event loop every
   * {@linkcode START_SLICE_MS}: thousands become ready at once on a fan-out,
   * and started in one go they would hold the loop for as long, so that the
   * first ones' timers would fire late, counted in their time. An io task
   * starts only once the io lane has a free slot, so that 50,000 ready io
   * tasks hold no attempt's state while 64 run.
   */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    // The clock is read every 16 starts, not per call: a chain calls this
    // once per task, to start one.
    let until = Infinity;
    const lane = this.#options.ioLane;
    for (let count = 1;; count++) {
      let task: Task;
      if (this.#readyCpu.size > 0) task = this.#readyCpu.shift();
      else if (
        this.#readyIo.size > 0 && lane.activeCount + lane.pendingCount < lane.concurrency
      ) task = this.#readyIo.shift();
      else break;
      this.#startNow(task);
      if (count % 16 !== 0) continue;
      const now = performance.now();
      if (until === Infinity) until = now + START_SLICE_MS;
      else if (now > until) {
        yieldToLoop(() => {
          this.#pumping = false;
          this.#pump();
        });
        return;
      }
    }
    this.#pumping = false;
  }

  #ready(task: Task): void {
    (task.kind === "io" ? this.#readyIo : this.#readyCpu).push(task);
  }

  /**
   * A task's code raised an error after the task had finished (a timer it
   * left behind threw): the task is reported failed, and unless the run
   * keeps going, the run stops as for any failure.
   */
  #lateFault(task: Task, error: Error): void {
    if (this.#lateFaults.has(task.name)) return;
    this.#lateFaults.set(task.name, error);
    this.#options.reporter.taskOutput({
      name: task.name,
      stream: "stderr",
      text: `error after the task returned: ${error.name}: ${error.message}`,
    });
    if (!this.#options.keepGoing) this.#stop(`stopped because task "${task.name}" failed`);
  }

  #withLateFault(report: TaskReport): TaskReport {
    const error = this.#lateFaults.get(report.name);
    if (error === undefined || report.status !== "ok") return report;
    const failed: TaskReport = {
      ...report,
      status: "failed",
      error: {
        name: error.name,
        message: `It returned, then its code raised an error outside its body: ${error.message}`,
        ...(error.stack === undefined ? {} : { stack: error.stack }),
      },
    };
    delete failed.result;
    return failed;
  }

  #now(): number {
    return performance.now() - this.#options.t0;
  }

  #cancel(reason: unknown): void {
    this.#cancelled = reason instanceof Error ? reason.message : String(reason ?? "Run cancelled");
    this.#stop(`run cancelled: ${this.#cancelled}`);
  }

  #stop(reason: string): void {
    if (this.#stopReason !== undefined) return;
    this.#stopReason = reason;
    this.#controller.abort(new DOMException(`Task aborted: ${reason}`, "AbortError"));
    // Everything not yet started is skipped now, so the run ends as soon as
    // the running tasks have stopped.
    for (const task of this.#tasks) {
      if (!this.#reports.has(task.name) && !this.#runningNames.has(task.name)) {
        this.#skip(task, reason);
      }
    }
  }

  #startNow(task: Task): void {
    if (this.#reports.has(task.name)) return;
    if (this.#stopReason !== undefined) {
      this.#skip(task, this.#stopReason);
      return;
    }
    const deps: Record<string, unknown> = {};
    for (const dep of task.deps) deps[dep] = this.#results.get(dep);
    this.#running++;
    this.#runningNames.add(task.name);
    const decision = this.#options.cache?.check(task, deps);
    if (decision !== undefined) this.#decisions.set(task.name, decision);
    if (decision?.hit) {
      const startMs = roundMs(this.#now());
      const { name, kind } = task;
      const report: TaskReport = task.trusted
        ? { name, kind, trusted: true, status: "cached", startMs, endMs: startMs, durationMs: 0 }
        : { name, kind, status: "cached", startMs, endMs: startMs, durationMs: 0 };
      report.result = decision.result;
      return this.#end(task, report);
    }
    if ((task.retries ?? 0) > 0) {
      this.#attempts(task, deps);
      return;
    }
    // One attempt and no retry, as most tasks: a reaction, not an async
    // function suspended for as long as the task runs.
    this.#attempt(task, deps, true).then((attempt) => {
      if (attempt === undefined) return this.#end(task, undefined);
      attempt.handled = true;
      this.#end(task, this.#taskReport(task, [attempt], false));
    });
  }

  /**
   * Runs a task's attempts until one passes, it runs out of retries, or the
   * run stops, then ends the task.
   */
  async #attempts(task: Task, deps: Record<string, unknown>): Promise<void> {
    const retries = task.retries ?? 0;
    const attempts: Attempt[] = [];
    for (let n = 1;; n++) {
      const attempt = await this.#attempt(task, deps, n === 1);
      // Still waiting for a slot when the run stopped: nothing more to try.
      if (attempt === undefined) break;
      attempts.push(attempt);
      if (attempt.status !== "failed" || n > retries || this.#stopReason !== undefined) break;
      attempt.handled = true;
      // Its io slot may be free already: another task can have it.
      this.#pump();
      const delayMs = backoffDelay(task.backoff ?? DEFAULT_BACKOFF, n);
      this.#options.reporter.taskRetry({
        name: task.name,
        kind: task.kind,
        attempt: n + 1,
        maxAttempts: retries + 1,
        delayMs,
        error: reportError(attempt.error),
      });
      try {
        await sleep(delayMs, this.#controller.signal);
      } catch {
        break; // The run stopped: the task ends with its last failure.
      }
    }
    if (attempts.length === 0) return this.#end(task, undefined);
    attempts[attempts.length - 1].handled = true;
    this.#end(task, this.#taskReport(task, attempts, retries > 0));
  }

  /** One attempt under its own deadline; `undefined` when it never started. */
  #attempt(
    task: Task,
    deps: Record<string, unknown>,
    first: boolean,
  ): Promise<Attempt | undefined> {
    const limit = task.timeout ?? this.#options.timeout;
    const parent = this.#services === undefined
      ? this.#controller.signal
      : this.#services.signalFor(task, this.#controller.signal);
    const deadline = new Deadline(
      parent,
      limit,
      limit === undefined ? noTimeout : () => timeoutError(task.name, limit),
    );
    if (task.kind === "cpu") return this.#cpuAttempt(task, deps, first, deadline);
    // The io slot comes first: an io task waiting for one holds only its
    // attempt object, and its body starts once it has one. Its deadline is
    // not armed while it waits: only the run's stop ends the wait.
    const attempt = new IoAttempt(this, task, deps, first, deadline, this.#options.args);
    enterLane(this.#options.ioLane, parent, attempt);
    return attempt.promise;
  }

  async #cpuAttempt(
    task: Task,
    deps: Record<string, unknown>,
    first: boolean,
    deadline: Deadline,
  ): Promise<Attempt | undefined> {
    using _ = deadline;
    return await this.#run(task, deps, first, deadline).attempt;
  }

  static {
    ioSteps = {
      enter: (execution, attempt) => execution.#ioEnter(attempt),
      graceOver: (execution, attempt) => execution.#ioGraceOver(attempt),
      started: (execution, attempt) => execution.#ioStarted(attempt),
      output: (execution, name) => execution.#output(name),
      fault: (execution, task, error) => execution.#lateFault(task, error),
      settled: (execution, attempt, ok, value) => execution.#ioSettled(attempt, ok, value),
      abortJob: (execution, job) => execution.#options.ioHostAbort?.(job),
    };
  }

  /** An io attempt has its slot: its body starts, here or in its sandbox host. */
  #ioEnter(attempt: IoAttempt): void {
    const { task, deadline } = attempt;
    const host = task.trusted ? undefined : this.#options.ioHost;
    let running: Promise<unknown> | undefined;
    try {
      if (host !== undefined) {
        // A sandboxed io body's own time is measured in its host, and it
        // cannot start before it is sent there. It starts when its sandbox
        // has it (onStart), not while the sandbox starts. The deadline
        // cancels it without making a signal, which the host's side makes
        // for the body if the body reads it. Its outcome comes back to the
        // attempt (ioDone, ioFailed): no promise per job.
        attempt.sentMs = this.#now();
        attempt.job = host(task.name, attempt.deps, deadline, attempt);
      } else {
        this.#ioStarted(attempt);
        running = this.#trustedBody(attempt);
      }
    } catch (error) {
      running = Promise.reject(error);
    }
    // Once the attempt's signal aborts, the body has its grace to settle.
    if (deadline.aborted) attempt.abort();
    else deadline.onAbort(attempt.onAbortOnce = () => attempt.abort());
    running?.then(
      (value) => this.#ioSettled(attempt, true, value),
      (error) => this.#ioSettled(attempt, false, error),
    );
  }

  /** Its grace after the abort ran out and its body still runs: it is left behind. */
  #ioGraceOver(attempt: IoAttempt): void {
    if (attempt.decided || attempt.bodyDone) return;
    this.#ioFailed(attempt, attempt.deadline.reason);
  }

  /** Its body began: the clock starts, and the first attempt's start is reported. */
  #ioStarted(attempt: IoAttempt): void {
    if (attempt.startMs !== undefined) return;
    attempt.startMs = this.#now();
    attempt.deadline.arm();
    if (attempt.first) {
      const { name, kind } = attempt.task;
      this.#options.reporter.taskStart({ name, kind, startMs: attempt.startMs });
    }
  }

  /** An io body on this thread, under the run's guard and output capture. */
  #trustedBody(attempt: IoAttempt): Promise<unknown> {
    const { task, deps, deadline } = attempt;
    const { args } = this.#options;
    const body = async () => {
      // Its `$` commands take turns and end with the attempt, as a
      // sandboxed task's do (the pool's CommandSlots), though a trusted
      // body could start processes itself.
      let slots: CommandSlots | undefined;
      const context = new IoContext(
        task.name,
        deps,
        args,
        deadline,
        (signal) => this.#shell(task, slots = new CommandSlots(signal)),
      );
      let out: unknown;
      // It begins once its start is reported and its context built: that
      // bookkeeping is spool's, not the task's time.
      attempt.startMs = this.#now();
      try {
        out = task.run(context);
      } finally {
        // It returned without a promise: it ended then, not once the tasks
        // started after it in the same slice have started.
        if (!isThenable(out)) attempt.endMs ??= this.#now();
      }
      try {
        return await out;
      } finally {
        slots?.end();
      }
    };
    const guarded = this.#options.mainGuard === undefined
      ? body
      : () => this.#options.mainGuard!.run(body, (error) => this.#lateFault(task, error));
    return this.#options.captureOutput
      ? withTaskOutput(this.#output(task.name), guarded)
      : guarded();
  }

  /**
   * An io body settled. Its end is now, before anything else the loop does
   * after it. Its outcome is decided here, unless its grace ran out first
   * (it was left behind), and then only its slot is given back.
   */
  #ioSettled(attempt: IoAttempt, ok: boolean, settled: unknown): void {
    attempt.endMs ??= this.#now();
    attempt.bodyDone = true;
    if (attempt.decided) {
      // Left behind past its grace: the slot was held until now.
      leaveLane(this.#options.ioLane);
      if (attempt.outcome?.handled) this.#pump();
      return;
    }
    clearTimeout(attempt.grace);
    if (attempt.onAbortOnce !== undefined) attempt.deadline.offAbort(attempt.onAbortOnce);
    if (ok) {
      try {
        checkResult(attempt.task, attempt.deadline, settled);
      } catch (error) {
        return this.#ioFailed(attempt, error);
      }
      // It counts as started when its host had it, but tasks sent ahead
      // wait there for their turn: its body began its own time before it
      // ended, and the wait was spool's. Not later than that either: a
      // body sent to a host still starting can begin before this thread
      // has read the host's `ready`, and it then reported less than its
      // body's time.
      const { bodyMs, endMs } = attempt;
      if (bodyMs !== undefined && bodyMs >= 0) {
        attempt.startMs = Math.max(attempt.sentMs, endMs! - bodyMs);
      }
      return this.#ioDecided(attempt, {
        status: "ok",
        startMs: attempt.startMs!,
        endMs: endMs!,
        value: settled,
      });
    }
    this.#ioFailed(attempt, settled);
  }

  /** An io attempt failed, timed out, was cancelled, or never ran. */
  #ioFailed(attempt: IoAttempt, thrown: unknown): void {
    this.#ioDecided(
      attempt,
      this.#notPassed(attempt.deadline, thrown, attempt, () => {
        this.#ioStarted(attempt);
        return attempt.startMs!;
      }),
    );
  }

  /**
   * How an attempt that did not pass ended, on either lane: `undefined` when
   * it never ran; else cancelled or failed, and left behind when its body
   * has not settled (it still runs, past its grace).
   *
   * @param start Marks it started now and returns when: its worker or host
   * could not start it.
   */
  #notPassed(
    deadline: Deadline,
    thrown: unknown,
    span: AttemptSpan,
    start: () => number,
  ): Attempt | undefined {
    let { startMs, endMs } = span;
    if (startMs === undefined) {
      // Aborted while it waited for a slot, a worker or its host: it never ran.
      if (this.#stopReason !== undefined || deadline.aborted) return undefined;
      // Its worker or sandbox could not start (the task module failed to load
      // there): a failure of this task, with the error that says why.
      startMs = endMs = start();
    }
    const error = deadline.timedOut ? deadline.reason : thrown;
    // Once the run has stopped, whatever a running task did next was
    // brought on by the stop; its own error stays in the report.
    const status = this.#stopReason !== undefined && !deadline.timedOut ? "cancelled" : "failed";
    const { worker, work } = span;
    if (endMs !== undefined) return { status, startMs, endMs, worker, error, work };
    // Its body is left behind, still running, past its grace.
    return { status, startMs, endMs: this.#now(), worker, error, work, leftBehind: true };
  }

  #ioDecided(attempt: IoAttempt, outcome: Attempt | undefined): void {
    attempt.decided = true;
    attempt.outcome = outcome;
    attempt.deadline[Symbol.dispose]();
    attempt.resolve(outcome);
    // The slot stays taken while a body left behind past its grace runs on.
    // Given back now, it starts nothing new by itself: handling this
    // outcome does (a failure may stop the run first).
    if (attempt.bodyDone) leaveLane(this.#options.ioLane);
  }

  /** Runs a cpu attempt's body: its outcome, and when the body itself settles. */
  #run(
    task: Task,
    deps: Record<string, unknown>,
    first: boolean,
    deadline: Deadline,
  ): { attempt: Promise<Attempt | undefined>; body: Promise<unknown> } {
    let startMs: number | undefined;
    let endMs: number | undefined;
    let worker: number | undefined;
    const work: ShardWork | undefined = task.shard === undefined
      ? undefined
      : { ms: 0, workers: new Set() };
    const started = (index?: number) => {
      // Called again when a remote lane's job moved to another worker.
      if (startMs !== undefined) return void (worker = index ?? worker);
      startMs = this.#now();
      worker = index;
      deadline.arm();
      if (first) {
        const { name, kind } = task;
        const event = index === undefined
          ? { name, kind, startMs }
          : { name, kind, startMs, worker: index };
        this.#options.reporter.taskStart(event);
      }
    };
    // Its end is when the body settles, before anything else the loop does
    // after it.
    const ended = () => {
      endMs ??= this.#now();
    };
    let running: Promise<unknown>;
    try {
      running = this.#body(task, deps, deadline, started, work);
    } catch (error) {
      running = Promise.reject(error);
    }
    const body = running.finally(ended);
    const attempt = (async (): Promise<Attempt | undefined> => {
      try {
        const value = await deadline.settle(body, ABORT_GRACE_MS);
        checkResult(task, deadline, value);
        return { status: "ok", startMs: startMs!, endMs: endMs!, worker, value, work };
      } catch (thrown) {
        return this.#notPassed(deadline, thrown, { startMs, endMs, worker, work }, () => {
          started();
          return startMs!;
        });
      }
    })();
    return { attempt, body };
  }

  /** Starts a cpu task's body on its lane. */
  #body(
    task: Task,
    deps: Record<string, unknown>,
    deadline: Deadline,
    started: (worker?: number) => void,
    work: ShardWork | undefined,
  ): Promise<unknown> {
    const { args } = this.#options;
    const lane = this.#options.cpuLane!;
    if (task.shard !== undefined && lane.runChunk !== undefined) {
      return runShard(lane as Required<CpuLane>, task.name, task.shard, {
        deps,
        args,
        maxHeapMb: task.maxHeapMb,
        isolation: task.isolation,
        permissions: task.permissions,
        signal: deadline.signal,
        onStart: started,
        onOutput: this.#output(task.name),
        onChunk: ({ worker, ms, done, total }) => {
          work?.workers.add(worker);
          if (work !== undefined) work.ms += ms;
          this.#options.reporter.taskProgress({ name: task.name, done, total, worker });
        },
      });
    }
    return lane.run(task.name, deps, {
      permissions: task.permissions,
      signal: deadline.signal,
      onStart: started,
      onOutput: this.#output(task.name),
      onFault: (error: Error) => this.#lateFault(task, error),
      maxHeapMb: task.maxHeapMb,
      isolation: task.isolation,
      args,
    }).then((result) => result.value);
  }

  /**
   * The `$` of a task on this thread: its commands run with its permissions
   * and output, a few at once, under the slots' signal.
   */
  #shell(task: Task, slots: CommandSlots): TaskShell {
    return taskShell(
      task.name,
      (request) =>
        slots.run(task.name, request.command, () =>
          runTaskCommand(request, {
            module: this.#options.module,
            permissions: task.permissions,
            signal: slots.signal,
            onOutput: this.#output(task.name),
          })),
      (program) => hasRun(task.permissions, program),
    );
  }

  /** Hands a task's console output to the reporter, a line per event. */
  #output(name: string): (stream: "stdout" | "stderr", text: string) => void {
    return (stream, text) => {
      if (!this.#options.captureOutput) {
        // Nobody shows output: print it as the task would have outside spool.
        (stream === "stderr" ? console.error : console.log)(text);
        return;
      }
      for (const line of text.split("\n")) {
        this.#options.reporter.taskOutput({ name, stream, text: line });
      }
    };
  }

  #taskReport(task: Task, attempts: Attempt[], withAttempts: boolean): TaskReport {
    const first = attempts[0];
    const last = attempts[attempts.length - 1];
    const { name, kind } = task;
    const status = last.status;
    const startMs = roundMs(first.startMs);
    const endMs = roundMs(last.endMs);
    const durationMs = roundMs(last.endMs - first.startMs);
    // Two literals, not a spread: one report per task, 50,000 in a large run.
    const report: TaskReport = task.trusted
      ? { name, kind, trusted: true, status, startMs, endMs, durationMs }
      : { name, kind, status, startMs, endMs, durationMs };
    if (last.worker !== undefined) report.worker = last.worker;
    // A lane without chunks runs a sharded task whole, as a plain cpu task.
    if (attempts.some((attempt) => (attempt.work?.workers.size ?? 0) > 0)) {
      const workers = new Set(attempts.flatMap((attempt) => [...attempt.work?.workers ?? []]));
      report.workers = [...workers].sort((a, b) => a - b);
      report.workMs = roundMs(attempts.reduce((sum, attempt) => sum + (attempt.work?.ms ?? 0), 0));
    }
    if (last.status === "ok") {
      report.result = last.value;
    } else if (last.status === "failed") {
      report.error = reportError(last.error);
    } else {
      report.reason = this.#stopReason;
      if (last.error !== this.#controller.signal.reason) report.error = reportError(last.error);
    }
    if (withAttempts) {
      report.attempts = attempts.map((attempt) => {
        const entry: AttemptReport = {
          startMs: roundMs(attempt.startMs),
          endMs: roundMs(attempt.endMs),
          durationMs: roundMs(attempt.endMs - attempt.startMs),
        };
        if (attempt.worker !== undefined) entry.worker = attempt.worker;
        if (attempt.status !== "ok") entry.error = reportError(attempt.error);
        return entry;
      });
      report.attemptCount = attempts.length;
    }
    return report;
  }

  #end(task: Task, report: TaskReport | undefined): void {
    this.#running--;
    this.#runningNames.delete(task.name);
    // Aborted while it waited for a slot: it never ran.
    if (report === undefined) {
      this.#skip(task, this.#services?.downReason(task.name) ?? this.#stopReason ?? "run stopped");
      this.#checkDone();
      return;
    }
    if (report.status === "ok" && task.service === true && this.#services !== undefined) {
      report = { ...report, result: this.#services.adopt(task.name, report.result) };
    }
    const passed = report.status === "ok" || report.status === "cached";
    if (passed) this.#results.set(task.name, report.result);
    if (report.status === "failed") this.#rootFailure.set(task.name, task.name);
    const decision = this.#decisions.get(task.name);
    if (decision !== undefined) {
      report.why = decision.why;
      if (report.status === "ok") this.#options.cache!.save(task, decision, report.result);
    }
    this.#reports.set(task.name, report);
    this.#options.reporter.taskEnd(report);

    for (const next of this.#dependants.get(task.name) ?? []) {
      if (this.#reports.has(next.name)) continue;
      if (!passed) {
        this.#skipDownstream(next, task.name);
        continue;
      }
      const left = this.#waitingOn.get(next.name)! - 1;
      this.#waitingOn.set(next.name, left);
      if (left === 0) this.#ready(next);
    }
    this.#services?.ended(task.name);
    // After its dependants are skipped for it by name, the rest of the run stops.
    if (report.status === "failed" && !this.#options.keepGoing) {
      this.#stop(`stopped because task "${task.name}" failed`);
    }
    // Its slot may be free, and its dependants ready.
    this.#pump();
    this.#checkDone();
  }

  /** Skips a task whose dependency failed or was skipped for a failure, and all below it. */
  #skipDownstream(task: Task, failedDep: string): void {
    const stack: [Task, string][] = [[task, failedDep]];
    while (stack.length > 0) {
      const [current, dep] = stack.pop()!;
      if (this.#reports.has(current.name)) continue;
      const root = this.#rootFailure.get(dep) ?? dep;
      this.#rootFailure.set(current.name, root);
      this.#skip(
        current,
        root === dep
          ? `dependency "${dep}" failed`
          : `dependency "${dep}" was skipped because "${root}" failed`,
      );
      for (const next of this.#dependants.get(current.name) ?? []) stack.push([next, current.name]);
    }
  }

  #skip(task: Task, reason: string): void {
    if (this.#reports.has(task.name)) return;
    const report = skippedReport(task, reason);
    this.#reports.set(task.name, report);
    this.#options.reporter.taskEnd(report);
    this.#services?.ended(task.name);
  }

  #checkDone(): void {
    if (this.#running === 0 && this.#reports.size === this.#tasks.length) this.#finish();
  }
}

/**
 * One io attempt in flight: its state, and the options a sandbox pool
 * reads for it. The pool calls `onStart`, `onOutput` and `onFault` as
 * methods of its options, so they are methods here; the attempt's steps
 * (its slot, its body settling, its grace after an abort) are callbacks
 * into the execution, not async functions suspended while it runs. While a
 * sandbox host starts, 10,000 attempts can be in flight at once, and what
 * each keeps alive is garbage the runner's collector copies and marks again
 * and again: an attempt held five suspended async functions, twelve
 * promises and twenty-five closures before (README "What the sandbox costs").
 */
class IoAttempt implements IoJobOptions, LaneEntrant {
  readonly task: Task;
  readonly deps: Record<string, unknown>;
  /** Whether it is the task's first attempt (whose start is reported). */
  readonly first: boolean;
  readonly deadline: Deadline;
  readonly promise: Promise<Attempt | undefined>;
  resolve!: (outcome: Attempt | undefined) => void;
  // What the pool reads.
  readonly permissions: Permissions;
  readonly maxHeapMb: number | undefined;
  readonly isolation: Isolation | undefined;
  readonly args: readonly string[];
  startMs: number | undefined = undefined;
  endMs: number | undefined = undefined;
  /** When it was sent to its sandbox host (no body starts before that). */
  sentMs = 0;
  /** Its body's own time, measured in its host. */
  bodyMs: number | undefined = undefined;
  /** Whether its body has settled. */
  bodyDone = false;
  /** Whether its outcome is decided (its body may still run, left behind). */
  decided = false;
  outcome: Attempt | undefined = undefined;
  /** Started when its signal aborts: how long its body may still take. */
  grace: ReturnType<typeof setTimeout> | undefined = undefined;
  onAbortOnce: (() => void) | undefined = undefined;
  /** Its job in its sandbox host, until the attempt aborts. */
  job: unknown = undefined;
  #execution: Execution;

  constructor(
    execution: Execution,
    task: Task,
    deps: Record<string, unknown>,
    first: boolean,
    deadline: Deadline,
    args: readonly string[],
  ) {
    this.#execution = execution;
    this.task = task;
    this.deps = deps;
    this.first = first;
    this.deadline = deadline;
    this.permissions = task.permissions;
    this.maxHeapMb = task.maxHeapMb;
    this.isolation = task.isolation;
    this.args = args;
    this.promise = new Promise((resolve) => this.resolve = resolve);
  }

  enter(): void {
    ioSteps.enter(this.#execution, this);
  }

  refused(): void {
    // Aborted while it waited for a slot: it never ran.
    this.deadline[Symbol.dispose]();
    this.resolve(undefined);
  }

  /** Its signal aborted: its body may take {@linkcode ABORT_GRACE_MS} more to settle. */
  abort(): void {
    // Its sandbox's job first, as a callback of its own on the deadline was.
    const job = this.job;
    if (job !== undefined) {
      this.job = undefined;
      ioSteps.abortJob(this.#execution, job);
    }
    if (this.grace !== undefined || this.decided) return;
    this.grace = setTimeout(() => ioSteps.graceOver(this.#execution, this), ABORT_GRACE_MS);
  }

  onStart(): void {
    ioSteps.started(this.#execution, this);
  }

  onOutput(stream: "stdout" | "stderr", text: string): void {
    ioSteps.output(this.#execution, this.task.name)(stream, text);
  }

  onFault(error: Error): void {
    ioSteps.fault(this.#execution, this.task, error);
  }

  ioDone(result: IoResult): void {
    this.bodyMs = result.ms;
    ioSteps.settled(this.#execution, this, true, result.value);
  }

  ioFailed(error: unknown): void {
    ioSteps.settled(this.#execution, this, false, error);
  }
}

function noTimeout(): never {
  throw new Error("Unreachable: a deadline without a limit timed out");
}

function reportError(error: unknown): ReportedError {
  // A task can throw anything: a Proxy, an object with no prototype, one
  // whose toString throws. None of them may break the report.
  const { name, message, stack } = serializeError(error);
  const out: ReportedError = { name, message };
  if (stack !== undefined) out.stack = stack;
  return out;
}

/**
 * Throws when an attempt's result does not count: it came after the
 * deadline (still a timeout), or it cannot be written to the report.
 */
function checkResult(task: Task, deadline: Deadline, value: unknown): void {
  if (deadline.timedOut) throw deadline.reason;
  assertReportable(task.name, value);
}

/**
 * Throws when a result cannot be written to the JSON report (a cycle, a
 * `toJSON` that throws), so that the task fails with a clear error
 * instead of the report failing at the end.
 */
function assertReportable(task: string, value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  try {
    // BigInts are written as strings, as reportToJson() does.
    JSON.stringify(value, (_key, v) => typeof v === "bigint" ? v.toString() : v);
  } catch (error) {
    throw new TypeError(
      `Task "${task}" returned a result that cannot be written to the report: ${
        serializeError(error).message.split("\n")[0]
      }; return plain data (no cycles, no toJSON that throws)`,
    );
  }
}

/**
 * Calls `fn` as a task of its own, once the event loop has run the timers
 * and I/O callbacks due: a message to itself, since `setTimeout(fn, 0)`
 * waits about 1 ms, as long as the slice of work before it.
 *
 * A loop that always has a message ready looks at its sockets only every
 * 61st turn (tokio's event interval): while thousands of tasks start, a
 * sandbox host that connected waited there for hundreds of ms, its tasks
 * unsent. So every {@linkcode PARK_EVERY_MS} the yield waits on an
 * operation that completes on another thread instead (`_park.ts`): the
 * loop, with nothing else ready, polls its sockets meanwhile.
 */
function yieldToLoop(fn: () => void): void {
  const now = clock();
  if (now - lastPark >= PARK_EVERY_MS && canParkOnOperation) {
    lastPark = now;
    parkOnOperation().then(fn, fn);
    return;
  }
  const channel = new MessageChannel();
  channel.port1.onmessage = () => {
    channel.port1.close();
    fn();
  };
  channel.port2.postMessage(undefined);
}

const PARK_EVERY_MS = 5;
let lastPark = 0;
// Taken when spool loads: a trusted task on this thread cannot replace it.
const clock = performance.now.bind(performance);

/** A FIFO of tasks: an array read from a moving head, dropped once drained. */
class TaskQueue {
  #items: (Task | undefined)[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(task: Task): void {
    this.#items.push(task);
  }

  shift(): Task {
    const task = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
    return task;
  }
}

/** Whether a task's `run` permission names a program. */
function hasRun(permissions: Permissions, program: string): boolean {
  const run = permissions.run;
  return run === true || (Array.isArray(run) && run.includes(program));
}
