import assert from "node:assert/strict";
import { type Activations, cca, linearCka, pwcca, svcca } from "../../lib/similarity/mod.ts";
import { readJson } from "../../lib/util/fs.ts";

// deno-lint-ignore no-explicit-any
const g: any = await readJson(
  new URL("../../fixtures/golden/similarity_cases.json", import.meta.url).pathname,
);

function acts(rows: number[][]): Activations {
  return { data: rows.flat(), datapoints: rows.length, neurons: rows[0].length };
}

// Float64 eigen/SVD of ~10-dimensional, well-conditioned covariances: measured max error against numpy
// 9.4e-15 (PWCCA weights; CCA 2.9e-15, SVCCA 2.2e-15, CKA 7.8e-16, debiased 2.6e-15). 1e-10 leaves room
// for another libm's rounding, yet a wrong centring, ε or weighting moves results by > 1e-4.
const TOL = 1e-10;

function closeArr(actual: ArrayLike<number>, expected: number[], tol: number, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

Deno.test("CCA equals google/svcca get_cca_similarity (numpy) within 1e-10", async () => {
  for (const [i, c] of g.cca.entries()) {
    const r = await cca(acts(c.x), acts(c.y), { epsilon: c.epsilon, backend: "ts" });
    assert.deepEqual(r.dims, c.dims, `cca case ${i} dims`);
    closeArr(r.coefficients, c.coefficients, TOL, `cca case ${i}`);
  }
});

Deno.test("SVCCA equals the numpy SVD + CCA reference within 1e-10", async () => {
  for (const [i, c] of g.svcca.entries()) {
    const r = await svcca(acts(c.x), acts(c.y), {
      varianceKept: c.varianceKept,
      epsilon: c.epsilon,
      backend: "ts",
    });
    assert.deepEqual(r.kept, c.kept, `svcca case ${i} kept`);
    closeArr(r.coefficients, c.coefficients, TOL, `svcca case ${i}`);
    assert.ok(Math.abs(r.mean - c.mean) <= TOL);
  }
});

Deno.test("PWCCA equals the numpy reference within 1e-10", async () => {
  for (const [i, c] of g.pwcca.entries()) {
    const r = await pwcca(acts(c.x), acts(c.y), { epsilon: c.epsilon, backend: "ts" });
    closeArr(r.coefficients, c.coefficients, TOL, `pwcca case ${i} coefficients`);
    closeArr(r.weights, c.weights, TOL, `pwcca case ${i} weights`);
    assert.ok(Math.abs(r.pwcca - c.pwcca) <= TOL, `pwcca case ${i}: ${r.pwcca} vs ${c.pwcca}`);
  }
});

Deno.test("linear CKA (plain and debiased) equals the Gram-matrix HSIC reference within 1e-10", async () => {
  for (const [i, c] of g.cka.entries()) {
    const x = acts(c.x), y = acts(c.y);
    assert.ok(Math.abs((await linearCka(x, y, { backend: "ts" })) - c.cka) <= TOL, `cka case ${i}`);
    const d = await linearCka(x, y, { debiased: true, backend: "ts" });
    assert.ok(Math.abs(d - c.debiased) <= TOL, `debiased cka case ${i}: ${d} vs ${c.debiased}`);
  }
});
