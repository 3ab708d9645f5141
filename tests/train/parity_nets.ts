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
