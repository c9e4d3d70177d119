import type { Image, MediaManager, MediaObject } from '@scrypted/sdk';
import { ScryptedMimeTypes } from '@scrypted/sdk';
import { placeImage } from '../models/geometry';
import { ImageInputError, type ImageSource } from '../models/preprocess';
import type { InputSpec } from '../models/spec';

const ENCODED_TYPES = ['image/jpeg', 'image/jpg', 'image/png', 'image/webp'];

function baseType(mimeType: string | undefined): string {
  return (mimeType ?? '').split(';')[0].trim().toLowerCase();
}

export function isScryptedImage(media: MediaObject): media is MediaObject & Image {
  const candidate = media as Partial<Image>;
  return typeof candidate.toBuffer === 'function' && typeof candidate.width === 'number' && typeof candidate.height === 'number';
}

/**
 * A Scrypted Image (a video frame, or a decoded snapshot) is asked for RGB at exactly the size
 * the model needs (aspect kept for letterbox models), so the host's decoder does the resize
 * and no pixels are copied twice.
 */
export async function imageToSource(image: Image, input: InputSpec): Promise<ImageSource> {
  const { width, height } = image;
  if (!(width > 0) || !(height > 0)) throw new ImageInputError(`frame has invalid size ${width}x${height}`);
  const placement = placeImage(width, height, input);
  const data = await image.toBuffer({ resize: { width: placement.width, height: placement.height }, format: 'rgb' });
  const expected = placement.width * placement.height * 3;
  if (!data?.length) throw new ImageInputError(`frame ${width}x${height} returned no pixels`);
  if (data.length !== expected) {
    throw new ImageInputError(
      `frame ${width}x${height} returned ${data.length} bytes for ${placement.width}x${placement.height} RGB (expected ${expected})`,
    );
  }
  return { kind: 'raw', data, width: placement.width, height: placement.height, channels: 3, originalSize: [width, height] };
}

/** Any media object the plugin is handed, as an image the pipeline can read. */
export async function mediaToSource(media: MediaObject, mediaManager: MediaManager, input: InputSpec): Promise<ImageSource> {
  if (!media) throw new ImageInputError('no media object was given');
  if (isScryptedImage(media)) return imageToSource(media, input);
  const mimeType = baseType(media.mimeType);
  if (ENCODED_TYPES.includes(mimeType)) {
    const data = await mediaManager.convertMediaObjectToBuffer(media, mimeType);
    return { kind: 'encoded', data, mimeType };
  }
  if (mimeType === ScryptedMimeTypes.Image) {
    throw new ImageInputError(`media object of type ${mimeType} has no usable toBuffer/width/height`);
  }
  // Anything else (video, a URL, an ffmpeg input): let the host convert it to JPEG if it can.
  let data: Buffer;
  try {
    data = await mediaManager.convertMediaObjectToBuffer(media, 'image/jpeg');
  } catch (e) {
    throw new ImageInputError(
      `unsupported media type "${media.mimeType}": send image/jpeg, image/png or a Scrypted Image (${(e as Error).message})`,
      { cause: e },
    );
  }
  return { kind: 'encoded', data, mimeType: 'image/jpeg' };
}
