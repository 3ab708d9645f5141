/**
 * The ONNX graph compiler's front end: a typed graph builder with static shape inference, training-mode
 * batch norm, serialisation to ModelProto, and onnxruntime session creation.
 * @module
 */
export { Graph, typedFrom } from "./graph.ts";
export { broadcastShapes, Ops, reducedShape, windowOut } from "./ops.ts";
export { batchNormTraining, type BatchNormTrainingResult } from "./batchnorm.ts";
export {
  dtypeFromOnnx,
  type LoweringPass,
  ONNX_DTYPE,
  OPSET_RANGE,
  type PassContext,
  type ProtoConst,
  type ProtoNode,
  type SerializeOptions,
} from "./serialize.ts";
export {
  blockedChannels,
  CONV_LIMITS,
  type ConvChoice,
  convForm,
  type ConvSignature,
  defaultDw,
  defaultDx,
  dwSwapped,
  dxForms,
  foldApplies,
  foldsForward,
  forwardForm,
  lowersBlocked,
  padWidthFirst,
  swapApplies,
} from "./conv_plan.ts";
export { cpuPasses } from "./nchwc.ts";
export { type Device, DEVICES, isDevice } from "./device.ts";
export {
  createDownloader,
  createSession,
  type Downloader,
  feedTensor,
  type OrtTensor,
  type OutputLocation,
  type Session,
  type SessionOptions,
} from "./session.ts";
export {
  describePlacement,
  type NodePlacement,
  nodePlacements,
  parsePlacements,
  type PlacementReport,
} from "./placement.ts";
export {
  ATTR_SCHEMA,
  type AttrKind,
  type DType,
  dtypeSize,
  fmtShape,
  type GraphView,
  type Node,
  type NodeMeta,
  type NodeSink,
  numel,
  type OpAttrs,
  type OpKind,
  type Origin,
  type PoolAttrs,
  type TensorAttr,
  type TensorData,
  type Value,
} from "./types.ts";
export { type OnnxModel, type OnnxNode, type OnnxTensor, readOnnx, readOnnxFile } from "./read.ts";
