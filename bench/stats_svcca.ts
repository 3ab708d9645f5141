/**
 * Benchmark of lib/similarity and lib/stats against numpy/scikit-learn on the same machine, same run:
 * SVCCA between two 2048-neuron × 5000-datapoint activation sets, and AUC + DeLong on 100 000 scores.
 * Usage: deno run -A bench/stats_svcca.ts [--datapoints 5000] [--neurons 2048]
 * @module
 */
import { parseArgs } from "node:util";
import os from "node:os";
import { svcca } from "../lib/similarity/mod.ts";
import { delongTest, rocAuc } from "../lib/stats/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { datapoints: { type: "string", default: "5000" }, neurons: { type: "string", default: "2048" } },
});
const m = Number(values.datapoints), p = Number(values.neurons);
const dir = await Deno.makeTempDir();
const path = `${dir}/acts.f64`;
const py = (...args: string[]) =>
  new Deno.Command("/usr/bin/python3", { args: ["bench/stats_svcca.py", ...args], stdout: "piped" }).output();
await py("gen", path, String(m), String(p), "0");
const raw = new Float64Array((await Deno.readFile(path)).buffer);
const x = { data: raw.subarray(0, m * p), datapoints: m, neurons: p };
const y = { data: raw.subarray(m * p), datapoints: m, neurons: p };

let t = performance.now();
const r = await svcca(x, y);
const svccaS = (performance.now() - t) / 1000;

const out = await py("run", path, String(m), String(p));
const ref = JSON.parse(new TextDecoder().decode(out.stdout));
const aucRaw = new Float64Array((await Deno.readFile(path + ".auc")).buffer);
const n = aucRaw.length / 3;
const lab = aucRaw.subarray(0, n), a = aucRaw.subarray(n, 2 * n), b = aucRaw.subarray(2 * n);
t = performance.now();
const auc = rocAuc(lab, a);
const d = delongTest(lab, a, b);
const aucS = (performance.now() - t) / 1000;
await Deno.remove(dir, { recursive: true });

const lines = [
  `# lib/stats and lib/similarity benchmark`,
  ``,
  `Machine: ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length} cores, ${
    (os.totalmem() / 2 ** 30).toFixed(0)
  } GiB; ` +
  `Deno ${Deno.version.deno}; numpy/scipy/scikit-learn from /usr/bin/python3 (OpenBLAS), same run.`,
  ``,
  `| task | this package | numpy / scikit-learn | ratio |`,
  `|---|---|---|---|`,
  `| SVCCA ${p}+${p} neurons × ${m} datapoints (99 % variance; kept ${
    r.kept.join("+")
  }) vs google/svcca way (SVD + get_cca_similarity) | ${svccaS.toFixed(2)} s | ${
    ref.svcca_svd_s.toFixed(2)
  } s | ${(svccaS / ref.svcca_svd_s).toFixed(2)}× |`,
  `| same, vs numpy's fastest route (eigh of the covariance) | ${svccaS.toFixed(2)} s | ${
    ref.svcca_eigh_s.toFixed(2)
  } s | ${(svccaS / ref.svcca_eigh_s).toFixed(2)}× |`,
  `| ROC AUC + DeLong, ${n} scores | ${aucS.toFixed(3)} s | ${ref.auc_delong_s.toFixed(3)} s | ${
    (aucS / ref.auc_delong_s).toFixed(2)
  }× |`,
  ``,
  `Agreement: SVCCA mean ${r.mean.toFixed(10)} vs numpy ${ref.svcca_mean.toFixed(10)} (kept ${
    ref.kept.join("+")
  }); ` +
  `AUC ${auc} vs ${ref.auc}; DeLong z ${d.z.toFixed(10)} vs ${ref.z.toFixed(10)}.`,
];
console.log(lines.join("\n"));
if (!Deno.args.includes("--no-write")) {
  await Deno.writeTextFile("bench/results/stats.md", lines.join("\n") + "\n");
}
