import assert from "node:assert/strict";

// mod.ts must load from a project that has none of our deno.json: no import map, no nodeModulesDir.
Deno.test("mod.ts imports by URL from a folder without our config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const modUrl = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import * as t from ${JSON.stringify(modUrl)};\n` +
        `const opt = new t.Adam({ lr: 0.1 });\n` +
        `const p = new Map([["w", new Float32Array([1])]]);\n` +
        `opt.step(p, new Map([["w", new Float32Array([2])]]));\n` +
        `console.log(JSON.stringify({ exports: Object.keys(t).length, w: p.get("w")![0] }));\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--no-lock",
        "--allow-read",
        "--allow-env",
        "--allow-ffi",
        "--allow-sys",
        "main.ts",
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const res = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    assert.ok(res.exports > 3);
    assert.ok(Math.abs(res.w - 0.9) < 1e-6);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
