// One writer per study folder (issue 11, item 1): two data steps on one --out used to interleave their
// shards (the second process's manifest pointed 164 of 200 photos at other photos' pixels, both exiting 0);
// now the second refuses with one line naming the first. Plus the lock's own rules: stale locks of dead
// processes, copied folders and stopped foreign heartbeats are taken over; live ones are not, whatever path
// reaches the folder and whether or not the holder is running right now (issue 23, item 3).
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  acquireLock,
  FolderLockedError,
  FOREIGN_STALE_MS,
  HEARTBEAT_MS,
  LOCK_NAME,
  type LockInfo,
} from "../../lib/util/lock.ts";
import { exists } from "../../lib/util/fs.ts";
import { dataStep } from "../../lib/study/pipeline.ts";
import { resolveConfig } from "../../lib/study/config.ts";
import { openCache } from "../../lib/data/cache.ts";
import { hostname } from "node:os";

const DATA_TASK = new URL("../../tasks/data.ts", import.meta.url).pathname;
const PERMS = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-sys"];

async function deadPid(): Promise<number> {
  const p = new Deno.Command(Deno.execPath(), { args: ["eval", ""], stdout: "null", stderr: "null" }).spawn();
  await p.status;
  return p.pid;
}

async function writeLock(folder: string, info: LockInfo, ageMs = 0): Promise<void> {
  await Deno.mkdir(folder, { recursive: true });
  const path = join(folder, LOCK_NAME);
  await Deno.writeTextFile(path, JSON.stringify(info) + "\n");
  const t = new Date(Date.now() - ageMs);
  await Deno.utime(path, t, t);
}

Deno.test("lock: a second writer is refused with the holder's PID, host and start time", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await acquireLock(dir);
    const err = await acquireLock(dir).then(() => null, (e) => e);
    assert.ok(err instanceof FolderLockedError);
    assert.equal(
      err.message,
      `${dir} is being written by PID ${Deno.pid} on ${hostname()} since ${a.info.since}`,
    );
    await a.release();
    assert.ok(!(await exists(join(dir, LOCK_NAME))), "release left the lock file");
    const b = await acquireLock(dir);
    await b.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lock: stale locks are taken over with one line saying why; live foreign ones are not", async () => {
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const since = "2026-01-01T00:00:00.000Z";
  try {
    // same host, process gone (a SIGKILL, a crash)
    const pid = await deadPid();
    await writeLock(dir, { host: hostname(), pid, since, folder: dir });
    await (await acquireLock(dir, { log })).release();
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      new RegExp(`taking over the lock of PID ${pid} .*: PID ${pid} is no longer running`),
    );

    // copied along with its folder (cp -a of a study folder being written): another folder's inode
    await writeLock(dir, { host: hostname(), pid: Deno.pid, since, folder: "/elsewhere/B", dev: 1, ino: 1 });
    await (await acquireLock(dir, { log })).release();
    assert.match(lines[1], /it was copied from \/elsewhere\/B/);

    // another host: live while its heartbeat runs, abandoned once it has stopped
    await writeLock(dir, { host: "node-7", pid: 1234, since, folder: dir }, FOREIGN_STALE_MS / 2);
    await assert.rejects(
      acquireLock(dir, { log }),
      /is being written by PID 1234 on node-7 since 2026-01-01/,
    );
    await writeLock(dir, { host: "node-7", pid: 1234, since, folder: dir }, FOREIGN_STALE_MS + 60_000);
    await (await acquireLock(dir, { log })).release();
    assert.match(lines[2], /PID 1234 on node-7 .*: its heartbeat stopped 120 s ago/);

    // cut short while being written
    await Deno.writeTextFile(join(dir, LOCK_NAME), '{"host":"vm","pi');
    await (await acquireLock(dir, { log })).release();
    assert.match(lines[3], /damaged lock file/);
    assert.equal(lines.length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lock: two data steps on one --out: the second refuses, the cache's pixels stay right", async () => {
  const root = await Deno.makeTempDir();
  try {
    const flags = (out: string) => [
      "--data",
      "synthetic:200",
      "--size",
      "32",
      "--epochs",
      "1",
      "--source",
      "none",
      "--baselines",
      "none",
      "--out",
      out,
    ];
    const out = join(root, "D");
    const spawn = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", ...PERMS, DATA_TASK, ...flags(out)],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    // the second starts once the first holds the photos' folder (it is then synthesising or caching)
    const first = spawn();
    const lock = join(out, "data", "fundus", LOCK_NAME);
    const t0 = Date.now();
    while (!(await exists(lock)) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 10));
    const second = spawn();
    const [a, b] = await Promise.all([first.output(), second.output()]);
    const err = (o: Deno.CommandOutput) => new TextDecoder().decode(o.stderr).trim();
    assert.equal(a.code, 0, err(a));
    assert.equal(b.code, 1, `the second writer was not refused: ${err(b)}`);
    assert.match(
      err(b).split("\n").at(-1)!,
      new RegExp(`^data: ${out}/\\S+ is being written by PID ${first.pid} on \\S+ since \\d{4}-`),
    );

    // every manifest entry shows its own photo: the same as a cache built alone
    await dataStep(resolveConfig(flags(join(root, "ref"))), () => {});
    const ref = await openCache(join(root, "ref", "cache", "fundus-32"));
    const got = await openCache(join(out, "cache", "fundus-32"));
    const byId = new Map(ref.ids.map((id, i) => [id, i]));
    let wrong = 0;
    for (let i = 0; i < got.count; i++) {
      const x = ref.image(byId.get(got.ids[i])!), y = got.image(i);
      if (x.some((v, k) => v !== y[k]) || ref.labels[byId.get(got.ids[i])!] !== got.labels[i]) wrong++;
    }
    ref.close();
    got.close();
    assert.equal(got.count, 200);
    assert.equal(wrong, 0, `${wrong} of 200 manifest entries point at another photo's pixels`);
    // nothing is left locked
    for (const d of ["data/fundus", "cache/fundus-32"]) assert.ok(!(await exists(join(out, d, LOCK_NAME))));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lock: the same folder through a link is the same lock", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(root, "out"));
    await Deno.symlink(join(root, "out"), join(root, "link"));
    const a = await acquireLock(join(root, "out"));
    const lines: string[] = [];
    await assert.rejects(
      acquireLock(join(root, "link"), { log: (l) => lines.push(l) }),
      (e: Error) => e instanceof FolderLockedError && e.holder.pid === Deno.pid,
    );
    assert.deepEqual(lines, [], "nothing was taken over");
    await a.release();
    await (await acquireLock(join(root, "link"))).release();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lock: a lock file deleted by hand and taken by another writer stays that writer's", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await acquireLock(dir);
    await Deno.remove(join(dir, LOCK_NAME));
    const b = await acquireLock(dir);
    await a.release();
    assert.ok(await exists(join(dir, LOCK_NAME)), "the first holder's release removed the second's lock");
    await assert.rejects(acquireLock(dir), FolderLockedError);
    await b.release();
    assert.ok(!(await exists(join(dir, LOCK_NAME))));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lock: a holder stopped with SIGSTOP still holds its folder (checked without --allow-run)", async () => {
  const dir = await Deno.makeTempDir();
  const mod = new URL("../../lib/util/lock.ts", import.meta.url).href;
  // the holder takes the lock, says so, and waits to be told to let go
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { acquireLock } from "${mod}"; const l = await acquireLock(${JSON.stringify(dir)}); ` +
      `console.log("locked"); for await (const _ of Deno.stdin.readable) break; await l.release();`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = holder.stdout.getReader();
  try {
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /locked/);
    Deno.kill(holder.pid, "SIGSTOP");
    // longer than any heartbeat timeout this host uses
    await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS + 4_000));
    // as a study step runs: no --allow-run, so it cannot ask the OS whether the holder's PID lives
    const script = join(await Deno.makeTempDir(), "other.ts");
    await Deno.writeTextFile(
      script,
      `import { acquireLock } from "${mod}"; try { await acquireLock(${JSON.stringify(dir)}); ` +
        `console.log("taken"); } catch (e) { console.log(e.message); } Deno.exit(0);`,
    );
    const other = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", "--allow-write", "--allow-env", "--allow-sys", script],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(other.stdout).trim();
    assert.match(said, new RegExp(`is being written by PID ${holder.pid} on `), said);
  } finally {
    Deno.kill(holder.pid, "SIGCONT");
    const w = holder.stdin.getWriter();
    await w.write(new TextEncoder().encode("go\n"));
    await w.close();
    reader.releaseLock();
    await holder.stdout.cancel();
    await holder.status;
    await Deno.remove(dir, { recursive: true });
  }
});
