// vendor/: every file is listed in manifest.json with its sha256 and licence text, and loading a changed
// copy stops with one line naming the file.
import assert from "node:assert/strict";
import { join } from "node:path";
import { readJson } from "../../lib/util/fs.ts";
import { type VendoredEntry, verifyVendored } from "../../lib/util/vendored.ts";

const VENDOR = new URL("../../vendor/", import.meta.url).pathname;

Deno.test("vendor: each asset matches its manifest entry and has its licence text", async () => {
  const manifest = await readJson<Record<string, VendoredEntry>>(join(VENDOR, "manifest.json"));
  assert.deepEqual(Object.keys(manifest).sort(), ["retinamnist.npz", "squeezenet1_1-imagenet.safetensors"]);
  for (const [file, e] of Object.entries(manifest)) {
    assert.deepEqual(await verifyVendored(join(VENDOR, file)), e);
    assert.equal((await Deno.stat(join(VENDOR, file))).size, e.bytes);
  }
  assert.match(await Deno.readTextFile(join(VENDOR, "LICENSE-retinamnist.txt")), /CC BY 4\.0/);
  assert.match(await Deno.readTextFile(join(VENDOR, "LICENSE-squeezenet.txt")), /BSD LICENSE/);
});

Deno.test("vendor: a changed file is refused in one line; an unlisted file is not checked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(join(VENDOR, "manifest.json"), join(dir, "manifest.json"));
    await Deno.writeTextFile(join(dir, "retinamnist.npz"), "not the dataset");
    await assert.rejects(() => verifyVendored(join(dir, "retinamnist.npz"), dir), (e: Error) => {
      assert.match(e.message, /retinamnist\.npz: sha256 [0-9a-f]{64} does not match 254915f5/);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
    await Deno.writeTextFile(join(dir, "mine.npz"), "x");
    assert.equal(await verifyVendored(join(dir, "mine.npz"), dir), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vendor: a file outside vendor/ is not checked, and nothing beside it is read", async () => {
  // the user's own folder may hold a manifest.json of another kind (or none readable): it is none of ours
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "manifest.json"), "not json at all");
    await Deno.writeTextFile(join(dir, "retinamnist.npz"), "the user's own file");
    assert.equal(await verifyVendored(join(dir, "retinamnist.npz")), null);
    // a link into vendor/ is the vendored file
    await Deno.symlink(join(VENDOR, "retinamnist.npz"), join(dir, "linked.npz"));
    assert.ok(await verifyVendored(join(dir, "linked.npz")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
