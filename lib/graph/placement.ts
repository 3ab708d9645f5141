/**
 * Which execution provider runs each node of a graph, as onnxruntime assigns them when it creates a session.
 * onnxruntime prints the assignment ("Node placements") only in its verbose log, on the process's stderr,
 * which a Deno program cannot capture from within: a child process creates the session and the parent parses
 * its log. Used to prove that a WebGPU training step has no node falling back to the CPU provider.
 * @module
 */
import { existsSync } from "node:fs";
import { fileURLToPath as fromFileUrl } from "node:url";
import type { Device } from "./device.ts";

/** One node and the provider onnxruntime assigned it. */
export interface NodePlacement {
  /** e.g. "WebGpuExecutionProvider", "CPUExecutionProvider" */
  provider: string;
  /** the ONNX op type (onnxruntime's own copy nodes: MemcpyFromHost, MemcpyToHost) */
  op: string;
  /** the node name (empty for nodes onnxruntime made, e.g. from an expanded function) */
  name: string;
}

/** The placement of a session's nodes. */
export interface PlacementReport {
  /** the device the session was made for */
  device: Device;
  /**
   * every node after onnxruntime's optimisations, with its provider; onnxruntime lists them only when more
   * than one provider has nodes (otherwise empty, and `counts` has the one provider's total)
   */
  nodes: NodePlacement[];
  /** provider → number of nodes */
  counts: Record<string, number>;
  /** nodes on the CPU provider although the device is not the CPU */
  fallbacks: NodePlacement[];
  /** how many nodes run on the CPU provider although the device is not the CPU (0 on "cpu") */
  cpuNodes: number;
  /** copies between host and device inside the graph (the inputs fed from the host need MemcpyFromHost) */
  copies: { fromHost: number; toHost: number };
}

const PROVIDER: Record<Device, string> = {
  cpu: "CPUExecutionProvider",
  webgpu: "WebGpuExecutionProvider",
  cuda: "CUDAExecutionProvider",
};

/**
 * Parses the "Node placements" block of onnxruntime's verbose log: a header per provider
 * (`Node(s) placed on [P]. Number of nodes: n`, each followed by one `OpType (name)` line per node) or, when
 * one provider has them all, only `All nodes placed on [P]. Number of nodes: n`. Throws when the log has
 * neither.
 */
export function parsePlacements(log: string): { nodes: NodePlacement[]; counts: Record<string, number> } {
  const nodes: NodePlacement[] = [];
  const counts: Record<string, number> = {};
  let provider: string | undefined, inBlock = false, seen = false;
  for (const line of log.split("\n")) {
    const at = line.indexOf("VerifyEachNodeIsAssignedToAnEp]");
    if (at < 0) {
      inBlock = false;
      continue;
    }
    const text = line.slice(at + "VerifyEachNodeIsAssignedToAnEp]".length);
    const head = /(?:Node\(s\)|All nodes) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(text);
    if (/Node placements/.test(text)) {
      inBlock = seen = true;
    } else if (head) {
      provider = head[1];
      counts[provider] = (counts[provider] ?? 0) + Number(head[2]);
      inBlock = seen = true;
    } else if (inBlock && provider) {
      const m = /^\s+(\S+) \((.*)\)\s*$/.exec(text);
      if (m) nodes.push({ provider, op: m[1], name: m[2] });
    }
  }
  if (!seen) throw new Error("onnxruntime's log has no node placements (is its verbose logging available?)");
  return { nodes, counts };
}

function packageConfig(): string | undefined {
  const url = new URL("../../deno.json", import.meta.url);
  if (url.protocol !== "file:") return undefined;
  const path = fromFileUrl(url);
  return existsSync(path) ? path : undefined;
}

/**
 * Creates a session for `model` on `device` in a child Deno process with onnxruntime's verbose log and
 * returns where each node went. Needs the permission to run `Deno.execPath()`; the child gets read, env,
 * FFI and sys access. `device` "webgpu" needs a GPU adapter, as any session there.
 *
 * @example
 * ```ts ignore
 * import { nodePlacements } from "./placement.ts";
 * const r = await nodePlacements(modelBytes, { device: "webgpu" });
 * if (r.fallbacks.length) throw new Error(`${r.fallbacks.length} nodes run on the CPU`);
 * ```
 */
export async function nodePlacements(
  model: Uint8Array,
  opts: { device: Device; timeoutMs?: number },
): Promise<PlacementReport> {
  const dir = await Deno.makeTempDir({ prefix: "placement-" });
  try {
    const path = `${dir}/model.onnx`;
    await Deno.writeFile(path, model);
    const config = packageConfig();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        // the modules are cached: this process loaded them (the GPU machines have no network)
        "--cached-only",
        ...(config ? ["--config", config] : []),
        "--allow-read",
        "--allow-env",
        "--allow-ffi",
        "--allow-sys",
        fromFileUrl(new URL("./placement_child.ts", import.meta.url)),
        path,
        opts.device,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, opts.timeoutMs ?? 300_000);
    const out = await child.output();
    clearTimeout(timer);
    const log = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    if (!out.success) {
      const err = log.split("\n").filter((l) => /error|Error/.test(l) && !/\[V:/.test(l)).at(-1) ??
        "no message";
      throw new Error(`Placement check on ${opts.device}: the session could not be created (${err.trim()})`);
    }
    const { nodes, counts } = parsePlacements(log);
    return {
      device: opts.device,
      nodes,
      counts,
      fallbacks: opts.device === "cpu" ? [] : nodes.filter((n) => n.provider === PROVIDER.cpu),
      cpuNodes: opts.device === "cpu" ? 0 : counts[PROVIDER.cpu] ?? 0,
      copies: {
        fromHost: nodes.filter((n) => n.op === "MemcpyFromHost").length,
        toHost: nodes.filter((n) => n.op === "MemcpyToHost").length,
      },
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One line summing up a report: node counts per provider, and the fallbacks by op if there are any. */
export function describePlacement(r: PlacementReport): string {
  const counts = Object.entries(r.counts).map(([p, n]) => `${p.replace("ExecutionProvider", "")} ${n}`).join(
    ", ",
  );
  const ops = new Map<string, number>();
  for (const n of r.fallbacks) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
  const fb = r.device === "cpu"
    ? ""
    : r.cpuNodes
    ? `; ${r.cpuNodes} on the CPU provider${ops.size ? ": " : ""}${
      [...ops].map(([o, n]) => `${o}×${n}`).join(", ")
    }`
    : "; no CPU fallback";
  return `${counts}${fb} (copies from host ${r.copies.fromHost}, to host ${r.copies.toHost})`;
}
