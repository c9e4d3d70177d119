import path from 'node:path';

/** The shared data beside the repository (`../shared`), or $NVR_SHARED_DIR: one place for every test. */
export const REPO = path.resolve(__dirname, '..');
export const SHARED = process.env.NVR_SHARED_DIR ?? path.resolve(REPO, '../shared');
export const MODELS = path.join(SHARED, 'models');
export const MEDIA = path.join(SHARED, 'media');
export const COCO = path.join(SHARED, 'coco');
export const YOLOX = path.join(MODELS, 'yolox_nano.onnx');
export const YOLOV5 = path.join(MODELS, 'yolov5s.onnx');
export const VTEST = path.join(MEDIA, 'vtest.avi');
export const media = (name: string) => path.join(MEDIA, name);
