/**
 * Ops without a gradient rule: they appear in backward graphs or carry no float gradient. Reaching one on a
 * path from a requested variable to the loss is an error that names the op and node.
 * @module
 */
import type { OpKind } from "../../graph/types.ts";
import { type GradRule, unsupported } from "../rule.ts";

/** A rule that fails with `reason` if a gradient is ever needed through the op. */
export function noGradient<K extends OpKind>(reason: string): GradRule<K> {
  const rule: GradRule<K> = ({ node }) => {
    throw unsupported(node, `no gradient rule (${reason})`);
  };
  marked.add(rule);
  return rule;
}

const marked = new WeakSet<object>();

/** Whether `rule` was made by {@linkcode noGradient}. */
export function isNoGradient(rule: object): boolean {
  return marked.has(rule);
}
