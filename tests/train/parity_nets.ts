// The two small nets of scripts/golden_train.py, written in the layer API (same state_dict names).
import type { Net } from "../../lib/models/nn.ts";

type V = { readonly shape: readonly number[] };

export function cbrNet<T extends V>(net: Net<T>, x: T): { logits: T } {
  x = net.maxPool2d(
    net.relu(net.batchNorm2d("bn1", net.conv2d("conv1", x, { out: 8, kernel: 3, padding: 1, bias: false }))),
    {
      kernel: 3,
      stride: 2,
    },
  );
  x = net.maxPool2d(
    net.relu(net.batchNorm2d("bn2", net.conv2d("conv2", x, { out: 16, kernel: 5, padding: 2, bias: false }))),
    {
      kernel: 3,
      stride: 2,
    },
  );
  return { logits: net.linear("fc", net.globalAvgPool(x), { out: 5 }) };
}

export function resNet<T extends V>(net: Net<T>, x: T): { logits: T } {
  x = net.conv2d("conv1", x, { out: 8, kernel: 7, stride: 2, padding: 3, bias: false });
  x = net.maxPool2d(net.relu(net.batchNorm2d("bn1", x)), { kernel: 3, stride: 2, padding: 1 });
  const idt = net.batchNorm2d(
    "b_down_bn",
    net.conv2d("b_down", x, { out: 16, kernel: 1, stride: 2, bias: false }),
  );
  let y = net.relu(net.batchNorm2d("b_bn1", net.conv2d("b_conv1", x, { out: 4, kernel: 1, bias: false })));
  y = net.relu(
    net.batchNorm2d(
      "b_bn2",
      net.conv2d("b_conv2", y, { out: 4, kernel: 3, stride: 2, padding: 1, bias: false }),
    ),
  );
  y = net.batchNorm2d("b_bn3", net.conv2d("b_conv3", y, { out: 16, kernel: 1, bias: false }));
  x = net.relu(net.add(y, idt));
  return { logits: net.linear("fc", net.globalAvgPool(x), { out: 5 }) };
}

/** torchvision's BasicConv2d: conv without bias, BN with eps 1e-3, ReLU. */
function basicConv<T extends V>(
  net: Net<T>,
  name: string,
  x: T,
  out: number,
  kernel: number,
  o: { stride?: number; padding?: number } = {},
): T {
  x = net.conv2d(`${name}.conv`, x, {
    out,
    kernel,
    stride: o.stride ?? 1,
    padding: o.padding ?? 0,
    bias: false,
  });
  return net.relu(net.batchNorm2d(`${name}.bn`, x, { eps: 1e-3 }));
}

/** scripts/golden_train_inception.py's miniature Inception-v3: a block, an aux head, dropout before fc. */
export function inceptionNet<T extends V>(net: Net<T>, x: T): { logits: T; aux: T } {
  x = basicConv(net, "stem", x, 8, 3, { stride: 2 });
  const bp = basicConv(net, "branch_pool", net.avgPool2d(x, { kernel: 3, stride: 1, padding: 1 }), 4, 1);
  x = net.concat([
    basicConv(net, "branch1x1", x, 4, 1),
    basicConv(net, "branch3x3", x, 4, 3, { padding: 1 }),
    bp,
  ], 1);
  const a = basicConv(net, "aux_conv", net.avgPool2d(x, { kernel: 5, stride: 3 }), 6, 1);
  const aux = net.linear("aux_fc", net.globalAvgPool(a), { out: 5 });
  return { logits: net.linear("fc", net.dropout(net.globalAvgPool(x), 0.5), { out: 5 }), aux };
}
