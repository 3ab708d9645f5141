/**
 * Large float64 matrix products through onnxruntime-node's Gemm (MLAS, multi-threaded): the O(n·p²)
 * covariance products of SVCCA and CKA on thousands of neurons, where plain TypeScript is ~20× slower.
 * @module
 */
import * as ort from "npm:onnxruntime-node@1.30.0";
import onnxProto from "npm:onnx-proto@8.0.1";
import type { Matrix } from "./matrix.ts";

const { onnx } = onnxProto;
let session: Promise<ort.InferenceSession> | null = null;

function gemmSession(): Promise<ort.InferenceSession> {
  if (session) return session;
  const D = onnx.TensorProto.DataType.DOUBLE;
  const input = (name: string) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: { elemType: D, shape: { dim: [{ dimParam: `${name}0` }, { dimParam: `${name}1` }] } },
      },
    });
  const graph = onnx.GraphProto.create({
    name: "gemm_transb",
    node: [onnx.NodeProto.create({
      opType: "Gemm",
      input: ["A", "B"],
      output: ["C"],
      attribute: [
        onnx.AttributeProto.create({ name: "transB", i: 1, type: onnx.AttributeProto.AttributeType.INT }),
      ],
    })],
    input: [input("A"), input("B")],
    output: [onnx.ValueInfoProto.create({ name: "C", type: { tensorType: { elemType: D } } })],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }], graph });
  session = ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
  return session;
}

/**
 * `a · bᵀ` (or `a · aᵀ` with `b` omitted) computed by onnxruntime's float64 Gemm.
 *
 * @example
 * ```ts
 * import { onnxMatmulRowsT } from "./onnx.ts";
 * import { matrix } from "./matrix.ts";
 * const c = await onnxMatmulRowsT(matrix(1, 2, [1, 2]), matrix(1, 2, [3, 4]));
 * if (c.data[0] !== 11) throw new Error("wrong product");
 * ```
 */
export async function onnxMatmulRowsT(a: Matrix, b?: Matrix): Promise<Matrix> {
  const bb = b ?? a;
  if (a.cols !== bb.cols) {
    throw new RangeError(`Cannot multiply ${a.rows}×${a.cols} by (${bb.rows}×${bb.cols})ᵀ`);
  }
  const s = await gemmSession();
  const out = await s.run({
    A: new ort.Tensor("float64", a.data, [a.rows, a.cols]),
    B: new ort.Tensor("float64", bb.data, [bb.rows, bb.cols]),
  });
  return { rows: a.rows, cols: bb.rows, data: out.C.data as Float64Array };
}
