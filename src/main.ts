import { DetectionPlugin } from './plugin/plugin';

// Scrypted constructs an exported class itself.
export default DetectionPlugin;
