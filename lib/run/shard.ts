/**
 * Sharded cpu tasks: a task that declares `items` and `map` runs as chunks
 * of items spread over every worker, with results put back in input order
 * and optionally reduced. This file chooses chunk sizes and drives the
 * chunks through a cpu lane.
 *
 * @module
 */

import type { TaskContext, TaskShard } from "../declare/define.ts";
import { taskShell } from "../commands/task_shell.ts";
import { runTaskCommand } from "../commands/_task_commands.ts";
import type { ChunkResult, CpuChunk, CpuRunOptions } from "../pool/worker_pool.ts";

/**
 * Chunks each worker should get when nothing is known about the items'
 * cost. With four, the worker that takes the last chunk finishes at most
 * about a quarter of a share after the others, even when items vary in cost;
 * more chunks would balance better but pay more messages.
 */
export const CHUNKS_PER_WORKER = 4;

/**
 * The least work, in ms, a chunk should carry once the items' cost is known.
 * A chunk's round trip to a warm worker costs tens of microseconds, so a
 * chunk of at least 1 ms keeps messaging within a few per cent of the work.
 */
export const MIN_CHUNK_MS = 1;

/**
 * How many items to put in each chunk.
 *
 * Before anything has run, the items are split into
 * {@linkcode CHUNKS_PER_WORKER} chunks per worker. Once the first chunk has
 * come back, its time per item is known: if chunks of that size would each
 * take less than {@linkcode MIN_CHUNK_MS}, they are grown until they do, but
 * never past one chunk per worker, so that every worker still gets work.
 *
 * @param count How many items are left to split.
 * @param workers How many workers share them.
 * @param msPerItem The measured time per item, when known.
 * @returns The chunk size, at least 1.
 * @throws {RangeError} When `workers` is not a positive integer.
 */
export function chunkSize(count: number, workers: number, msPerItem?: number): number {
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(
      `Cannot size chunks as 'workers' must be a positive integer: current value is ${workers}`,
    );
  }
  const balanced = Math.max(1, Math.ceil(count / (workers * CHUNKS_PER_WORKER)));
  if (msPerItem === undefined) return balanced;
  const amortised = msPerItem > 0 ? Math.ceil(MIN_CHUNK_MS / msPerItem) : count;
  const perWorker = Math.max(1, Math.ceil(count / workers));
  return Math.min(Math.max(balanced, amortised), perWorker);
}

/** The part of a cpu lane that runs chunks. */
export interface ChunkLane {
  /** How many chunks run at once. */
  readonly size: number;
  /**
   * How many chunks to keep sent but not yet back; default `size`. A remote
   * lane keeps more, so that a chunk waits in its queue rather than a round trip.
   */
  readonly chunksInFlight?: number;
  /** Runs `map` over one chunk. */
  runChunk(task: string, chunk: CpuChunk, options: CpuRunOptions): Promise<ChunkResult>;
  /**
   * Runs the task's `items` function or its final fold in a sandbox. Without
   * it they run on this thread.
   */
  runShardStep?(
    task: string,
    step: "items" | "fold",
    input: Record<string, unknown> | unknown[],
    options: CpuRunOptions,
  ): Promise<{ value: unknown }>;
}

/** Options for {@linkcode runShard}. */
export interface ShardRunOptions {
  /** Results of the task's dependencies, for an `items` function. */
  deps: Record<string, unknown>;
  /** The task's permissions; its workers get exactly these. */
  permissions?: CpuRunOptions["permissions"];
  /** Stops the task: no more chunks start, running ones are aborted. */
  signal?: AbortSignal;
  /** Called once, when the task starts getting its items. */
  onStart?: () => void;
  /** Receives what `map` prints, as for a cpu task. */
  onOutput?: CpuRunOptions["onOutput"];
  /** Called as each chunk comes back: its worker, its time in the worker, and items done so far. */
  onChunk?: (chunk: ChunkDone) => void;
  /** The run's arguments, for an `items` function. */
  args?: readonly string[];
  /** The heap limit of the processes that map the chunks, in MiB. */
  maxHeapMb?: number;
  /** Where the chunks' workers live. */
  isolation?: CpuRunOptions["isolation"];
}

/** A chunk of a sharded task that came back. */
export interface ChunkDone {
  /** The worker that mapped it. */
  worker: number;
  /** Time the worker spent on it, in ms. */
  ms: number;
  /** Items mapped so far, this chunk included. */
  done: number;
  /** Items in all. */
  total: number;
}

/**
 * Runs a sharded task: gets its items (an `items` function runs in a worker
 * with the task's permissions, when the lane can run it there), then keeps
 * one chunk in flight per worker until every item is mapped, and folds the
 * chunks' results in a worker too.
 *
 * Chunks are cut one at a time as workers free up rather than all queued at
 * once: the size can then follow the first chunk's measured cost, and after
 * a failure nothing more is sent while chunks already running finish on
 * their own (their workers stay warm).
 *
 * @param lane Where chunks run.
 * @param name The task's name.
 * @param shard The task's items, map, reduce and chunk size.
 * @param options Dependencies, permissions, signal and start callback.
 * @returns The mapped values in input order, or their fold with `reduce`.
 * @throws {ItemError} When an item fails, with its index and own error.
 */
export async function runShard(
  lane: ChunkLane,
  name: string,
  shard: TaskShard,
  options: ShardRunOptions,
): Promise<unknown> {
  const { permissions, signal, deps, onOutput, onChunk, maxHeapMb, isolation } = options;
  options.onStart?.();
  const bodySignal = signal ?? new AbortController().signal;
  const context: TaskContext = {
    name,
    signal: bodySignal,
    deps,
    args: options.args ?? [],
    $: taskShell(
      name,
      (request) =>
        runTaskCommand(request, {
          module: undefined,
          permissions: permissions ?? {},
          signal: bodySignal,
          onOutput: onOutput ??
            ((stream, text) => (stream === "stderr" ? console.error : console.log)(text)),
        }),
      (program) =>
        permissions?.run === true ||
        (Array.isArray(permissions?.run) && permissions.run.includes(program)),
    ),
  };
  const sandbox = { permissions, signal, onOutput, maxHeapMb, isolation, args: options.args };
  // The task's own code runs in its sandbox, not here: `items` when it is a
  // function, and the final fold.
  const items = typeof shard.items === "function" && lane.runShardStep !== undefined
    ? await resolveItems(
      { ...shard, items: (await lane.runShardStep(name, "items", deps, sandbox)).value as never },
      context,
    )
    : await resolveItems(shard, context);
  signal?.throwIfAborted();
  const parts = await mapChunks(lane, name, items, shard.chunkSize, {
    permissions,
    signal,
    onOutput,
    maxHeapMb,
    isolation,
  }, onChunk);
  // One level only: a result that is itself an array stays one result.
  if (shard.reduce === undefined) return (parts as unknown[][]).flat();
  // One fold per chunk came back; they are folded in order in the sandbox.
  if (lane.runShardStep !== undefined) {
    return (await lane.runShardStep(name, "fold", parts, sandbox)).value;
  }
  let acc = shard.hasInitial ? shard.initial : parts[0];
  for (let i = shard.hasInitial ? 0 : 1; i < parts.length; i++) acc = shard.reduce(acc, parts[i]);
  return acc;
}

type Items = ArrayLike<unknown> & { slice(start: number, end: number): ArrayLike<unknown> };

async function resolveItems(shard: TaskShard, context: TaskContext): Promise<Items> {
  const source = typeof shard.items === "function" ? await shard.items(context) : shard.items;
  if (Array.isArray(source)) return dense(source);
  if (ArrayBuffer.isView(source) && !(source instanceof DataView)) {
    return source as unknown as Items;
  }
  if (source !== null && typeof source === "object") {
    if (Symbol.iterator in source) return Array.from(source as Iterable<unknown>);
    if (typeof (source as ArrayLike<unknown>).length === "number") {
      return Array.from(source as ArrayLike<unknown>);
    }
  }
  throw new TypeError(
    `Cannot shard cpu task "${context.name}" as 'items' must be an array, a typed array or an iterable: current value is ${
      source === null ? "null" : typeof source
    }`,
  );
}

/**
 * `items` with its holes made `undefined`: in a worker, a hole read in
 * `map`'s loop would look the index up on `Array.prototype`, where a task
 * that shares the worker may have put a getter for it.
 */
function dense(items: unknown[]): unknown[] {
  for (let i = 0; i < items.length; i++) {
    if (!(i in items)) return Array.from(items);
  }
  return items;
}

function mapChunks(
  lane: ChunkLane,
  name: string,
  items: Items,
  fixedSize: number | undefined,
  options: CpuRunOptions,
  onChunk: ((chunk: ChunkDone) => void) | undefined,
): Promise<unknown[]> {
  const total = items.length;
  const workers = Math.max(1, lane.size);
  const inFlight = Math.max(workers, lane.chunksInFlight ?? workers);
  const parts: unknown[] = [];
  if (total === 0) return Promise.resolve(parts);
  const shared = ArrayBuffer.isView(items) && items.buffer instanceof SharedArrayBuffer;
  let size = fixedSize ?? chunkSize(total, workers);
  let measured = fixedSize !== undefined;
  let next = 0;
  let chunks = 0;
  let running = 0;
  let done = 0;
  let failed = false;
  return new Promise((resolve, reject) => {
    const launch = () => {
      while (!failed && running < inFlight && next < total) {
        const start = next;
        const end = Math.min(total, start + size);
        const index = chunks++;
        next = end;
        running++;
        lane.runChunk(name, cut(items, start, end, shared), options).then((result) => {
          running--;
          parts[index] = result.value;
          done += end - start;
          onChunk?.({ worker: result.worker, ms: result.ms, done, total });
          if (!measured) {
            measured = true;
            size = evenly(
              total - next,
              chunkSize(total - next, workers, result.ms / (end - start)),
            );
          }
          if (next >= total && running === 0) resolve(parts);
          else launch();
        }, (error) => {
          running--;
          if (!failed) reject(error);
          failed = true;
        });
      }
    };
    launch();
  });
}

/** A chunk size that splits `count` items into equal chunks of at most `size`. */
function evenly(count: number, size: number): number {
  if (count <= 0) return size;
  return Math.ceil(count / Math.ceil(count / size));
}

/**
 * One chunk of items. A typed array is copied into a buffer of its own that
 * moves to the worker: cloning a view would copy its whole underlying buffer.
 * A view on shared memory is passed as a view, sharing, not copying.
 */
function cut(items: Items, start: number, end: number, shared: boolean): CpuChunk {
  if (ArrayBuffer.isView(items)) {
    const view = items as unknown as Uint8Array;
    if (shared) return { items: view.subarray(start, end), start };
    const copy = view.slice(start, end);
    return { items: copy, start, transfer: [copy.buffer] };
  }
  return { items: items.slice(start, end), start };
}
