/**
 * Worker side of `preprocessDataset`: runs {@linkcode stageImage} for each message.
 * @module
 */
/// <reference lib="deno.worker" />
import sharp from "npm:sharp@0.35.5";
import { stageImage, type StageTask } from "./stage.ts";
import { errorMessage } from "../util/errors.ts";

// Each worker is one of several; libvips' own thread pool would only oversubscribe the cores.
sharp.concurrency(1);
sharp.cache(false);

self.onmessage = async (ev: MessageEvent<StageTask>) => {
  try {
    const meta = await stageImage(ev.data);
    self.postMessage({ key: ev.data.key, ok: true, meta });
  } catch (e) {
    self.postMessage({ key: ev.data.key, ok: false, error: errorMessage(e) });
  }
};
