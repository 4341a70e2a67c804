/** vitest globalSetup: build dist/ once before the CLI tests spawn the bundled CLI (dist/bin/usbms.js). */
import { buildCliIfStale } from './build.js';

export default function setup(): void {
  buildCliIfStale();
}
