/** vitest globalSetup: build dist/ once before the CLI tests spawn `node dist/cli/main.js`. */
import { buildCliIfStale } from './build.js';

export default function setup(): void {
  buildCliIfStale();
}
