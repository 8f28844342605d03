import assert from "node:assert/strict";
import { PermissionError } from "../mod.ts";

Deno.test("PermissionError quotes a flag for the shell when its value has a space or a quote", () => {
  const error = new PermissionError([
    { task: "a", permission: "read", value: ["/tmp/my dir"], flag: "--allow-read=/tmp/my dir" },
    { task: "b", permission: "read", value: ["it's"], flag: "--allow-read=it's" },
    { task: "c", permission: "net", value: ["example.com"], flag: "--allow-net=example.com" },
  ]);
  assert.equal(
    error.message,
    [
      `Cannot run task "a": it needs read access to "/tmp/my dir", run again with --allow-read='/tmp/my dir'`,
      `Cannot run task "b": it needs read access to "it's", run again with --allow-read='it'\\''s'`,
      `Cannot run task "c": it needs net access to "example.com", run again with --allow-net=example.com`,
      `Add these flags: --allow-read='/tmp/my dir' --allow-read='it'\\''s' --allow-net=example.com`,
    ].join("\n"),
  );
});

Deno.test("The flags PermissionError names grant the path when pasted into a shell", async () => {
  const path = await Deno.makeTempDir({ prefix: "spool test $dir " });
  try {
    await Deno.writeTextFile(`${path}/f.txt`, "read");
    const reader = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(reader, "Deno.readTextFileSync(Deno.args[0]);");
    const error = new PermissionError([
      { task: "a", permission: "read", value: [path], flag: `--allow-read=${path}` },
    ]);
    const flag = error.message.match(/run again with (.*)$/)![1];
    const script =
      `deno eval --no-prompt ${flag} 'Deno.readTextFileSync(Deno.args[0])' '${path}/f.txt'`;
    const output = await new Deno.Command("sh", { args: ["-c", script], stderr: "piped" }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    await Deno.remove(reader);
  } finally {
    await Deno.remove(path, { recursive: true });
  }
});
