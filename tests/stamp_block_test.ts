/**
 * The stamp block a no-op record holds (`lib/cache/_stamp_block.ts`): it
 * holds while every path is what it was, and stops holding at any change a
 * stamp can see, whether libc's `statx` (this process may use FFI) or
 * `Deno.statSync` (a process that may not) checks it.
 */

import assert from "node:assert/strict";
import { type TempDir, tempDir } from "./_helpers.ts";
import { encodeStampBlock, stampBlockHolds, type StampEntry } from "../lib/cache/_stamp_block.ts";
import { denoStamp } from "../lib/cache/_stat_stamp.ts";

const BLOCK = new URL("../lib/cache/_stamp_block.ts", import.meta.url).href;

/** The stamps of a folder, files in it and outside it, a non-ASCII name and a path that is missing, as now. */
async function tree(dir: TempDir): Promise<StampEntry[]> {
  await Deno.mkdir(`${dir.path}/src`);
  await dir.write("src/a.txt", "alpha");
  await dir.write("src/\u00e9t\u00e9 \u{1f31e}.txt", "summer");
  await dir.write("top.txt", "top");
  // Sparse, past 4 GiB: a size's high word.
  await Deno.truncate(await dir.write("src/big.bin", ""), 2 ** 32 + 5);
  return [
    "src",
    "src/a.txt",
    "src/\u00e9t\u00e9 \u{1f31e}.txt",
    "missing.txt",
    "top.txt",
    "src/big.bin",
  ].map(
    (name) => {
      const folder = `${dir.path}/`;
      const stamp = denoStamp(folder + name);
      if (stamp === undefined) return { folder, name, kind: "gone", size: 0, mtime: 0, ino: 0 };
      const { size, mtime, ino } = stamp;
      return { folder, name, kind: stamp.kind === "dir" ? "dir" : "file", size, mtime, ino };
    },
  );
}

/** Whether a block holds in a process that may read the folder and nothing else: no FFI. */
async function holdsWithoutFfi(dir: TempDir, block: Uint8Array): Promise<boolean> {
  await Deno.writeFile(`${dir.path}/block.bin`, block);
  const code = `import { stampBlockHolds } from "${BLOCK}";
console.log(stampBlockHolds(Deno.readFileSync("${dir.path}/block.bin")));`;
  const { code: exit, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-prompt", `--allow-read=${dir.path}`, code],
    stdin: "null",
  }).output();
  assert.equal(exit, 0, new TextDecoder().decode(stderr));
  // The block file itself is not among the stamps; remove it for the next change.
  await Deno.remove(`${dir.path}/block.bin`);
  return new TextDecoder().decode(stdout).trim() === "true";
}

Deno.test("A stamp block holds until a path changes in any way a stamp sees, with and without FFI", async () => {
  const changes: [string, (dir: TempDir) => Promise<void>][] = [
    ["a file's size alone", async (dir) => {
      const { mtime } = await Deno.stat(`${dir.path}/src/a.txt`);
      await dir.write("src/a.txt", "alpha!");
      await Deno.utime(`${dir.path}/src/a.txt`, mtime!, mtime!);
    }],
    ["a file's mtime alone", async (dir) => {
      await Deno.utime(`${dir.path}/src/a.txt`, 1_000_000, 1_000_000);
    }],
    [
      "a file replaced by one of the same size and mtime, in a folder of the same mtime",
      async (dir) => {
        // Only the inode tells: both mtimes are set back.
        const file = (await Deno.stat(`${dir.path}/src/a.txt`)).mtime!;
        const folder = (await Deno.stat(`${dir.path}/src`)).mtime!;
        await dir.write("src/b.txt", "ALPHA");
        await Deno.rename(`${dir.path}/src/b.txt`, `${dir.path}/src/a.txt`);
        await Deno.utime(`${dir.path}/src/a.txt`, file, file);
        await Deno.utime(`${dir.path}/src`, folder, folder);
      },
    ],
    ["a file removed", (dir) => Deno.remove(`${dir.path}/src/\u00e9t\u00e9 \u{1f31e}.txt`)],
    [
      "a file added to a folder (its mtime)",
      (dir) => dir.write("src/b.txt", "beta").then(() => {}),
    ],
    [
      "a file renamed to a path that was missing, in a folder not listed",
      (dir) => Deno.rename(`${dir.path}/top.txt`, `${dir.path}/missing.txt`),
    ],
    ["a missing path created", (dir) => dir.write("missing.txt", "here").then(() => {})],
    ["a file made a folder", async (dir) => {
      await Deno.remove(`${dir.path}/src/a.txt`);
      await Deno.mkdir(`${dir.path}/src/a.txt`);
    }],
  ];
  for (const [what, change] of changes) {
    await using dir = await tempDir();
    const entries = await tree(dir);
    const block = encodeStampBlock(entries)!;
    assert.equal(stampBlockHolds(block), true, `before: ${what}`);
    assert.equal(await holdsWithoutFfi(dir, block), true, `before, without FFI: ${what}`);
    await change(dir);
    assert.equal(stampBlockHolds(block), false, what);
    assert.equal(await holdsWithoutFfi(dir, block), false, `without FFI: ${what}`);
  }
});

Deno.test("A stamp block refuses a path C would read as another, and a block cut short", async () => {
  await using dir = await tempDir();
  const entries = await tree(dir);
  assert.equal(
    encodeStampBlock([...entries, { ...entries[1], name: "a\0b" }]),
    undefined,
  );
  const block = encodeStampBlock(entries)!;
  assert.equal(stampBlockHolds(block), true);
  assert.equal(stampBlockHolds(block.subarray(0, block.length - 1)), false, "cut short");
  assert.equal(stampBlockHolds(block.subarray(0, 4)), false, "a header alone");
  const flipped = block.slice();
  flipped[0] ^= 0xff;
  assert.equal(stampBlockHolds(flipped), false, "another byte order, or not a block");
  // Unaligned in a larger buffer, as it sits in a record file after its JSON text.
  const inFile = new Uint8Array(block.length + 3);
  inFile.set(block, 3);
  assert.equal(stampBlockHolds(inFile.subarray(3)), true, "read from an odd offset");
});
