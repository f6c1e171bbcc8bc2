import * as sf from '@schedulefree/onnx';

/** How the perf harnesses create an ONNX optimizer (every class has this static `create`). */
export type OnnxCtor = {
  create(
    ort: sf.OrtModuleInput,
    params: Record<string, Float32Array>,
    options: Record<string, unknown>,
  ): Promise<sf.OnnxScheduleFreeOptimizer<object>>;
};

/**
 * The ONNX classes the perf harnesses (Node and browser) can time, by name. A module of its own,
 * free of Node imports, so the browser page can bundle it.
 */
export const onnxClasses: Record<string, OnnxCtor> = {
  SGDScheduleFree: sf.SGDScheduleFree as unknown as OnnxCtor,
  SGDScheduleFreeReference: sf.SGDScheduleFreeReference as unknown as OnnxCtor,
  AdamWScheduleFree: sf.AdamWScheduleFree as unknown as OnnxCtor,
  AdamWScheduleFreeReference: sf.AdamWScheduleFreeReference as unknown as OnnxCtor,
  AdamWScheduleFreePaper: sf.AdamWScheduleFreePaper as unknown as OnnxCtor,
  RAdamScheduleFree: sf.RAdamScheduleFree as unknown as OnnxCtor,
};
